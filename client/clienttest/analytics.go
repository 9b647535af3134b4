package clienttest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/kiln-build/kiln"
)

// analyticsState is the fake's analytics data.
type analyticsState struct {
	keys    []*ingestKeyRec
	secrets map[string]int64 // secret → key id
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
