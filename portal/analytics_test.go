package portal_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

func TestAnalytics(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Get("/apps/new")
	p := b.Post("/apps/new", "op", "build", "description", "A todo app with tasks (title)").MustStatus(t, http.StatusSeeOther)
	appURL := regexp.MustCompile(`href="(/apps/\d+)"`).FindStringSubmatch(b.Get(p.location()).body)[1]
	b.Get(appURL).MustContain(t, `href="`+appURL+`/analytics"`)

	a := b.Get(appURL+"/analytics").MustStatus(t, http.StatusOK)
	a.MustContain(t, "No events in this period", "No ingest keys.", "KILN_INGEST_URL="+e.srv.URL+"/v1/ingest")

	// Create a key: its secret shows once.
	p = b.Post(appURL+"/keys", "name", "prod <1>", "rate_limit", "50").MustStatus(t, http.StatusOK)
	p.MustContain(t, "Your new key “prod &lt;1&gt;”", "Copy it now", "50/s")
	secret := regexp.MustCompile(`id="key-secret" class="secret" value="(kiln_ik_[^"]+)"`).FindStringSubmatch(p.body)
	if secret == nil {
		t.Fatalf("no secret:\n%s", p.body)
	}
	if strings.Contains(b.Get(appURL+"/analytics").body, secret[1]) {
		t.Fatal("the secret shows again")
	}
	rotate := regexp.MustCompile(`action="(/apps/\d+/keys/\d+/rotate)"`).FindStringSubmatch(b.last)[1]
	p = b.Post(rotate).MustStatus(t, http.StatusOK).MustContain(t, "The new secret of", "The old secret is refused")
	if strings.Contains(p.body, secret[1]) {
		t.Fatal("rotating showed the old secret")
	}

	// Events show as totals, a chart and top lists.
	var appID int64
	if _, err := fmtSscanf(appURL, "/apps/%d", &appID); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	v := 12.5
	var events []kiln.Event
	for i := range 30 {
		name := "request"
		if i%3 == 0 {
			name = "<signup>"
		}
		events = append(events, kiln.Event{AppID: appID, Name: name, Time: now.Add(-time.Duration(i) * time.Minute), UserID: "u" + itoa(i%4), Value: &v,
			Properties: map[string]any{"route": "GET /api/tasks"}})
	}
	if err := sqlstore.NewEventStore(e.db).InsertEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	a = b.Get(appURL+"/analytics?range=1h").MustStatus(t, http.StatusOK)
	a.MustContain(t, "<dt>Events</dt><dd>30</dd>", "<dt>Users</dt><dd>4</dd>", `<svg class="chart"`, "<rect ", "&lt;signup&gt;", "<code>GET /api/tasks</code>: 30", "<dt>Median value</dt><dd>12.5</dd>")
	if strings.Contains(a.body, "<signup>") {
		t.Fatal("an event name became markup")
	}
	b.Get(appURL+"/analytics?range=1h&event=request").MustContain(t, "<dt>Events</dt><dd>20</dd>")

	// Revoke; another user sees nothing of it.
	revoke := regexp.MustCompile(`action="(/apps/\d+/keys/\d+/revoke)"`).FindStringSubmatch(b.last)[1]
	p = b.Post(revoke).MustStatus(t, http.StatusSeeOther)
	b.Get(p.location()).MustContain(t, "The key is revoked", "No ingest keys.")
	bob := e.Browser(t)
	bob.MustSignup("bob@example.com")
	bob.Get(appURL+"/analytics").MustStatus(t, http.StatusNotFound)
	bob.Get("/")
	bob.Post(appURL+"/keys", "name", "x").MustStatus(t, http.StatusNotFound)
}
