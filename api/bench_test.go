package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

// BenchmarkGetBuild compares an authenticated GET /v1/builds/{id} through
// the whole API (request id, logging, metrics, JWT check with the user
// re-read, Huma, build and steps reads) with a bare net/http handler that
// reads the same build from the same store and writes it as JSON. The
// issue's target: Kiln/Bare throughput ≥ 0.5. The Bare and Kiln
// sub-benchmarks give each side's ns/op; Ratio interleaves the two in
// rounds (so load from elsewhere on a shared machine hits both alike) and
// reports the median per-round throughput ratio as kiln/bare.
func BenchmarkGetBuild(b *testing.B) {
	srv, db := MustServerDB(b)
	tok := MustToken(b, srv, "ada@example.com")
	r := do(b, srv, "POST", "/v1/apps", tok, strings.NewReader(`{"description":"a todo app with tasks (title)"}`))
	var created struct{ Build kiln.Build }
	if err := json.Unmarshal(r.body, &created); err != nil {
		b.Fatal(err)
	}
	path := "/v1/builds/" + strconv.FormatInt(created.Build.ID, 10)
	kilnHandler := srv.Config.Handler

	// The bare baseline reads through the Kiln API once to get the user
	// context right, then serves from the same store without middleware.
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	kilnHandler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("kiln: %d %s", rec.Code, rec.Body)
	}
	builds := sqlstore.NewBuildService(db)
	user := &kiln.User{ID: created.Build.OwnerID, Role: kiln.RoleAdmin}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bd, err := builds.FindBuildByID(kiln.NewContextWithUser(r.Context(), user), created.Build.ID)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bd)
	})

	serve := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.Run("Ratio", func(b *testing.B) {
		const perRound = 100
		var ratios []float64
		for b.Loop() {
			start := time.Now()
			for range perRound {
				serve(b, bare)
			}
			bareDur := time.Since(start)
			start = time.Now()
			for range perRound {
				serve(b, kilnHandler)
			}
			ratios = append(ratios, float64(bareDur)/float64(time.Since(start)))
		}
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "kiln/bare")
	})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"Bare", bare}, {"Kiln", kilnHandler}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", path, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					rec := httptest.NewRecorder()
					tc.h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}
