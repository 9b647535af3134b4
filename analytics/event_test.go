package analytics_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/analytics"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		body := `[{"name":"buy","timestamp":"2026-03-01T11:00:00.123456789+01:00","user_id":"u","session_id":"s","value":-2.5,
			"properties":{"sku":"A-1","qty":3,"gift":true,"note":"ünïcode"}}]`
		events, rejected, err := analytics.Parse([]byte(body), now, kiln.MaxEventAge)
		if err != nil || len(rejected) != 0 || len(events) != 1 {
			t.Fatalf("%v %v %v", events, rejected, err)
		}
		e := events[0]
		if e.Name != "buy" || !e.Time.Equal(time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)) || e.UserID != "u" || e.SessionID != "s" || *e.Value != -2.5 {
			t.Fatalf("%+v", e)
		}
		if e.Properties["sku"] != "A-1" || e.Properties["qty"] != 3.0 || e.Properties["gift"] != true || e.Properties["note"] != "ünïcode" {
			t.Fatalf("%+v", e.Properties)
		}
	})
	t.Run("MaxAge", func(t *testing.T) {
		line := `{"name":"x","timestamp":"2026-02-20T12:00:00Z"}`
		_, rejected, err := analytics.Parse([]byte(line), now, 7*24*time.Hour)
		if err != nil || len(rejected) != 1 || !strings.Contains(rejected[0].Errors[0], "more than 7 days in the past") {
			t.Fatalf("%v %v", rejected, err)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for name, tc := range map[string]struct {
			body string
			code string
		}{
			"Empty":       {"", kiln.EInvalid},
			"BlankLines":  {"\n \n", kiln.EInvalid},
			"EmptyArray":  {"[ ]", kiln.EInvalid},
			"TooMany":     {strings.Repeat("{}\n", kiln.MaxIngestEvents+1), kiln.ETooLarge},
			"BrokenArray": {`[{}, {`, "malformed"},
		} {
			_, _, err := analytics.Parse([]byte(tc.body), now, kiln.MaxEventAge)
			var me *analytics.MalformedError
			if tc.code == "malformed" && !errors.As(err, &me) || tc.code != "malformed" && kiln.ErrorCode(err) != tc.code {
				t.Errorf("%s: %v, want %s", name, err, tc.code)
			}
		}
	})
}

func TestReadBody(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte("hello"))
	_ = zw.Close()
	got, err := analytics.ReadBody(buf.Bytes(), "GZIP")
	if err != nil || string(got) != "hello" {
		t.Fatalf("%q %v", got, err)
	}
	got, err = analytics.ReadBody([]byte("plain"), "identity")
	if err != nil || string(got) != "plain" {
		t.Fatalf("%q %v", got, err)
	}
	// Concatenated gzip members still count toward one cap.
	var bomb bytes.Buffer
	for range 3 {
		zw := gzip.NewWriter(&bomb)
		_, _ = zw.Write(make([]byte, kiln.MaxIngestBytes/2+1))
		_ = zw.Close()
	}
	if _, err := analytics.ReadBody(bomb.Bytes(), "gzip"); kiln.ErrorCode(err) != kiln.ETooLarge {
		t.Fatalf("multi-member bomb: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	l := analytics.NewLimiter()
	// Rate 10/s: the bucket holds one full request.
	if ok, _ := l.Allow(1, 10, kiln.MaxIngestEvents, now); !ok {
		t.Fatal("a full request is refused")
	}
	ok, wait := l.Allow(1, 10, 5, now)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("ok %v wait %s, want refused for 500ms", ok, wait)
	}
	if ok, _ := l.Allow(1, 10, 5, now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after the wait")
	}
	if ok, _ := l.Allow(2, 10, 1, now); !ok {
		t.Fatal("another key is limited")
	}
}

// FuzzParse checks that Parse never panics and accounts for every event.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`[{"name":"a","timestamp":"2026-03-01T12:00:00Z","properties":{"k":1}}]`))
	f.Add([]byte("{\"name\":\"a\",\"timestamp\":\"2026-03-01T12:00:00Z\"}\n{\"x\":\xff}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		events, rejected, err := analytics.Parse(b, now, kiln.MaxEventAge)
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, r := range rejected {
			if seen[r.Index] || len(r.Errors) == 0 {
				t.Fatalf("bad rejection %+v", r)
			}
			seen[r.Index] = true
		}
		for _, e := range events {
			if e.Name == "" || e.Time.IsZero() || len(e.Properties) > kiln.MaxEventProperties {
				t.Fatalf("accepted a bad event %+v", e)
			}
		}
	})
}
