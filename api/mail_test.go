package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
)

func TestUpdateMe(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	tok := MustToken(t, srv, "ada@example.com")
	me := func() kiln.User {
		t.Helper()
		r := do(t, srv, "GET", "/v1/me", tok, nil)
		var u kiln.User
		if r.status != http.StatusOK || json.Unmarshal(r.body, &u) != nil {
			t.Fatalf("GET /v1/me: %d %s", r.status, r.body)
		}
		return u
	}
	if !me().Notifications.BuildFinished {
		t.Fatal("build mail is off for a new account")
	}
	r := do(t, srv, "PATCH", "/v1/me", tok, strings.NewReader(`{"notifications":{"build_finished":false}}`))
	var u kiln.User
	if r.status != http.StatusOK || json.Unmarshal(r.body, &u) != nil || u.Notifications.BuildFinished {
		t.Fatalf("PATCH /v1/me: %d %s", r.status, r.body)
	}
	// The read right after the write does not come from the credential cache.
	if me().Notifications.BuildFinished {
		t.Fatal("GET /v1/me right after the PATCH shows the old setting")
	}
	// An empty patch changes nothing.
	if r := do(t, srv, "PATCH", "/v1/me", tok, strings.NewReader(`{}`)); r.status != http.StatusOK || strings.Contains(string(r.body), `"build_finished":true`) {
		t.Fatalf("empty PATCH: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "PATCH", "/v1/me", tok, strings.NewReader(`{"notifications":{"weekly":true}}`)); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("PATCH with an unknown setting: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "PATCH", "/v1/me", "", strings.NewReader(`{}`)); r.status != http.StatusUnauthorized {
		t.Fatalf("anonymous PATCH: %d", r.status)
	}
}

func TestPasswordResetAPI(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	MustToken(t, srv, "ada@example.com")
	known := do(t, srv, "POST", "/v1/auth/password-reset", "", strings.NewReader(`{"email":"ada@example.com"}`))
	unknown := do(t, srv, "POST", "/v1/auth/password-reset", "", strings.NewReader(`{"email":"nobody@example.com"}`))
	if known.status != http.StatusAccepted || unknown.status != known.status || string(unknown.body) != string(known.body) {
		t.Fatalf("known %d %s, unknown %d %s: the answers differ", known.status, known.body, unknown.status, unknown.body)
	}
	if r := do(t, srv, "POST", "/v1/auth/password-reset", "", strings.NewReader(`{"email":"not an address"}`)); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad address: %d %s", r.status, r.body)
	}
	r := do(t, srv, "POST", "/v1/auth/password-reset/confirm", "", strings.NewReader(`{"token":"forged","password":"a new passphrase"}`))
	if r.status != http.StatusUnprocessableEntity || r.problem(t)["code"] != kiln.EInvalid {
		t.Fatalf("forged token: %d %s", r.status, r.body)
	}
}

func TestAdminMailWithoutOutbox(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	tok := MustToken(t, srv, "admin@example.com")
	if r := do(t, srv, "GET", "/v1/admin/mail?status=failed", tok, nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("admin mail without an outbox: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/v1/admin/mail?status=lost", tok, nil); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown status: %d %s", r.status, r.body)
	}
}
