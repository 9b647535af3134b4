// Package blob stores build artifacts by key: a local folder by default,
// with the Store interface shaped so an S3-compatible implementation can
// sit behind it. Every read can verify the content's SHA-256.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/kiln-build/kiln"
)

// Store keeps blobs by key. Keys are relative slash-separated paths of
// [a-zA-Z0-9._-] segments that do not start with a dot (ValidKey).
type Store interface {
	// Put stores r's content under key, replacing any blob there. Readers
	// see either the old or the whole new content, never a part. It
	// returns the size and the hex SHA-256 of what it stored. EInvalid for
	// a bad key.
	Put(ctx context.Context, key string, r io.Reader) (size int64, sha256hex string, err error)

	// Open returns the blob's content. When wantSHA256 is not "", the
	// reader returns ErrChecksum instead of io.EOF if the content's hash
	// differs, so a corrupted blob never reads as complete. ENotFound when
	// there is no blob; EInvalid for a bad key.
	Open(ctx context.Context, key string, wantSHA256 string) (io.ReadCloser, error)

	// Stat returns the blob's size without reading it (a file stat, an
	// S3 HEAD), so a caller can check cheaply that a blob is still there.
	// ENotFound when there is no blob; EInvalid for a bad key.
	Stat(ctx context.Context, key string) (size int64, err error)

	// Delete removes the blob. Deleting a missing blob is not an error.
	Delete(ctx context.Context, key string) error
}

// ErrChecksum is returned at the end of a read whose content does not
// match the expected SHA-256.
var ErrChecksum = errors.New("blob: sha256 mismatch")

// MaxKeyLen bounds a key's length.
const MaxKeyLen = 1024

// ValidKey returns an EInvalid error unless key is a relative path of
// segments made of [a-zA-Z0-9._-], none empty or starting with a dot (so
// no "..", no hidden files), at most MaxKeyLen bytes.
func ValidKey(key string) error {
	bad := func(why string) error {
		return kiln.Errorf(kiln.EInvalid, "blob key %q: %s", truncate(key, 80), why)
	}
	if key == "" {
		return bad("empty")
	}
	if len(key) > MaxKeyLen {
		return bad(fmt.Sprintf("longer than %d bytes", MaxKeyLen))
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" {
			return bad("empty path segment (leading, trailing or double slash)")
		}
		if seg[0] == '.' {
			return bad("segment starts with a dot")
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
			if !ok {
				return bad(fmt.Sprintf("character %q not allowed (only a-z A-Z 0-9 . _ - and /)", c))
			}
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// NewVerifyingReader wraps rc so that reaching its end returns ErrChecksum
// when the SHA-256 of everything read differs from wantHex. Stores use it
// in Open; it is exported for implementations outside this package.
func NewVerifyingReader(rc io.ReadCloser, wantHex string) io.ReadCloser {
	return &verifyingReader{rc: rc, h: sha256.New(), want: strings.ToLower(wantHex)}
}

type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want string
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			v.err = fmt.Errorf("%w: got %s, want %s", ErrChecksum, got, v.want)
			return n, v.err
		}
		v.err = io.EOF
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// ctxReader fails reads once ctx is done, so a long Put stops on cancel.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
