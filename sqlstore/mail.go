package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	kiln "github.com/kiln-build/kiln"
)

// maxMailErrorLen bounds the last error kept with a message.
const maxMailErrorLen = 2000

// MailEnqueueFunc is called inside the transaction that writes a message
// to the outbox; the queue package sets it to insert the message's
// delivery job in the same transaction, so a message is never written
// without its job nor a job without its message.
type MailEnqueueFunc func(ctx context.Context, tx *sql.Tx, mailID int64) error

// BuildMailFunc renders the mail telling a user that their build ended.
// The store calls it inside the transaction that ends the build, for
// succeeded and failed builds of users who want the mail.
type BuildMailFunc func(to string, app *kiln.App, b *kiln.Build) (*kiln.Mail, error)

// SetMailEnqueue sets the function that inserts a message's delivery job
// inside the transaction writing it. Until it is set messages are written
// to the outbox and stay pending (tests read them there).
func (db *DB) SetMailEnqueue(fn MailEnqueueFunc) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.mailEnqueue = fn
}

// SetBuildMail sets the renderer of build-finished mails; until it is set
// no such mail is written.
func (db *DB) SetBuildMail(fn BuildMailFunc) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.buildMail = fn
}

// newMessageID returns a random id for a message: 16 bytes in hex.
func newMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// insertMail writes m to the outbox inside c's transaction and enqueues its
// delivery job there. It fills m.ID with the message's stable id.
func (db *DB) insertMail(ctx context.Context, c conn, userID int64, m *kiln.Mail) error {
	if m == nil {
		return errors.New("insert mail: nil message")
	}
	if strings.TrimSpace(m.To) == "" {
		return errors.New("insert mail: message has no recipient")
	}
	if m.ID == "" {
		m.ID = newMessageID()
	}
	var uid any
	if userID > 0 {
		uid = userID
	}
	now := db.ts(db.nowUTC())
	var id int64
	err := c.row(ctx, `INSERT INTO mail_outbox (message_id, kind, to_addr, subject, text_body, html_body, link, user_id,
		status, attempts, last_error, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, '', ?, ?) RETURNING id`,
		m.ID, m.Kind, m.To, m.Subject, m.Text, m.HTML, m.Link, uid, now, now).Scan(&id)
	if err != nil {
		return fmt.Errorf("insert mail: %w", err)
	}
	return db.enqueueMail(ctx, c.tx, id, false)
}

// enqueueMail inserts the delivery job of mail id inside tx. Without a
// queue attached (SetMailEnqueue) it does nothing, or fails when required.
func (db *DB) enqueueMail(ctx context.Context, tx *sql.Tx, id int64, required bool) error {
	db.mu.RLock()
	fn := db.mailEnqueue
	db.mu.RUnlock()
	if fn == nil {
		if required {
			return errors.New("no mail queue is attached to the store (SetMailEnqueue)")
		}
		return nil
	}
	if err := fn(ctx, tx, id); err != nil {
		return fmt.Errorf("enqueue mail %d: %w", id, err)
	}
	return nil
}

// buildFinishedMail writes the build-finished mail for b, inside the
// transaction that ended it, when a renderer is set, the build succeeded
// or failed and its owner wants the mail.
func (db *DB) buildFinishedMail(ctx context.Context, c conn, b *kiln.Build) error {
	if b.Status != kiln.BuildSucceeded && b.Status != kiln.BuildFailed {
		return nil
	}
	db.mu.RLock()
	render := db.buildMail
	db.mu.RUnlock()
	if render == nil {
		return nil
	}
	var email string
	var want bool
	err := c.row(ctx, "SELECT email, notify_build_finished FROM users WHERE id = ?", b.OwnerID).Scan(&email, boolScan{&want})
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !want) {
		return nil
	} else if err != nil {
		return fmt.Errorf("build mail: find owner: %w", err)
	}
	app, err := scanApp(c.row(ctx, "SELECT "+cols("", appColumns...)+" FROM apps WHERE id = ?", b.AppID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return fmt.Errorf("build mail: find app: %w", err)
	}
	m, err := render(email, app, b)
	if err != nil {
		return fmt.Errorf("build mail: %w", err)
	}
	return db.insertMail(ctx, c, b.OwnerID, m)
}

var mailColumns = []string{"id", "message_id", "kind", "to_addr", "subject", "status", "attempts", "last_error",
	"created_at", "updated_at", "sent_at"}

func scanMailMessage(r rowScanner) (*kiln.MailMessage, error) {
	m := new(kiln.MailMessage)
	err := r.Scan(&m.ID, &m.MessageID, &m.Kind, &m.To, &m.Subject, &m.Status, &m.Attempts, &m.LastError,
		timeScan{&m.CreatedAt}, timeScan{&m.UpdatedAt}, nullTimeScan{&m.SentAt})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// MailStore is the outbox: the admin MailService and what the delivery
// job needs.
type MailStore struct {
	db *DB
}

var _ kiln.MailService = (*MailStore)(nil)

// NewMailStore returns the outbox over db.
func NewMailStore(db *DB) *MailStore { return &MailStore{db: db} }

// FindMail lists messages newest first with the next cursor, optionally
// those with one status. EForbidden for anyone but an admin, EInvalid for
// an unknown status.
func (s *MailStore) FindMail(ctx context.Context, f kiln.MailFilter) ([]*kiln.MailMessage, string, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, "", err
	}
	if !u.IsAdmin() {
		return nil, "", kiln.Errorf(kiln.EForbidden, "only admins may list mail")
	}
	cond, args, limit, err := pageClause(f.Page, "id")
	if err != nil {
		return nil, "", err
	}
	if f.Status != nil {
		switch *f.Status {
		case kiln.MailPending, kiln.MailSent, kiln.MailFailed:
		default:
			return nil, "", kiln.FieldErrorf("status", "must be pending, sent or failed, not %q", *f.Status)
		}
		cond += " AND status = ?"
		args = append(args, string(*f.Status))
	}
	return s.list(ctx, cond, args, limit, f.Page)
}

