package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/config"
)

// startAPI runs an API node on dataDir (SQLite, auth.secret generated
// there) until the test ends or it is closed.
func startAPI(t *testing.T, dataDir string) (*Main, error) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Roles = []string{config.RoleAPI}
	m := NewMain(cfg, io.Discard)
	err := m.Run(context.Background())
	t.Cleanup(func() { _ = m.Close() })
	return m, err
}

// TestResetSigningKeys: a node whose auth.secret cannot unseal the stored
// signing key refuses to start, naming the setting; `kiln
// reset-signing-keys` starts over with a key sealed by the current secret,
// after which old access tokens fail and sessions go on by refreshing.
func TestResetSigningKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m, err := startAPI(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(m.URL())
	if _, err := c.Signup(ctx, "ada@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	sess, err := c.Login(ctx, "ada@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// The secret changes (lost, or a node configured differently).
	if err := os.WriteFile(filepath.Join(dir, "auth.secret"), []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err = startAPI(t, dir)
	if err == nil || !strings.Contains(err.Error(), "auth.secret") || !strings.Contains(err.Error(), "reset-signing-keys") {
		t.Fatalf("start with another secret = %v, want an error naming auth.secret and the way out", err)
	}
	_ = m.Close()

	var out bytes.Buffer
	if err := runCLI(ctx, t, &out, "reset-signing-keys", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "signing keys reset; new key") {
		t.Fatalf("reset-signing-keys printed %q", out.String())
	}
	m, err = startAPI(t, dir)
	if err != nil {
		t.Fatalf("start after the reset: %v", err)
	}
	_, _, err = client.New(m.URL(), client.WithToken(sess.AccessToken)).CreateToken(ctx, "x", nil)
	if kiln.ErrorCode(err) != kiln.EUnauthorized {
		t.Fatalf("access token of the retired key: %v, want unauthorized", err)
	}
	next, err := client.New(m.URL()).Refresh(ctx, sess.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after the reset: %v", err)
	}
	if _, err := client.New(m.URL(), client.WithToken(next.AccessToken)).Me(ctx); err != nil {
		t.Fatal(err)
	}
}
