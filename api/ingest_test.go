package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// event returns one event as JSON with its timestamp at t.
func event(name string, t time.Time, extra string) string {
	return fmt.Sprintf(`{"name":%q,"timestamp":%q%s}`, name, t.Format(time.RFC3339Nano), extra)
}

func gz(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// ingest posts a body with the key as a bearer token.
func ingest(tb testing.TB, srv string, key string, body []byte, hdr ...string) response {
	tb.Helper()
	req, err := http.NewRequest("POST", srv+"/v1/ingest", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: buf.Bytes()}
}

func mustAccepted(tb testing.TB, r response) kiln.IngestResult {
	tb.Helper()
	var res kiln.IngestResult
	if r.status != http.StatusAccepted || json.Unmarshal(r.body, &res) != nil {
		tb.Fatalf("ingest: %d %s", r.status, r.body)
	}
	return res
}

func TestIngest(t *testing.T) {
	t.Parallel()
	e := mustAnalyticsServer(t)
	srv := e.srv
	bob := MustToken(t, srv, "bob@example.com")
	app := mustApp(t, srv, bob)
	key := mustKey(t, srv, bob, app, `{}`)
	now := time.Now().UTC()

	t.Run("JSONArray", func(t *testing.T) {
		body := "[" + event("signup", now, `,"user_id":"u1","value":3,"properties":{"plan":"pro","seats":3,"trial":false}`) + "," +
			event("signup", now, `,"user_id":"u2","session_id":"s2","value":null,"properties":null`) + "]"
		res := mustAccepted(t, ingest(t, srv.URL, key.Secret, []byte(body), "Content-Type", "application/json"))
		if res.Accepted != 2 || len(res.Rejected) != 0 {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("NDJSONGzipAppKeyHeader", func(t *testing.T) {
		body := event("page", now, "") + "\n\n" + event("page", now, `,"value":1.5`) + "\n"
		req := gz(t, []byte(body))
		res := mustAccepted(t, ingest(t, srv.URL, "", req, "X-Kiln-App-Key", key.Secret, "Content-Encoding", "gzip"))
		if res.Accepted != 2 {
			t.Fatalf("%+v", res)
		}
	})

	t.Run("BadEventsByIndex", func(t *testing.T) {
		long := strings.Repeat("x", kiln.MaxPropertyLen+1)
		many := make([]string, kiln.MaxEventProperties+1)
		for i := range many {
			many[i] = fmt.Sprintf(`"p%d":1`, i)
		}
		cases := []struct {
			line, want string
		}{
			{event("ok", now, ""), ""},
			{event("x", now, `,"properties":{"nested":{"a":1}}`), "properties.nested: must be a string, number or boolean, got an object"},
			{event("x", now, `,"properties":{"list":[1]}`), "properties.list: must be a string, number or boolean, got an array"},
			{event("x", now, `,"properties":{"gone":null}`), "properties.gone: must be a string, number or boolean, got null"},
			{event("x", now, `,"properties":{`+strings.Join(many, ",")+`}`), "properties: more than 32 properties (33)"},
			{event("x", now, `,"properties":{"long":"`+long+`"}`), "properties.long: longer than 256 characters (257)"},
			{event("x", now, `,"properties":{"`+strings.Repeat("k", 65)+`":1}`), "a property name must be 1 to 64 characters"},
			{event("x", now, `,"properties":"flat"`), "properties: must be an object, got a string"},
			{event("x", now.Add(25*time.Hour), ""), "timestamp: more than 24h in the future"},
			{event("x", now.Add(-31*24*time.Hour), ""), "timestamp: more than 30 days in the past"},
			{`{"name":"x","timestamp":"yesterday"}`, "timestamp: must be an RFC 3339 time"},
			{`{"timestamp":"` + now.Format(time.RFC3339) + `"}`, "name: is required"},
			{`{"name":"x"}`, "timestamp: is required"},
			{event(strings.Repeat("n", 101), now, ""), "name: longer than 100 characters (101)"},
			{event("x", now, `,"value":"12"`), "value: must be a number, got a string"},
			{event("x", now, `,"user_id":"`+strings.Repeat("u", 129)+`"`), "user_id: longer than 128 characters (129)"},
			{event("x", now, `,"colour":"red"`), "colour: unknown field"},
			{`{"name":"x` + "\xff" + `","timestamp":"` + now.Format(time.RFC3339) + `"}`, "invalid UTF-8"},
			{`{"name":"x",`, "malformed JSON"},
			{`42`, "must be a JSON object, got a number"},
		}
		lines := make([]string, len(cases))
		for i, c := range cases {
			lines[i] = c.line
		}
		res := mustAccepted(t, ingest(t, srv.URL, key.Secret, []byte(strings.Join(lines, "\n"))))
		if res.Accepted != 1 || len(res.Rejected) != len(cases)-1 {
			t.Fatalf("accepted %d, rejected %d: %+v", res.Accepted, len(res.Rejected), res.Rejected)
		}
		for _, r := range res.Rejected {
			if !strings.Contains(strings.Join(r.Errors, "; "), cases[r.Index].want) {
				t.Errorf("event %d: errors %q, want %q", r.Index, r.Errors, cases[r.Index].want)
			}
		}
		// In a JSON array too, invalid UTF-8 refuses the event, not the batch.
		arr := "[" + event("ok", now, "") + `,{"name":"bad` + "\xfe" + `","timestamp":"` + now.Format(time.RFC3339) + `"}]`
		res = mustAccepted(t, ingest(t, srv.URL, key.Secret, []byte(arr)))
		if res.Accepted != 1 || len(res.Rejected) != 1 || res.Rejected[0].Index != 1 || res.Rejected[0].Errors[0] != "invalid UTF-8" {
			t.Fatalf("%+v", res)
		}
	})

	t.Run("ErrInvalidWhenNoneValid", func(t *testing.T) {
		r := ingest(t, srv.URL, key.Secret, []byte(`[{"name":"x"},{"timestamp":"`+now.Format(time.RFC3339)+`"}]`))
		p := r.problem(t)
		if r.status != http.StatusUnprocessableEntity || p["code"] != kiln.EInvalid {
			t.Fatalf("%d %s", r.status, r.body)
		}
		errs := p["errors"].([]any)
		if len(errs) != 2 || errs[0].(map[string]any)["location"] != "body[0]" || errs[1].(map[string]any)["location"] != "body[1]" {
			t.Fatalf("errors %v", errs)
		}
		if r := ingest(t, srv.URL, key.Secret, []byte("[]")); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("empty: %d %s", r.status, r.body)
		}
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		for _, tc := range []struct {
			body string
			hdr  []string
		}{
			{`[{"name":"x"`, nil},
			{`[1] [2]`, nil},
			{`not gzip`, []string{"Content-Encoding", "gzip"}},
			{event("x", now, ""), []string{"Content-Encoding", "br"}},
		} {
			r := ingest(t, srv.URL, key.Secret, []byte(tc.body), tc.hdr...)
			if r.status != http.StatusBadRequest || r.problem(t)["code"] != "malformed" {
				t.Errorf("%q %v: %d %s", tc.body, tc.hdr, r.status, r.body)
			}
		}
	})

	t.Run("ErrTooLarge", func(t *testing.T) {
		line := event("x", now, "") + "\n"
		tooMany := strings.Repeat(line, kiln.MaxIngestEvents+1)
		bomb := gz(t, bytes.Repeat([]byte(" "), 64<<20)) // 64 MiB of spaces: about 64 KiB compressed
		if len(bomb) > 100<<10 {
			t.Fatalf("bomb is %d bytes", len(bomb))
		}
		pad := `,"properties":{"p":"` + strings.Repeat("x", 200) + `"}`
		var big strings.Builder
		for big.Len() <= kiln.MaxIngestBytes {
			big.WriteString(event("x", now, pad) + "\n")
		}
		for name, tc := range map[string]struct {
			body []byte
			hdr  []string
		}{
			"TooManyEvents":    {[]byte(tooMany), nil},
			"TooManyInArray":   {[]byte("[" + strings.TrimSuffix(strings.ReplaceAll(tooMany, "\n", ","), ",") + "]"), nil},
			"BodyOver1MiB":     {[]byte(big.String()), nil},
			"GzipBomb":         {bomb, []string{"Content-Encoding", "gzip"}},
			"GzipOver1MiBOnce": {gz(t, []byte(big.String())), []string{"Content-Encoding", "gzip"}},
		} {
			r := ingest(t, srv.URL, key.Secret, tc.body, tc.hdr...)
			if r.status != http.StatusRequestEntityTooLarge || r.problem(t)["code"] != kiln.ETooLarge {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
		}
		// Exactly the limits are fine.
		r := ingest(t, srv.URL, key.Secret, []byte(strings.Repeat(line, kiln.MaxIngestEvents)))
		if res := mustAccepted(t, r); res.Accepted != kiln.MaxIngestEvents {
			t.Fatalf("%+v", res)
		}
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		body := []byte(event("x", now, ""))
		rotating := mustKey(t, srv, bob, app, `{"name":"rotating"}`)
		r := do(t, srv, "POST", fmt.Sprintf("/v1/apps/%d/ingest-keys/%d/rotate", app, rotating.Key.ID), bob, nil)
		if r.status != http.StatusOK {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		revoked := mustKey(t, srv, bob, app, `{"name":"revoked"}`)
		mustAccepted(t, ingest(t, srv.URL, revoked.Secret, body))
		if r := do(t, srv, "DELETE", fmt.Sprintf("/v1/apps/%d/ingest-keys/%d", app, revoked.Key.ID), bob, nil); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d", r.status)
		}
		for name, k := range map[string]string{
			"None": "", "Garbage": "kiln_ik_nope", "Unknown": kiln.IngestKeyPrefix + strings.Repeat("A", 43),
			"Rotated": rotating.Secret, "Revoked": revoked.Secret, "UserToken": bob,
		} {
			r := ingest(t, srv.URL, k, body)
			if r.status != http.StatusUnauthorized || r.problem(t)["code"] != kiln.EUnauthorized {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
		}
		// An ingest key is no user credential anywhere else.
		if r := do(t, srv, "GET", "/v1/apps", key.Secret, nil); r.status != http.StatusUnauthorized {
			t.Errorf("GET /v1/apps with an ingest key: %d", r.status)
		}
	})

	t.Run("ErrRateLimited", func(t *testing.T) {
		slow := mustKey(t, srv, bob, app, `{"name":"slow","rate_limit":1}`)
		full := []byte(strings.Repeat(event("x", now, "")+"\n", kiln.MaxIngestEvents))
		mustAccepted(t, ingest(t, srv.URL, slow.Secret, full)) // the burst holds one full request
		r := ingest(t, srv.URL, slow.Secret, []byte(event("x", now, "")))
		if r.status != http.StatusTooManyRequests || r.problem(t)["code"] != kiln.ERateLimited || r.header.Get("Retry-After") == "" {
			t.Fatalf("%d %v %s", r.status, r.header, r.body)
		}
		mustAccepted(t, ingest(t, srv.URL, key.Secret, []byte(event("x", now, "")))) // other keys are not affected
	})

	t.Run("Summary", func(t *testing.T) {
		q := url.Values{"from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)}, "interval": {"hour"}, "event": {"signup"}}
		r := do(t, srv, "GET", fmt.Sprintf("/v1/apps/%d/analytics/summary?%s", app, q.Encode()), bob, nil)
		var sum kiln.Summary
		if r.status != http.StatusOK || json.Unmarshal(r.body, &sum) != nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if sum.Totals.Count != 2 || sum.Totals.Users != 2 || sum.Totals.Values != 1 || *sum.Totals.P50 != 3 || len(sum.Series) != 3 {
			t.Fatalf("%s", r.body)
		}
		if sum.TopEvents[0].Name != "x" || sum.TopEvents[0].Count != 2*kiln.MaxIngestEvents+2 {
			t.Fatalf("top events %+v", sum.TopEvents)
		}
		// Defaults: the last 24 hours by hour.
		r = do(t, srv, "GET", fmt.Sprintf("/v1/apps/%d/analytics/summary", app), bob, nil)
		if r.status != http.StatusOK || json.Unmarshal(r.body, &sum) != nil || len(sum.Series) < 24 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		carol := MustToken(t, srv, "carol@example.com")
		if r := do(t, srv, "GET", fmt.Sprintf("/v1/apps/%d/analytics/summary", app), carol, nil); r.status != http.StatusNotFound {
			t.Fatalf("another user: %d %s", r.status, r.body)
		}
		for _, bad := range []string{"interval=week", "from=yesterday", "to=2026-13-01", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "interval=minute&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"} {
			r := do(t, srv, "GET", fmt.Sprintf("/v1/apps/%d/analytics/summary?%s", app, bad), bob, nil)
			if r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d %s", bad, r.status, r.body)
			}
		}
	})
}