func (s *MailStore) list(ctx context.Context, cond string, args []any, limit int, p kiln.Page) ([]*kiln.MailMessage, string, error) {
	rows, err := s.db.read().query(ctx, "SELECT "+cols("", mailColumns...)+" FROM mail_outbox WHERE "+cond+
		" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, "", fmt.Errorf("find mail: %w", err)
	}
	msgs, err := collect(rows, scanMailMessage)
	if err != nil {
		return nil, "", fmt.Errorf("find mail: %w", err)
	}
	msgs, next := trimPage(msgs, p, func(m *kiln.MailMessage) int64 { return m.ID })
	return msgs, next, nil
}

// RetryMail puts a failed message back to pending with no attempts and
// enqueues a new delivery job, in one transaction. EForbidden for
// non-admins, ENotFound for an unknown id, EConflict when the message is
// not failed.
func (s *MailStore) RetryMail(ctx context.Context, id int64) (*kiln.MailMessage, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if !u.IsAdmin() {
		return nil, kiln.Errorf(kiln.EForbidden, "only admins may retry mail")
	}
	db := s.db
	var m *kiln.MailMessage
	err = db.inTx(ctx, func(c conn) error {
		cur, err := scanMailMessage(c.row(ctx, "SELECT "+cols("", mailColumns...)+" FROM mail_outbox WHERE id = ?"+db.forUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return kiln.Errorf(kiln.ENotFound, "mail %d not found", id)
		} else if err != nil {
			return fmt.Errorf("retry mail: %w", err)
		}
		if cur.Status != kiln.MailFailed {
			return kiln.Errorf(kiln.EConflict, "mail %d is %s, only failed mail can be retried", id, cur.Status)
		}
		if m, err = scanMailMessage(c.row(ctx, "UPDATE mail_outbox SET status = 'pending', attempts = 0, updated_at = ? WHERE id = ? RETURNING "+cols("", mailColumns...),
			db.ts(db.nowUTC()), id)); err != nil {
			return fmt.Errorf("retry mail: %w", err)
		}
		if err := db.enqueueMail(ctx, c.tx, id, true); err != nil {
			return fmt.Errorf("retry mail: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// PendingMail returns the message to deliver with its bodies, and false
// when it is not pending (sent already, failed, or gone): the job then
// has nothing to do.
func (s *MailStore) PendingMail(ctx context.Context, id int64) (*kiln.Mail, bool, error) {
	m := new(kiln.Mail)
	var status string
	err := s.db.write().row(ctx, `SELECT message_id, kind, to_addr, subject, text_body, html_body, link, status
		FROM mail_outbox WHERE id = ?`, id).Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Link, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("find pending mail: %w", err)
	}
	if kiln.MailStatus(status) != kiln.MailPending {
		return nil, false, nil
	}
	return m, true, nil
}

// MarkMailSent records a delivered message and clears its bodies and link.
func (s *MailStore) MarkMailSent(ctx context.Context, id int64, attempts int) error {
	db := s.db
	now := db.ts(db.nowUTC())
	if _, err := db.write().exec(ctx, `UPDATE mail_outbox SET status = 'sent', attempts = ?, last_error = '',
		text_body = '', html_body = '', link = '', sent_at = ?, updated_at = ? WHERE id = ?`,
		attempts, now, now, id); err != nil {
		return fmt.Errorf("mark mail sent: %w", err)
	}
	return nil
}

// MarkMailAttempt records a failed attempt; with failed the message is
// given up on (status failed) until an admin retries it.
func (s *MailStore) MarkMailAttempt(ctx context.Context, id int64, attempts int, lastErr string, failed bool) error {
	db := s.db
	status := kiln.MailPending
	if failed {
		status = kiln.MailFailed
	}
	if _, err := db.write().exec(ctx, `UPDATE mail_outbox SET status = ?, attempts = ?, last_error = ?, updated_at = ?
		WHERE id = ? AND status = 'pending'`,
		string(status), attempts, cleanText(lastErr, maxMailErrorLen), db.ts(db.nowUTC()), id); err != nil {
		return fmt.Errorf("record mail attempt: %w", err)
	}
	return nil
}

// OutboxMail returns the messages to an address, newest first, with their
// bodies while they are unsent. It is for operators and tests that read
// links from mail never delivered (no queue attached); it needs no user in
// ctx.
func (s *MailStore) OutboxMail(ctx context.Context, to string) ([]*kiln.Mail, error) {
	rows, err := s.db.read().query(ctx, `SELECT message_id, kind, to_addr, subject, text_body, html_body, link
		FROM mail_outbox WHERE to_addr = ? ORDER BY id DESC LIMIT 100`, to)
	if err != nil {
		return nil, fmt.Errorf("outbox mail: %w", err)
	}
	return collect(rows, func(r rowScanner) (*kiln.Mail, error) {
		m := new(kiln.Mail)
		return m, r.Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Link)
	})
}
