package clienttest

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-build/kiln"
)

// analyticsState is the fake's analytics data.
type analyticsState struct {
	keys    []*ingestKeyRec
	secrets map[string]int64 // secret → key id
	events  []kiln.Event
}

type ingestKeyRec struct {
	key    kiln.IngestKey
	secret string
}

func (s *Server) analyticsHandler(op string) (handler, bool, bool) {
	switch op {
	case "GET /v1/apps/{id}/ingest-keys", "POST /v1/apps/{id}/ingest-keys",
		"POST /v1/apps/{id}/ingest-keys/{key_id}/rotate", "DELETE /v1/apps/{id}/ingest-keys/{key_id}":
		return s.withOwnApp(op), false, true
	case "GET /v1/apps/{id}/analytics/summary":
		return s.withOwnApp(op), false, true
	case "POST /v1/ingest":
		return s.ingest, true, true
	}
	return nil, false, false
}

func newIngestSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return kiln.IngestKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// withOwnApp serves the ingest key operations: only the app's owner sees
// its keys.
func (s *Server) withOwnApp(op string) handler {
	return func(w http.ResponseWriter, r *http.Request, u *userRec) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		app := s.appByID(id)
		if app == nil || app.OwnerID != u.user.ID {
			problem(w, http.StatusNotFound, kiln.ENotFound, fmt.Sprintf("app %d not found", id))
			return
		}
		a := &s.analytics
		if a.secrets == nil {
			a.secrets = map[string]int64{}
		}
		findKey := func() *ingestKeyRec {
			kid, _ := strconv.ParseInt(r.PathValue("key_id"), 10, 64)
			for _, k := range a.keys {
				if k.key.ID == kid && k.key.AppID == id {
					return k
				}
			}
			problem(w, http.StatusNotFound, kiln.ENotFound, fmt.Sprintf("app %d has no ingest key %s", id, r.PathValue("key_id")))
			return nil
		}
		switch op {
		case "GET /v1/apps/{id}/ingest-keys":
			items := []kiln.IngestKey{}
			for _, k := range a.keys {
				if k.key.AppID == id {
					items = append(items, k.key)
				}
			}
			writeJSON(w, 200, map[string]any{"items": items})
		case "POST /v1/apps/{id}/ingest-keys":
			var in struct {
				Name      string `json:"name"`
				RateLimit int    `json:"rate_limit"`
			}
			if !decode(w, r, &in) {
				return
			}
			if in.RateLimit < 0 || in.RateLimit > kiln.MaxIngestRateLimit {
				problem(w, http.StatusUnprocessableEntity, kiln.EInvalid, "validation failed",
					kiln.FieldError{Path: "body.rate_limit", Message: "out of range"})
				return
			}
			if in.Name == "" {
				in.Name = "default"
			}
			secret := newIngestSecret()
			k := &ingestKeyRec{key: kiln.IngestKey{ID: s.id(), AppID: id, Name: in.Name, Prefix: secret[:12], RateLimit: in.RateLimit, CreatedAt: s.now()}, secret: secret}
			a.keys = append(a.keys, k)
			a.secrets[secret] = k.key.ID
			writeJSON(w, http.StatusCreated, map[string]any{"key": k.key, "secret": secret})
		case "POST /v1/apps/{id}/ingest-keys/{key_id}/rotate":
			k := findKey()
			if k == nil {
				return
			}
			delete(a.secrets, k.secret)
			k.secret = newIngestSecret()
			now := s.now()
			k.key.Prefix, k.key.RotatedAt = k.secret[:12], &now
			a.secrets[k.secret] = k.key.ID
			writeJSON(w, 200, map[string]any{"key": k.key, "secret": k.secret})
		case "GET /v1/apps/{id}/analytics/summary":
			s.summary(w, r, id)
		case "DELETE /v1/apps/{id}/ingest-keys/{key_id}":
			k := findKey()
			if k == nil {
				return
			}
			delete(a.secrets, k.secret)
			a.keys = slices.DeleteFunc(a.keys, func(x *ingestKeyRec) bool { return x == k })
			w.WriteHeader(http.StatusNoContent)
		}
	}
}

// ingest accepts events whose name and timestamp parse; it does not check
// the other rules the real server applies.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, _ *userRec) {
	a := &s.analytics
	secret := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	keyID, ok := a.secrets[secret]
	if !ok {
		problem(w, http.StatusUnauthorized, kiln.EUnauthorized, "unknown or revoked ingest key")
		return
	}
	var appID int64
	for _, k := range a.keys {
		if k.key.ID == keyID {
			appID = k.key.AppID
		}
	}
	var rd io.Reader = http.MaxBytesReader(w, r.Body, kiln.MaxIngestBytes)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			problem(w, http.StatusBadRequest, "malformed", "not gzip")
			return
		}
		rd = io.LimitReader(zr, kiln.MaxIngestBytes)
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		problem(w, http.StatusRequestEntityTooLarge, kiln.ETooLarge, "too large")
		return
	}
	var raws []json.RawMessage
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		_ = json.Unmarshal(t, &raws)
	} else {
		for line := range bytes.Lines(body) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				raws = append(raws, line)
			}
		}
	}
	res := kiln.IngestResult{Rejected: []kiln.EventRejection{}}
	for i, raw := range raws {
		var e kiln.Event
		if err := json.Unmarshal(raw, &e); err != nil || e.Name == "" || e.Time.IsZero() {
			res.Rejected = append(res.Rejected, kiln.EventRejection{Index: i, Errors: []string{"name and timestamp are required"}})
			continue
		}
		e.AppID, e.KeyID = appID, keyID
		a.events = append(a.events, e)
		res.Accepted++
	}
	writeJSON(w, http.StatusAccepted, res)
}

// summary counts the stored events of an app per bucket and name.
func (s *Server) summary(w http.ResponseWriter, r *http.Request, appID int64) {
	q := r.URL.Query()
	to := s.now()
	if v := q.Get("to"); v != "" {
		to, _ = time.Parse(time.RFC3339Nano, v)
	}
	from := to.Add(-24 * time.Hour)
	if v := q.Get("from"); v != "" {
		from, _ = time.Parse(time.RFC3339Nano, v)
	}
	iv := kiln.Interval(q.Get("interval"))
	if iv == "" {
		iv = kiln.IntervalHour
	}
	width := iv.Duration()
	from, to = from.Truncate(width), to.Add(width-1).Truncate(width)
	sum := kiln.Summary{AppID: appID, From: from, To: to, Interval: iv, Event: q.Get("event"),
		Series: []kiln.Point{}, TopEvents: []kiln.NameCount{}, TopProperties: []kiln.PropertyValues{}}
	counts := map[string]int64{}
	for t := from; t.Before(to); t = t.Add(width) {
		p := kiln.Point{Time: t}
		for _, e := range s.analytics.events {
			if e.AppID != appID || e.Time.Before(t) || !e.Time.Before(t.Add(width)) {
				continue
			}
			counts[e.Name]++
			if sum.Event == "" || e.Name == sum.Event {
				p.Count++
			}
		}
		sum.Totals.Count += p.Count
		sum.Series = append(sum.Series, p)
	}
	for name, n := range counts {
		sum.TopEvents = append(sum.TopEvents, kiln.NameCount{Name: name, Count: n})
	}
	slices.SortFunc(sum.TopEvents, func(a, b kiln.NameCount) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, 200, sum)
}
