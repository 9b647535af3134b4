package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/sqlstore"
)

// mustSession signs up (unless signedUp) and logs in, returning the session.
func mustSession(tb testing.TB, srv *httptest.Server, email string, signedUp bool) kiln.Session {
	tb.Helper()
	creds := `{"email":"` + email + `","password":"correct horse battery"}`
	if !signedUp {
		if r := do(tb, srv, "POST", "/v1/auth/signup", "", strings.NewReader(creds)); r.status != http.StatusCreated {
			tb.Fatalf("signup: %d %s", r.status, r.body)
		}
	}
	r := do(tb, srv, "POST", "/v1/auth/login", "", strings.NewReader(creds))
	var sess kiln.Session
	if r.status != http.StatusOK || json.Unmarshal(r.body, &sess) != nil {
		tb.Fatalf("login: %d %s", r.status, r.body)
	}
	return sess
}

func refresh(tb testing.TB, srv *httptest.Server, token string) response {
	tb.Helper()
	return do(tb, srv, "POST", "/v1/auth/refresh", "", strings.NewReader(`{"refresh_token":"`+token+`"}`))
}

func TestAdminRevokeSessions(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB, ...func(*api.Config)) (*httptest.Server, *sqlstore.DB){
		"SQLite": MustServerDB, "PostgreSQL": MustServerPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testAdminRevokeSessions(t, open)
		})
	}
}

func testAdminRevokeSessions(t *testing.T, open func(testing.TB, ...func(*api.Config)) (*httptest.Server, *sqlstore.DB)) {
	srv, _ := open(t)
	admin := mustSession(t, srv, "root@example.com", false) // the first user is the admin
	cli := mustSession(t, srv, "ada@example.com", false)
	web := mustSession(t, srv, "ada@example.com", true)
	bob := mustSession(t, srv, "bob@example.com", false)
	path := fmt.Sprintf("/v1/admin/users/%d/revoke-sessions", cli.User.ID)

	t.Run("ErrForbidden", func(t *testing.T) {
		r := do(t, srv, "POST", path, bob.AccessToken, nil)
		if r.status != http.StatusForbidden || r.problem(t)["code"] != "forbidden" {
			t.Fatalf("non-admin: %d %s", r.status, r.body)
		}
		if r := do(t, srv, "POST", path, "", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("anonymous: %d %s", r.status, r.body)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		r := do(t, srv, "POST", "/v1/admin/users/999999/revoke-sessions", admin.AccessToken, nil)
		if r.status != http.StatusNotFound || r.problem(t)["code"] != "not_found" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if r := do(t, srv, "POST", "/v1/admin/users/0/revoke-sessions", admin.AccessToken, nil); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("id 0: %d %s", r.status, r.body)
		}
	})

	t.Run("OK", func(t *testing.T) {
		// The refused calls above ended nothing: ada's CLI session still
		// refreshes (and stays one session, rotated).
		r := refresh(t, srv, cli.RefreshToken)
		if r.status != http.StatusOK || json.Unmarshal(r.body, &cli) != nil {
			t.Fatalf("refresh before the revocation: %d %s", r.status, r.body)
		}
		r = do(t, srv, "POST", path, admin.AccessToken, nil)
		var out struct {
			User          kiln.User `json:"user"`
			SessionsEnded int       `json:"sessions_ended"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if out.User.ID != cli.User.ID || out.User.Email != "ada@example.com" || out.SessionsEnded != 2 {
			t.Fatalf("answer = %s, want ada and 2 sessions", r.body)
		}
		for _, s := range []kiln.Session{cli, web} {
			if r := refresh(t, srv, s.RefreshToken); r.status != http.StatusUnauthorized {
				t.Fatalf("refresh after the revocation: %d %s", r.status, r.body)
			}
			// Access tokens stay valid until they expire.
			if r := do(t, srv, "GET", "/v1/me", s.AccessToken, nil); r.status != http.StatusOK {
				t.Fatalf("access token after the revocation: %d %s", r.status, r.body)
			}
		}
		if r := refresh(t, srv, bob.RefreshToken); r.status != http.StatusOK {
			t.Fatalf("bob's session ended too: %d %s", r.status, r.body)
		}
		// Again: nothing is left to end.
		r = do(t, srv, "POST", path, admin.AccessToken, nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"sessions_ended":0`) {
			t.Fatalf("second revocation: %d %s", r.status, r.body)
		}
	})

	t.Run("FindByEmail", func(t *testing.T) {
		r := do(t, srv, "GET", "/v1/admin/users?email=ADA@example.com", admin.AccessToken, nil)
		var out struct{ Items []kiln.User }
		if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil || len(out.Items) != 1 || out.Items[0].ID != cli.User.ID {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r = do(t, srv, "GET", "/v1/admin/users?email=nobody@example.com", admin.AccessToken, nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"items":[]`) {
			t.Fatalf("unknown email: %d %s", r.status, r.body)
		}
	})
}
