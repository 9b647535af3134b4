package portal

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// analyticsRanges are the periods the analytics page offers, with the
// bucket size each is drawn in.
var analyticsRanges = []struct {
	Key      string
	Label    string
	Span     time.Duration
	Interval kiln.Interval
}{
	{"1h", "last hour", time.Hour, kiln.IntervalMinute},
	{"24h", "last 24 hours", 24 * time.Hour, kiln.IntervalHour},
	{"7d", "last 7 days", 7 * 24 * time.Hour, kiln.IntervalHour},
	{"30d", "last 30 days", 30 * 24 * time.Hour, kiln.IntervalDay},
}

// analyticsPage shows an app's events and manages its ingest keys.
type analyticsPage struct {
	base
	App     *kiln.App
	Summary *kiln.Summary
	Range   string
	Ranges  []string
	Labels  map[string]string
	Event   string
	Chart   template.HTML
	// SummaryError says why there is no summary (analytics off, a bad
	// event name).
	SummaryError string
	Keys         []*kiln.IngestKey
	// NewKey and Secret are set right after creating or rotating a key:
	// the only time the secret is shown.
	NewKey    *kiln.IngestKey
	Secret    string
	Rotated   bool
	KeyName   string
	KeyError  string
	Notice    string
	IngestURL string
}

func (p *Portal) analyticsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	pg := &analyticsPage{}
	switch r.URL.Query().Get("msg") {
	case "revoked":
		pg.Notice = "The key is revoked: the app's events sent with it are refused from now on."
	}
	return p.showAnalytics(w, r, s, http.StatusOK, pg)
}

func (p *Portal) showAnalytics(w http.ResponseWriter, r *http.Request, s *session, status int, pg *analyticsPage) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if pg.App, err = s.api.GetApp(ctx, id); err != nil {
		return err
	}
	q := r.URL.Query()
	pg.Range, pg.Event = q.Get("range"), strings.TrimSpace(q.Get("event"))
	pg.Labels = map[string]string{}
	rng := analyticsRanges[1]
	for _, ar := range analyticsRanges {
		pg.Ranges = append(pg.Ranges, ar.Key)
		pg.Labels[ar.Key] = ar.Label
		if ar.Key == pg.Range {
			rng = ar
		}
	}
	pg.Range = rng.Key
	now := p.now().UTC()
	sum, err := s.api.AnalyticsSummary(ctx, id, kiln.SummaryQuery{From: now.Add(-rng.Span), To: now, Interval: rng.Interval, Event: pg.Event})
	switch code := kiln.ErrorCode(err); {
	case err == nil:
		pg.Summary = sum
		pg.Chart = barChart(sum, rng.Interval)
	case code == kiln.EInvalid || code == kiln.EUnavailable:
		pg.SummaryError = kiln.ErrorMessage(err)
	default:
		return err
	}
	keys, err := s.api.ListIngestKeys(ctx, id)
	if err != nil && kiln.ErrorCode(err) != kiln.EUnavailable {
		return err
	}
	pg.Keys = keys
	pg.IngestURL = p.publicURL(r) + "/v1/ingest"
	pg.Title = "Analytics of " + pg.App.Name
	p.render(w, r, s, status, "analytics", pg)
	return nil
}

// publicURL is the server's URL as the browser sees it.
func (p *Portal) publicURL(r *http.Request) string {
	if p.cfg.BaseURL != "" {
		return strings.TrimRight(p.cfg.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (p *Portal) createIngestKey(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	pg := &analyticsPage{KeyName: strings.TrimSpace(r.PostForm.Get("name"))}
	limit, _ := strconv.Atoi(r.PostForm.Get("rate_limit"))
	key, secret, err := s.api.CreateIngestKey(r.Context(), id, kiln.IngestKeyCreate{Name: pg.KeyName, RateLimit: max(limit, 0)})
	if err != nil {
		if code := kiln.ErrorCode(err); code != kiln.EInvalid && code != kiln.EConflict {
			return err
		}
		pg.KeyError = kiln.ErrorMessage(err)
		return p.showAnalytics(w, r, s, http.StatusUnprocessableEntity, pg)
	}
	pg.NewKey, pg.Secret, pg.KeyName = key, secret, ""
	return p.showAnalytics(w, r, s, http.StatusOK, pg)
}

// keyID reads the {key} of the URL.
func keyID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("key"), 10, 64)
	if err != nil || id <= 0 {
		return 0, kiln.Errorf(kiln.ENotFound, "there is no page at %s", r.URL.Path)
	}
	return id, nil
}

func (p *Portal) rotateIngestKey(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	kid, err := keyID(r)
	if err != nil {
		return err
	}
	key, secret, err := s.api.RotateIngestKey(r.Context(), id, kid)
	if err != nil {
		return err
	}
	return p.showAnalytics(w, r, s, http.StatusOK, &analyticsPage{NewKey: key, Secret: secret, Rotated: true})
}

func (p *Portal) revokeIngestKey(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	kid, err := keyID(r)
	if err != nil {
		return err
	}
	if err := s.api.RevokeIngestKey(r.Context(), id, kid); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/apps/%d/analytics?msg=revoked", id), http.StatusSeeOther)
	return nil
}

// barChart draws a summary's series as an inline SVG bar chart (SVG
// attributes, not style, so the CSP allows it). Every number in it is
// computed here; no user text goes in but through html/template-safe
// escaping of the titles.
func barChart(s *kiln.Summary, iv kiln.Interval) template.HTML {
	if len(s.Series) == 0 {
		return ""
	}
	const w, h, top = 720.0, 160.0, 12.0
	var most int64 = 1
	for _, pt := range s.Series {
		most = max(most, pt.Count)
	}
	bw := w / float64(len(s.Series))
	layout := "Jan 2 15:04"
	if iv == kiln.IntervalDay {
		layout = "Jan 2"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="Events per %s, at most %d" preserveAspectRatio="none">`, w, h, iv, most)
	for i, pt := range s.Series {
		bh := (h - top) * float64(pt.Count) / float64(most)
		if pt.Count > 0 && bh < 1 {
			bh = 1
		}
		fmt.Fprintf(&b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f"><title>%s UTC: %d</title></rect>`,
			float64(i)*bw, h-bh, max(bw-1, 0.5), bh, template.HTMLEscapeString(pt.Time.UTC().Format(layout)), pt.Count)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
