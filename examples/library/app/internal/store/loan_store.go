package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Loan is one loan record. Optional fields are nil when unset.
type Loan struct {
	ID        int64   `json:"id"`
	DueDate   *string `json:"due_date"` // YYYY-MM-DD
	Returned  *bool   `json:"returned"`
	BookID    int64   `json:"book_id"`
	MemberID  int64   `json:"member_id"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

const loanColumns = `"id", "due_date", "returned", "book_id", "member_id", "created_at", "updated_at"`

func scanLoan(row scanner) (*Loan, error) {
	var v Loan
	err := row.Scan(&v.ID, &v.DueDate, &v.Returned, &v.BookID, &v.MemberID, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// checkLoan finds the problems SQL constraints would report less
// clearly: references to missing records and unique values already taken.
func checkLoan(ctx context.Context, tx *sql.Tx, v *Loan, id int64) error {
	fields := map[string]string{}
	if ok, err := exists(ctx, tx, "books", v.BookID); err != nil {
		return err
	} else if !ok {
		fields["book_id"] = fmt.Sprintf("refers to no book with id %d", v.BookID)
	}
	if ok, err := exists(ctx, tx, "members", v.MemberID); err != nil {
		return err
	} else if !ok {
		fields["member_id"] = fmt.Sprintf("refers to no member with id %d", v.MemberID)
	}
	if len(fields) > 0 {
		return &Error{Kind: ErrInvalid, Message: "invalid loan", Fields: fields}
	}
	return nil
}

// CreateLoan stores a new loan from v (its ID and times are
// ignored) and returns it as stored. It fails with ErrInvalid when a
// reference points nowhere and ErrConflict when a unique value is taken.
func (db *DB) CreateLoan(ctx context.Context, v *Loan) (*Loan, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create loan: %w", err)
	}
	defer tx.Rollback()
	if err := checkLoan(ctx, tx, v, 0); err != nil {
		return nil, err
	}
	now := db.now().UTC().Format(timeFormat)
	out, err := scanLoan(tx.QueryRowContext(ctx,
		`INSERT INTO "loans" ("due_date", "returned", "book_id", "member_id", "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?) RETURNING `+loanColumns,
		v.DueDate, v.Returned, v.BookID, v.MemberID, now, now))
	if err != nil {
		return nil, fmt.Errorf("create loan: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create loan: %w", constraintError(err))
	}
	return out, nil
}

// GetLoan returns the loan with the id, or ErrNotFound.
func (db *DB) GetLoan(ctx context.Context, id int64) (*Loan, error) {
	v, err := scanLoan(db.db.QueryRowContext(ctx, `SELECT `+loanColumns+` FROM "loans" WHERE "id" = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no loan with id %d", id)}
	} else if err != nil {
		return nil, fmt.Errorf("get loan: %w", err)
	}
	return v, nil
}

// ListLoans returns one page of loans in id order and how many
// there are in all. Filter accepts book_id, member_id.
func (db *DB) ListLoans(ctx context.Context, opts ListOptions) ([]*Loan, int, error) {
	cond, args, err := where(opts, nil, "book_id", "member_id")
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "loans"`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count loans: %w", err)
	}
	limit, offset := page(opts)
	rows, err := db.db.QueryContext(ctx, `SELECT `+loanColumns+` FROM "loans"`+cond+` ORDER BY "id" LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list loans: %w", err)
	}
	defer rows.Close()
	out := []*Loan{}
	for rows.Next() {
		v, err := scanLoan(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list loans: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list loans: %w", err)
	}
	return out, total, nil
}

// UpdateLoan replaces every field of the loan with the id by
// those of v and returns it as stored. It fails with ErrNotFound,
// ErrInvalid or ErrConflict like CreateLoan.
func (db *DB) UpdateLoan(ctx context.Context, id int64, v *Loan) (*Loan, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("update loan: %w", err)
	}
	defer tx.Rollback()
	if ok, err := exists(ctx, tx, "loans", id); err != nil {
		return nil, err
	} else if !ok {
		return nil, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no loan with id %d", id)}
	}
	if err := checkLoan(ctx, tx, v, id); err != nil {
		return nil, err
	}
	out, err := scanLoan(tx.QueryRowContext(ctx,
		`UPDATE "loans" SET "due_date" = ?, "returned" = ?, "book_id" = ?, "member_id" = ?, "updated_at" = ? WHERE "id" = ? RETURNING `+loanColumns,
		v.DueDate, v.Returned, v.BookID, v.MemberID, db.now().UTC().Format(timeFormat), id))
	if err != nil {
		return nil, fmt.Errorf("update loan: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update loan: %w", constraintError(err))
	}
	return out, nil
}

// DeleteLoan deletes the loan with the id. It fails with
// ErrNotFound, or with ErrConflict while records that require it refer to it.
func (db *DB) DeleteLoan(ctx context.Context, id int64) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete loan: %w", err)
	}
	defer tx.Rollback()
	if ok, err := exists(ctx, tx, "loans", id); err != nil {
		return err
	} else if !ok {
		return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no loan with id %d", id)}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM "loans" WHERE "id" = ?`, id); err != nil {
		return fmt.Errorf("delete loan: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete loan: %w", err)
	}
	return nil
}
