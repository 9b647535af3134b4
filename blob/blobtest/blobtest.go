// Package blobtest is the conformance suite every blob.Store
// implementation runs, so the local folder and an S3 store behave alike.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/blob"
)

// Run runs the suite against stores that newStore returns, one per subtest.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t)
		big := bytes.Repeat([]byte("kiln artifact "), 400_000) // 5.6 MB
		for _, tc := range []struct {
			key  string
			data []byte
		}{
			{"builds/1/source.tar.gz", []byte("hello")},
			{"empty", nil},
			{"builds/1/oci-image.tar", big},
			{"a-b_c.d/E9", []byte{0, 1, 2, 255}},
		} {
			size, sum, err := s.Put(t.Context(), tc.key, bytes.NewReader(tc.data))
			if err != nil {
				t.Fatalf("put %s: %v", tc.key, err)
			}
			if size != int64(len(tc.data)) || sum != SHA256(tc.data) {
				t.Fatalf("put %s: size %d sha %s, want %d %s", tc.key, size, sum, len(tc.data), SHA256(tc.data))
			}
			if got := MustRead(t, s, tc.key, sum); !bytes.Equal(got, tc.data) {
				t.Fatalf("read %s: %d bytes differ from the %d put", tc.key, len(got), len(tc.data))
			}
			if got := MustRead(t, s, tc.key, ""); !bytes.Equal(got, tc.data) {
				t.Fatalf("read %s unverified: content differs", tc.key)
			}
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		s := newStore(t)
		MustPut(t, s, "k", "first version")
		sum := MustPut(t, s, "k", "second")
		if got := MustRead(t, s, "k", sum); string(got) != "second" {
			t.Fatalf("read %q after overwrite", got)
		}
	})

	t.Run("ErrChecksum", func(t *testing.T) {
		s := newStore(t)
		MustPut(t, s, "k", "content")
		rc, err := s.Open(t.Context(), "k", SHA256([]byte("other content")))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := io.ReadAll(rc); !errors.Is(err, blob.ErrChecksum) {
			t.Fatalf("read with the wrong sha256: err = %v, want ErrChecksum", err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Open(t.Context(), "missing/key", ""); kiln.ErrorCode(err) != kiln.ENotFound {
			t.Fatalf("open missing: err = %v, want ENotFound", err)
		}
	})

	t.Run("Stat", func(t *testing.T) {
		s := newStore(t)
		MustPut(t, s, "dir/k", "five!")
		MustPut(t, s, "empty", "")
		for key, want := range map[string]int64{"dir/k": 5, "empty": 0} {
			if size, err := s.Stat(t.Context(), key); err != nil || size != want {
				t.Errorf("stat %s: %d, %v; want %d", key, size, err, want)
			}
		}
		for _, key := range []string{"missing", "dir"} {
			if _, err := s.Stat(t.Context(), key); kiln.ErrorCode(err) != kiln.ENotFound {
				t.Errorf("stat %s: err = %v, want ENotFound", key, err)
			}
		}
		if err := s.Delete(t.Context(), "dir/k"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(t.Context(), "dir/k"); kiln.ErrorCode(err) != kiln.ENotFound {
			t.Errorf("stat after delete: err = %v, want ENotFound", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		MustPut(t, s, "dir/k", "x")
		if err := s.Delete(t.Context(), "dir/k"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(t.Context(), "dir/k", ""); kiln.ErrorCode(err) != kiln.ENotFound {
			t.Fatalf("open after delete: err = %v, want ENotFound", err)
		}
		if err := s.Delete(t.Context(), "dir/k"); err != nil {
			t.Fatalf("delete of a missing blob: %v", err)
		}
	})

	t.Run("ErrInvalidKey", func(t *testing.T) {
		s := newStore(t)
		for _, key := range BadKeys {
			if _, _, err := s.Put(t.Context(), key, strings.NewReader("x")); kiln.ErrorCode(err) != kiln.EInvalid {
				t.Errorf("put %q: err = %v, want EInvalid", key, err)
			}
			if _, err := s.Open(t.Context(), key, ""); kiln.ErrorCode(err) != kiln.EInvalid {
				t.Errorf("open %q: err = %v, want EInvalid", key, err)
			}
			if _, err := s.Stat(t.Context(), key); kiln.ErrorCode(err) != kiln.EInvalid {
				t.Errorf("stat %q: err = %v, want EInvalid", key, err)
			}
			if err := s.Delete(t.Context(), key); kiln.ErrorCode(err) != kiln.EInvalid {
				t.Errorf("delete %q: err = %v, want EInvalid", key, err)
			}
		}
	})

	t.Run("CanceledPut", func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancelingReader{cancel: cancel}
		if _, _, err := s.Put(ctx, "k", r); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if _, err := s.Open(t.Context(), "k", ""); kiln.ErrorCode(err) != kiln.ENotFound {
			t.Fatalf("a canceled put left a blob: %v", err)
		}
	})

	t.Run("ConcurrentPuts", func(t *testing.T) {
		s := newStore(t)
		versions := map[string]bool{}
		var wg sync.WaitGroup
		for i := range 8 {
			v := strings.Repeat(string(rune('a'+i)), 256<<10)
			versions[v] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := s.Put(t.Context(), "shared", strings.NewReader(v)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := MustRead(t, s, "shared", ""); !versions[string(got)] {
			t.Fatalf("the blob is a mix of concurrent puts (%d bytes)", len(got))
		}
	})
}

// BadKeys are keys every Store must refuse.
var BadKeys = []string{
	"", "/abs", "../up", "a/../../up", "a/./b", "a//b", "trailing/", ".hidden", "a/.tmp/x",
	`back\slash`, "space here", "nul\x00", "new\nline", "é", "a?b", "a*b", "%2e%2e",
	strings.Repeat("k", blob.MaxKeyLen+1),
}

// cancelingReader cancels its context on the second read.
type cancelingReader struct {
	cancel context.CancelFunc
	n      int
}

func (r *cancelingReader) Read(p []byte) (int, error) {
	r.n++
	if r.n == 2 {
		r.cancel()
	}
	return copy(p, strings.Repeat("z", len(p))), nil
}

// SHA256 returns the hex SHA-256 of b.
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// MustPut stores data under key and returns its sha256.
func MustPut(tb testing.TB, s blob.Store, key, data string) string {
	tb.Helper()
	_, sum, err := s.Put(context.Background(), key, strings.NewReader(data))
	if err != nil {
		tb.Fatalf("put %s: %v", key, err)
	}
	return sum
}

// MustRead reads the whole blob, verifying wantSHA256 when not "".
func MustRead(tb testing.TB, s blob.Store, key, wantSHA256 string) []byte {
	tb.Helper()
	rc, err := s.Open(context.Background(), key, wantSHA256)
	if err != nil {
		tb.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("read %s: %v", key, err)
	}
	return b
}
