package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Author is one author record. Optional fields are nil when unset.
type Author struct {
	ID        int64   `json:"id"`
	Name      *string `json:"name"`
	Email     *string `json:"email"`
	Bio       *string `json:"bio"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

const authorColumns = `"id", "name", "email", "bio", "created_at", "updated_at"`

func scanAuthor(row scanner) (*Author, error) {
	var v Author
	err := row.Scan(&v.ID, &v.Name, &v.Email, &v.Bio, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// checkAuthor finds the problems SQL constraints would report less
// clearly: references to missing records and unique values already taken.
func checkAuthor(ctx context.Context, tx *sql.Tx, v *Author, id int64) error {
	return nil
}

// CreateAuthor stores a new author from v (its ID and times are
// ignored) and returns it as stored. It fails with ErrInvalid when a
// reference points nowhere and ErrConflict when a unique value is taken.
func (db *DB) CreateAuthor(ctx context.Context, v *Author) (*Author, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create author: %w", err)
	}
	defer tx.Rollback()
	if err := checkAuthor(ctx, tx, v, 0); err != nil {
		return nil, err
	}
	now := db.now().UTC().Format(timeFormat)
	out, err := scanAuthor(tx.QueryRowContext(ctx,
		`INSERT INTO "authors" ("name", "email", "bio", "created_at", "updated_at") VALUES (?, ?, ?, ?, ?) RETURNING `+authorColumns,
		v.Name, v.Email, v.Bio, now, now))
	if err != nil {
		return nil, fmt.Errorf("create author: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create author: %w", constraintError(err))
	}
	return out, nil
}

// GetAuthor returns the author with the id, or ErrNotFound.
func (db *DB) GetAuthor(ctx context.Context, id int64) (*Author, error) {
	v, err := scanAuthor(db.db.QueryRowContext(ctx, `SELECT `+authorColumns+` FROM "authors" WHERE "id" = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no author with id %d", id)}
	} else if err != nil {
		return nil, fmt.Errorf("get author: %w", err)
	}
	return v, nil
}

// ListAuthors returns one page of authors in id order and how many
// there are in all.
func (db *DB) ListAuthors(ctx context.Context, opts ListOptions) ([]*Author, int, error) {
	cond, args, err := where(opts, nil)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "authors"`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count authors: %w", err)
	}
	limit, offset := page(opts)
	rows, err := db.db.QueryContext(ctx, `SELECT `+authorColumns+` FROM "authors"`+cond+` ORDER BY "id" LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list authors: %w", err)
	}
	defer rows.Close()
	out := []*Author{}
	for rows.Next() {
		v, err := scanAuthor(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list authors: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list authors: %w", err)
	}
	return out, total, nil
}

// UpdateAuthor replaces every field of the author with the id by
// those of v and returns it as stored. It fails with ErrNotFound,
// ErrInvalid or ErrConflict like CreateAuthor.
func (db *DB) UpdateAuthor(ctx context.Context, id int64, v *Author) (*Author, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("update author: %w", err)
	}
	defer tx.Rollback()
	if ok, err := exists(ctx, tx, "authors", id); err != nil {
		return nil, err
	} else if !ok {
		return nil, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no author with id %d", id)}
	}
	if err := checkAuthor(ctx, tx, v, id); err != nil {
		return nil, err
	}
	out, err := scanAuthor(tx.QueryRowContext(ctx,
		`UPDATE "authors" SET "name" = ?, "email" = ?, "bio" = ?, "updated_at" = ? WHERE "id" = ? RETURNING `+authorColumns,
		v.Name, v.Email, v.Bio, db.now().UTC().Format(timeFormat), id))
	if err != nil {
		return nil, fmt.Errorf("update author: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update author: %w", constraintError(err))
	}
	return out, nil
}

// DeleteAuthor deletes the author with the id. It fails with
// ErrNotFound, or with ErrConflict while records that require it refer to it.
func (db *DB) DeleteAuthor(ctx context.Context, id int64) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete author: %w", err)
	}
	defer tx.Rollback()
	if ok, err := exists(ctx, tx, "authors", id); err != nil {
		return err
	} else if !ok {
		return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no author with id %d", id)}
	}
	if n, err := count(ctx, tx, "books", "author_id", id); err != nil {
		return err
	} else if n > 0 {
		return &Error{Kind: ErrConflict, Message: fmt.Sprintf("author %d is still referred to by %d books; delete or move them first", id, n)}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM "authors" WHERE "id" = ?`, id); err != nil {
		return fmt.Errorf("delete author: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete author: %w", err)
	}
	return nil
}
