package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Member is one member record. Optional fields are nil when unset.
type Member struct {
	ID        int64   `json:"id"`
	Name      *string `json:"name"`
	Email     *string `json:"email"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

const memberColumns = `"id", "name", "email", "created_at", "updated_at"`

func scanMember(row scanner) (*Member, error) {
	var v Member
	err := row.Scan(&v.ID, &v.Name, &v.Email, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// checkMember finds the problems SQL constraints would report less
// clearly: references to missing records and unique values already taken.
func checkMember(ctx context.Context, tx *sql.Tx, v *Member, id int64) error {
	return nil
}

// CreateMember stores a new member from v (its ID and times are
// ignored) and returns it as stored. It fails with ErrInvalid when a
// reference points nowhere and ErrConflict when a unique value is taken.
func (db *DB) CreateMember(ctx context.Context, v *Member) (*Member, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create member: %w", err)
	}
	defer tx.Rollback()
	if err := checkMember(ctx, tx, v, 0); err != nil {
		return nil, err
	}
	now := db.now().UTC().Format(timeFormat)
	out, err := scanMember(tx.QueryRowContext(ctx,
		`INSERT INTO "members" ("name", "email", "created_at", "updated_at") VALUES (?, ?, ?, ?) RETURNING `+memberColumns,
		v.Name, v.Email, now, now))
	if err != nil {
		return nil, fmt.Errorf("create member: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create member: %w", constraintError(err))
	}
	return out, nil
}

// GetMember returns the member with the id, or ErrNotFound.
func (db *DB) GetMember(ctx context.Context, id int64) (*Member, error) {
	v, err := scanMember(db.db.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM "members" WHERE "id" = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no member with id %d", id)}
	} else if err != nil {
		return nil, fmt.Errorf("get member: %w", err)
	}
	return v, nil
}

// ListMembers returns one page of members in id order and how many
// there are in all.
func (db *DB) ListMembers(ctx context.Context, opts ListOptions) ([]*Member, int, error) {
	cond, args, err := where(opts, nil)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "members"`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count members: %w", err)
	}
	limit, offset := page(opts)
	rows, err := db.db.QueryContext(ctx, `SELECT `+memberColumns+` FROM "members"`+cond+` ORDER BY "id" LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	out := []*Member{}
	for rows.Next() {
		v, err := scanMember(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list members: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list members: %w", err)
	}
	return out, total, nil
}

// UpdateMember replaces every field of the member with the id by
// those of v and returns it as stored. It fails with ErrNotFound,
// ErrInvalid or ErrConflict like CreateMember.
func (db *DB) UpdateMember(ctx context.Context, id int64, v *Member) (*Member, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("update member: %w", err)
	}
	defer tx.Rollback()
	if ok, err := exists(ctx, tx, "members", id); err != nil {
		return nil, err
	} else if !ok {
		return nil, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no member with id %d", id)}
	}
	if err := checkMember(ctx, tx, v, id); err != nil {
		return nil, err
	}
	out, err := scanMember(tx.QueryRowContext(ctx,
		`UPDATE "members" SET "name" = ?, "email" = ?, "updated_at" = ? WHERE "id" = ? RETURNING `+memberColumns,
		v.Name, v.Email, db.now().UTC().Format(timeFormat), id))
	if err != nil {
		return nil, fmt.Errorf("update member: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update member: %w", constraintError(err))
	}
	return out, nil
}

// DeleteMember deletes the member with the id. It fails with
// ErrNotFound, or with ErrConflict while records that require it refer to it.
func (db *DB) DeleteMember(ctx context.Context, id int64) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	defer tx.Rollback()
	if ok, err := exists(ctx, tx, "members", id); err != nil {
		return err
	} else if !ok {
		return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no member with id %d", id)}
	}
	if n, err := count(ctx, tx, "loans", "member_id", id); err != nil {
		return err
	} else if n > 0 {
		return &Error{Kind: ErrConflict, Message: fmt.Sprintf("member %d is still referred to by %d loans; delete or move them first", id, n)}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM "members" WHERE "id" = ?`, id); err != nil {
		return fmt.Errorf("delete member: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete member: %w", err)
	}
	return nil
}
