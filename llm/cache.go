package llm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Cache keeps model answers on disk keyed by (server, model, request), so
// that building the same thing again asks nothing: the rebuild is
// reproducible and costs no tokens. It is safe for concurrent use, also by
// several processes sharing the folder.
type Cache struct {
	Dir string
}

type cacheKey struct {
	Host     string          `json:"host"`
	Model    string          `json:"model"`
	Format   string          `json:"format"`
	Schema   json.RawMessage `json:"schema,omitempty"`
	Messages []cacheMessage  `json:"messages"`
}

type cacheMessage struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

type cacheEntry struct {
	Model        string `json:"model"`
	Content      string `json:"content"`
	FinishReason string `json:"finish_reason"`
}

// key returns the hex sha256 of the request as the cache sees it.
func (c *Cache) key(host, model string, req Request) string {
	k := cacheKey{Host: host, Model: model, Format: req.Format.String(), Schema: req.Schema}
	for _, m := range req.Messages {
		k.Messages = append(k.Messages, cacheMessage(m))
	}
	b, _ := json.Marshal(k) // plain data always encodes
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (c *Cache) path(key string) string {
	return filepath.Join(c.Dir, key[:2], key+".json")
}

// get returns the stored answer for key.
func (c *Cache) get(key string, maxBytes int64) (*cacheEntry, bool) {
	f, err := os.Open(c.path(key))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() > maxBytes {
		return nil, false
	}
	var e cacheEntry
	if err := json.NewDecoder(f).Decode(&e); err != nil || e.Content == "" {
		return nil, false
	}
	return &e, true
}

// put stores an answer; a failure only means the next build asks again.
func (c *Cache) put(key string, e cacheEntry) error {
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix) // crypto/rand.Read never fails
	tmp := fmt.Sprintf("%s.%x.tmp", p, suffix)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

const noCacheKey ctxKey = 100

// WithoutCache returns a context whose model calls bypass the answer cache
// (they still store what they get), for builds asked for with no_cache.
func WithoutCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, noCacheKey, true)
}

func cacheBypassed(ctx context.Context) bool {
	b, _ := ctx.Value(noCacheKey).(bool)
	return b
}
