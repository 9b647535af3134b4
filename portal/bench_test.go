package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

// MustApps creates n apps for the user with the email, straight in the
// store (the dashboard's input, without running builds).
func MustApps(tb testing.TB, e *env, email string, n int) {
	tb.Helper()
	ctx := context.Background()
	users := sqlstore.NewUserService(e.db)
	admin := &kiln.User{ID: 1, Role: kiln.RoleAdmin}
	list, _, err := users.FindUsers(kiln.NewContextWithUser(ctx, admin), kiln.UserFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	var u *kiln.User
	for _, x := range list {
		if x.Email == email {
			u = x
		}
	}
	if u == nil {
		tb.Fatalf("no user %s", email)
	}
	apps := sqlstore.NewAppService(e.db)
	uctx := kiln.NewContextWithUser(ctx, u)
	for i := range n {
		desc := fmt.Sprintf("App %d: customers have many orders; an order has a total, a date and a note <about> \"things\" & more", i)
		if _, _, err := apps.CreateApp(uctx, kiln.AppCreate{Name: fmt.Sprintf("app-%03d", i), Description: desc}); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestPageWeight checks that the heaviest common pages, with everything
// they load, stay under 200 KB.
func TestPageWeight(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	MustApps(t, e, "ada@example.com", 500)
	assets := 0
	for _, a := range []string{"kiln.css", "kiln.js", "favicon.svg"} {
		assets += len(b.Get("/static/"+a).MustStatus(t, http.StatusOK).body)
	}
	for _, path := range []string{"/", "/apps/new", "/account", "/admin"} {
		p := b.Get(path).MustStatus(t, http.StatusOK)
		if total := len(p.body) + assets; total > 200<<10 {
			t.Errorf("%s weighs %d bytes with its assets", path, total)
		} else {
			t.Logf("%s: %d bytes of HTML + %d of assets", path, len(p.body), assets)
		}
	}
	if n := strings.Count(b.Get("/").body, `<tr data-app=`); n != 50 {
		t.Errorf("the dashboard lists %d apps on its first page", n)
	}
}

// BenchmarkDashboard500 measures the dashboard of a user with 500 apps,
// side by side with the API call it makes: the difference is the portal's
// own cost (session, in-process call, template).
func BenchmarkDashboard500(b *testing.B) {
	e := MustEnv(b)
	br := e.Browser(b)
	br.MustSignup("ada@example.com")
	MustApps(b, e, "ada@example.com", 500)
	tok := mustAPIToken(b, e, br)

	b.Run("API-list-50", func(b *testing.B) {
		for b.Loop() {
			req, _ := http.NewRequest("GET", e.srv.URL+"/v1/apps?limit=50", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != http.StatusOK {
				b.Fatal(err, res)
			}
			res.Body.Close()
		}
	})
	b.Run("Portal-dashboard", func(b *testing.B) {
		for b.Loop() {
			br.Get("/").MustStatus(b, http.StatusOK)
		}
	})
	b.Run("Portal-all-pages", func(b *testing.B) {
		// Every page of the 500 apps, as a user paging through them would.
		for b.Loop() {
			path, pages := "/", 0
			for path != "" {
				p := br.Get(path).MustStatus(b, http.StatusOK)
				pages++
				path = ""
				if i := strings.Index(p.body, `href="/?cursor=`); i >= 0 {
					rest := p.body[i+len(`href="`):]
					path = strings.ReplaceAll(rest[:strings.Index(rest, `"`)], "&amp;", "&")
				}
			}
			if pages != 10 {
				b.Fatalf("%d pages", pages)
			}
		}
	})
}

// mustAPIToken creates an API token through the account page.
func mustAPIToken(tb testing.TB, e *env, b *browser) string {
	tb.Helper()
	b.Get("/account")
	p := b.Post("/account/tokens", "name", "bench", "expires_days", "30").MustStatus(tb, http.StatusOK)
	i := strings.Index(p.body, `value="kiln_`)
	if i < 0 {
		tb.Fatal("no token")
	}
	rest := p.body[i+len(`value="`):]
	return rest[:strings.Index(rest, `"`)]
}
