// Package oidcmock runs a real OpenID Connect server for tests:
// oauth2-mock-server from the npm registry, started by node with a small
// launcher that shapes its tokens like AWS Cognito's. Tests skip, saying
// how to install it, when node or the package is missing; .ci/run installs
// both.
package oidcmock

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

//go:embed server.mjs
var launcher []byte

// EnvModule names the installed oauth2-mock-server package folder.
const EnvModule = "KILN_TEST_OAUTH2_MOCK"

// Server is a running oauth2-mock-server.
type Server struct {
	// Issuer is its issuer URL (http://127.0.0.1:PORT).
	Issuer  string
	control string
}

// module returns the package folder: $KILN_TEST_OAUTH2_MOCK, else where
// .ci/run installs it.
func module() string {
	if m := os.Getenv(EnvModule); m != "" {
		return m
	}
	home, _ := os.UserHomeDir()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "kiln-ci", "oauth2-mock", "node_modules", "oauth2-mock-server")
}

// Start runs a server until tb ends, or skips tb when node or the package
// is not installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	node, err := exec.LookPath("node")
	mod := module()
	if _, serr := os.Stat(filepath.Join(mod, "dist", "index.mjs")); err != nil || serr != nil {
		tb.Skipf("oauth2-mock-server is not installed (need node and %s/dist/index.mjs): run .ci/run, or "+
			"npm install --prefix ~/.cache/kiln-ci/oauth2-mock oauth2-mock-server@8, or set %s", mod, EnvModule)
	}
	script := filepath.Join(tb.TempDir(), "server.mjs")
	if err := os.WriteFile(script, launcher, 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), "KILN_OAUTH2_MOCK_MODULE="+mod)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start oauth2-mock-server: %v", err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	var s Server
	select {
	case line, ok := <-lines:
		var info struct{ Issuer, Control string }
		if !ok || json.Unmarshal([]byte(line), &info) != nil || info.Issuer == "" {
			tb.Fatalf("oauth2-mock-server did not start: %q %s", line, stderr.String())
		}
		s = Server{Issuer: strings.TrimRight(info.Issuer, "/"), control: info.Control}
	case <-time.After(30 * time.Second):
		tb.Fatalf("oauth2-mock-server did not start in 30 s: %s", stderr.String())
	}
	return &s
}

// User is who logs in next at the server.
type User struct {
	Sub           string   `json:"sub"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	Groups        []string `json:"groups,omitempty"`
}

// SetUser makes u the user of every following login and token.
func (s *Server) SetUser(tb testing.TB, u User) {
	tb.Helper()
	s.post(tb, "/user", u)
}

// AccessToken returns an access token signed with the server's key for
// clientID, with claims merged in (a nil value deletes one) and header
// fields merged into the JWS header.
func (s *Server) AccessToken(tb testing.TB, clientID string, claims, header map[string]any) string {
	tb.Helper()
	return s.post(tb, "/token", map[string]any{"client_id": clientID, "claims": claims, "header": header})
}

func (s *Server) post(tb testing.TB, path string, v any) string {
	tb.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(s.control+path, "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("oauth2-mock-server control: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		tb.Fatalf("oauth2-mock-server control %s: %s %s", path, resp.Status, body)
	}
	return string(body)
}

// String describes the server for logs.
func (s *Server) String() string { return fmt.Sprintf("oauth2-mock-server at %s", s.Issuer) }
