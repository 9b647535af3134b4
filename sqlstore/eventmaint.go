package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// Stream tickets and log retention.

// StreamTicketPrefix starts every stream ticket, so one is recognizable in
// a URL or a log.
const StreamTicketPrefix = "kst_"

// Bounds of a stream ticket's lifetime.
const (
	MinStreamTicketTTL = time.Second
	MaxStreamTicketTTL = 10 * time.Minute
)

func hashTicket(ticket string) string {
	sum := sha256.Sum256([]byte(ticket))
	return hex.EncodeToString(sum[:])
}

// CreateStreamTicket makes a ticket for the user in ctx that opens one
// stream within ttl (clamped to [MinStreamTicketTTL, MaxStreamTicketTTL]).
// Only its hash is stored. EUnauthorized without a user.
func (s *BuildEventService) CreateStreamTicket(ctx context.Context, ttl time.Duration) (*kiln.StreamTicket, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	ttl = min(max(ttl, MinStreamTicketTTL), MaxStreamTicketTTL)
	raw := make([]byte, 24)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails
	t := &kiln.StreamTicket{Ticket: StreamTicketPrefix + base64.RawURLEncoding.EncodeToString(raw)}
	now := s.db.nowUTC()
	t.ExpiresAt = now.Add(ttl)
	if _, err := s.db.write().exec(ctx, "INSERT INTO stream_tickets (hash, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
		hashTicket(t.Ticket), u.ID, s.db.ts(t.ExpiresAt), s.db.ts(now)); err != nil {
		return nil, fmt.Errorf("create stream ticket: %w", err)
	}
	return t, nil
}

// RedeemStreamTicket consumes a ticket and returns its user. A ticket works
// once: redeeming deletes it. EUnauthorized when it is unknown, already
// used or expired.
func (s *BuildEventService) RedeemStreamTicket(ctx context.Context, ticket string) (*kiln.User, error) {
	if !strings.HasPrefix(ticket, StreamTicketPrefix) || len(ticket) > 100 {
		return nil, kiln.Errorf(kiln.EUnauthorized, "not a stream ticket")
	}
	db := s.db
	var userID int64
	var expires time.Time
	err := db.write().row(ctx, "DELETE FROM stream_tickets WHERE hash = ? RETURNING user_id, expires_at", hashTicket(ticket)).
		Scan(&userID, timeScan{&expires})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kiln.Errorf(kiln.EUnauthorized, "stream ticket is unknown or already used; ask for a new one")
	} else if err != nil {
		return nil, fmt.Errorf("redeem stream ticket: %w", err)
	}
	if !db.nowUTC().Before(expires) {
		return nil, kiln.Errorf(kiln.EUnauthorized, "stream ticket expired; ask for a new one")
	}
	u, err := scanUser(db.read().row(ctx, "SELECT "+cols("", userColumns...)+" FROM users WHERE id = ?", userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kiln.Errorf(kiln.EUnauthorized, "stream ticket is unknown or already used; ask for a new one")
	} else if err != nil {
		return nil, fmt.Errorf("redeem stream ticket: %w", err)
	}
	return u, nil
}

// DeleteExpiredStreamTickets removes tickets that expired before t.
func (s *BuildEventService) DeleteExpiredStreamTickets(ctx context.Context, t time.Time) error {
	if _, err := s.db.write().exec(ctx, "DELETE FROM stream_tickets WHERE expires_at < ?", s.db.ts(t)); err != nil {
		return fmt.Errorf("delete expired stream tickets: %w", err)
	}
	return nil
}

// PruneLogs removes the log lines of up to maxBuilds builds that finished
// before `before`, oldest first, one build per transaction; their other
// events (status, steps, artifacts, end) stay. It returns how many builds
// and lines it pruned; call it again while builds comes back as maxBuilds.
func (s *BuildEventService) PruneLogs(ctx context.Context, before time.Time, maxBuilds int) (builds int, lines int64, err error) {
	db := s.db
	rows, err := db.read().query(ctx, `SELECT id FROM builds WHERE logs_pruned_at IS NULL AND finished_at IS NOT NULL
		AND finished_at < ? ORDER BY finished_at LIMIT ?`, db.ts(before), max(maxBuilds, 1))
	if err != nil {
		return 0, 0, fmt.Errorf("prune logs: %w", err)
	}
	ids, err := collect(rows, func(r rowScanner) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("prune logs: %w", err)
	}
	for _, id := range ids {
		err := db.inTx(ctx, func(c conn) error {
			res, err := c.exec(ctx, "DELETE FROM build_events WHERE build_id = ? AND kind = 'log'", id)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			lines += n
			_, err = c.exec(ctx, "UPDATE builds SET logs_pruned_at = ? WHERE id = ?", db.ts(db.nowUTC()), id)
			return err
		})
		if err != nil {
			return builds, lines, fmt.Errorf("prune logs of build %d: %w", id, err)
		}
		builds++
	}
	return builds, lines, nil
}

// LogsPruned reports when the retention job removed a build's log lines
// (nil when it has not). It checks no user.
func (s *BuildEventService) LogsPruned(ctx context.Context, buildID int64) (*time.Time, error) {
	var t *time.Time
	err := s.db.read().row(ctx, "SELECT logs_pruned_at FROM builds WHERE id = ?", buildID).Scan(nullTimeScan{&t})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBuildNotFound(buildID)
	} else if err != nil {
		return nil, fmt.Errorf("logs pruned: %w", err)
	}
	return t, nil
}
