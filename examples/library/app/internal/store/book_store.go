package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Book is one book record. Optional fields are nil when unset.
type Book struct {
	ID            int64   `json:"id"`
	Title         *string `json:"title"`
	PublishedYear *int64  `json:"published_year"`
	Isbn          *string `json:"isbn"`
	Price         *string `json:"price"` // exact decimal, as text
	Available     *bool   `json:"available"`
	AuthorID      int64   `json:"author_id"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
}

const bookColumns = `"id", "title", "published_year", "isbn", "price", "available", "author_id", "created_at", "updated_at"`

func scanBook(row scanner) (*Book, error) {
	var v Book
	err := row.Scan(&v.ID, &v.Title, &v.PublishedYear, &v.Isbn, &v.Price, &v.Available, &v.AuthorID, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// checkBook finds the problems SQL constraints would report less
// clearly: references to missing records and unique values already taken.
func checkBook(ctx context.Context, tx *sql.Tx, v *Book, id int64) error {
	fields := map[string]string{}
	if ok, err := exists(ctx, tx, "authors", v.AuthorID); err != nil {
		return err
	} else if !ok {
		fields["author_id"] = fmt.Sprintf("refers to no author with id %d", v.AuthorID)
	}
	if len(fields) > 0 {
		return &Error{Kind: ErrInvalid, Message: "invalid book", Fields: fields}
	}
	if v.Isbn != nil {
		if ok, err := taken(ctx, tx, "books", "isbn", *v.Isbn, id); err != nil {
			return err
		} else if ok {
			fields["isbn"] = "is already taken"
		}
	}
	if len(fields) > 0 {
		return &Error{Kind: ErrConflict, Message: "another book has the same value", Fields: fields}
	}
	return nil
}

// CreateBook stores a new book from v (its ID and times are
// ignored) and returns it as stored. It fails with ErrInvalid when a
// reference points nowhere and ErrConflict when a unique value is taken.
func (db *DB) CreateBook(ctx context.Context, v *Book) (*Book, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create book: %w", err)
	}
	defer tx.Rollback()
	if err := checkBook(ctx, tx, v, 0); err != nil {
		return nil, err
	}
	now := db.now().UTC().Format(timeFormat)
	out, err := scanBook(tx.QueryRowContext(ctx,
		`INSERT INTO "books" ("title", "published_year", "isbn", "price", "available", "author_id", "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+bookColumns,
		v.Title, v.PublishedYear, v.Isbn, v.Price, v.Available, v.AuthorID, now, now))
	if err != nil {
		return nil, fmt.Errorf("create book: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create book: %w", constraintError(err))
	}
	return out, nil
}

// GetBook returns the book with the id, or ErrNotFound.
func (db *DB) GetBook(ctx context.Context, id int64) (*Book, error) {
	v, err := scanBook(db.db.QueryRowContext(ctx, `SELECT `+bookColumns+` FROM "books" WHERE "id" = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no book with id %d", id)}
	} else if err != nil {
		return nil, fmt.Errorf("get book: %w", err)
	}
	return v, nil
}

// ListBooks returns one page of books in id order and how many
// there are in all. Filter accepts author_id.
func (db *DB) ListBooks(ctx context.Context, opts ListOptions) ([]*Book, int, error) {
	cond, args, err := where(opts, nil, "author_id")
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "books"`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count books: %w", err)
	}
	limit, offset := page(opts)
	rows, err := db.db.QueryContext(ctx, `SELECT `+bookColumns+` FROM "books"`+cond+` ORDER BY "id" LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list books: %w", err)
	}
	defer rows.Close()
	out := []*Book{}
	for rows.Next() {
		v, err := scanBook(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list books: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list books: %w", err)
	}
	return out, total, nil
}

// UpdateBook replaces every field of the book with the id by
// those of v and returns it as stored. It fails with ErrNotFound,
// ErrInvalid or ErrConflict like CreateBook.
func (db *DB) UpdateBook(ctx context.Context, id int64, v *Book) (*Book, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("update book: %w", err)
	}
	defer tx.Rollback()
	if ok, err := exists(ctx, tx, "books", id); err != nil {
		return nil, err
	} else if !ok {
		return nil, &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no book with id %d", id)}
	}
	if err := checkBook(ctx, tx, v, id); err != nil {
		return nil, err
	}
	out, err := scanBook(tx.QueryRowContext(ctx,
		`UPDATE "books" SET "title" = ?, "published_year" = ?, "isbn" = ?, "price" = ?, "available" = ?, "author_id" = ?, "updated_at" = ? WHERE "id" = ? RETURNING `+bookColumns,
		v.Title, v.PublishedYear, v.Isbn, v.Price, v.Available, v.AuthorID, db.now().UTC().Format(timeFormat), id))
	if err != nil {
		return nil, fmt.Errorf("update book: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update book: %w", constraintError(err))
	}
	return out, nil
}

// DeleteBook deletes the book with the id. It fails with
// ErrNotFound, or with ErrConflict while records that require it refer to it.
func (db *DB) DeleteBook(ctx context.Context, id int64) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete book: %w", err)
	}
	defer tx.Rollback()
	if ok, err := exists(ctx, tx, "books", id); err != nil {
		return err
	} else if !ok {
		return &Error{Kind: ErrNotFound, Message: fmt.Sprintf("no book with id %d", id)}
	}
	if n, err := count(ctx, tx, "loans", "book_id", id); err != nil {
		return err
	} else if n > 0 {
		return &Error{Kind: ErrConflict, Message: fmt.Sprintf("book %d is still referred to by %d loans; delete or move them first", id, n)}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM "books" WHERE "id" = ?`, id); err != nil {
		return fmt.Errorf("delete book: %w", constraintError(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete book: %w", err)
	}
	return nil
}
