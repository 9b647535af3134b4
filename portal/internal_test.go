package portal

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	kiln "github.com/kiln-build/kiln"
)

func TestANSISegments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []segment
	}{
		{"plain <b>text</b>", []segment{{Text: "plain <b>text</b>"}}},
		{"\x1b[32mok\x1b[0m  \tpkg", []segment{{Text: "ok", Class: "fg2"}, {Text: "  \tpkg"}}},
		{"\x1b[1;31mFAIL\x1b[22m x\x1b[39m y", []segment{{Text: "FAIL", Class: "fg1 b"}, {Text: " x", Class: "fg1"}, {Text: " y"}}},
		{"\x1b[94mbright\x1b[m", []segment{{Text: "bright", Class: "fg12"}}},
		{"\x1b[38;5;3mpal\x1b[38;5;200mbig\x1b[38;2;1;2;3mrgb", []segment{{Text: "pal", Class: "fg3"}, {Text: "big", Class: "fg3"}, {Text: "rgb", Class: "fg3"}}},
		{"\x1b[41;4mbg\x1b[0m", []segment{{Text: "bg", Class: "bg1 u"}}},
		{"a\x1b[2Kb\x1b]0;title\x07c", []segment{{Text: "abc"}}},
		{"bell\x07 and \x1b[", []segment{{Text: "bell and "}}},
		{"\x1b[0m", []segment{{}}},
		{"cr\r\x00x", []segment{{Text: "crx"}}},
	} {
		if got := ansiSegments(tc.in); !cmp.Equal(got, tc.want) {
			t.Errorf("ansiSegments(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestSpecForm(t *testing.T) {
	t.Parallel()
	spec := &kiln.AppSpec{KilnSpec: 1, Name: "shop", Summary: "A shop",
		Entities: []kiln.Entity{
			{Name: "customer", Plural: "customers", Fields: []kiln.Field{{Name: "name", Type: kiln.FieldString, Required: true, Unique: true}}},
			{Name: "order", Plural: "orders", Fields: []kiln.Field{
				{Name: "total", Type: kiln.FieldDecimal, Default: 1.5},
				{Name: "paid", Type: kiln.FieldBoolean, Default: false},
				{Name: "note", Type: kiln.FieldText, Default: "none"},
			}},
		},
		Relations: []kiln.Relation{{From: "order", To: "customer", Kind: kiln.RelationBelongsTo, Field: "customer_id", Required: true}},
		Features:  []string{kiln.FeatureSearch, kiln.FeatureUI},
	}
	f := newSpecForm(spec)
	// What the editor renders, posted back, is the same spec.
	form := url.Values{"spec.name": {"shop"}, "spec.summary": {" A shop "}, "entities": {"2"}, "relations": {"1"},
		"spec.features": {"ui", "search", "bogus"},
		"e0.name":       {"customer"}, "e0.plural": {"customers"}, "e0.fields": {"1"},
		"e0.f0.name": {"name"}, "e0.f0.type": {"string"}, "e0.f0.required": {"1"}, "e0.f0.unique": {"1"},
		"e1.name": {"order"}, "e1.plural": {"orders"}, "e1.fields": {"3"},
		"e1.f0.name": {"total"}, "e1.f0.type": {"decimal"}, "e1.f0.default": {"1.5"},
		"e1.f1.name": {"paid"}, "e1.f1.type": {"boolean"}, "e1.f1.default": {"false"},
		"e1.f2.name": {"note"}, "e1.f2.type": {"text"}, "e1.f2.default": {"none"},
		"r0.from": {"order"}, "r0.to": {"customer"}, "r0.field": {"customer_id"}, "r0.required": {"1"},
	}
	parsed := parseSpecForm(form)
	if diff := cmp.Diff(f, parsed); diff != "" {
		t.Fatalf("form round trip (-rendered +posted):\n%s", diff)
	}
	want := *spec
	want.Features = []string{kiln.FeatureSearch, kiln.FeatureUI}
	if diff := cmp.Diff(&want, parsed.spec()); diff != "" {
		t.Fatalf("spec (-want +got):\n%s", diff)
	}

	// Editing buttons.
	for _, tc := range []struct {
		op    string
		check func(*specForm) bool
	}{
		{"add-field:1", func(f *specForm) bool {
			return len(f.Entities[1].Fields) == 4 && f.Entities[1].Fields[3].Type == "string"
		}},
		{"del-field:1:0", func(f *specForm) bool {
			return len(f.Entities[1].Fields) == 2 && f.Entities[1].Fields[0].Name == "paid"
		}},
		{"add-entity", func(f *specForm) bool { return len(f.Entities) == 3 }},
		{"del-entity:0", func(f *specForm) bool { return len(f.Entities) == 1 && f.Entities[0].Name == "order" }},
		{"add-relation", func(f *specForm) bool { return len(f.Relations) == 2 }},
		{"del-relation:0", func(f *specForm) bool { return len(f.Relations) == 0 }},
		{"del-field:9:9", func(f *specForm) bool { return len(f.Entities) == 2 }},
	} {
		g := parseSpecForm(form)
		if !g.apply(tc.op) || !tc.check(g) {
			t.Errorf("%s: %+v", tc.op, g)
		}
	}
	if parseSpecForm(form).apply("save") {
		t.Error("save is not an editing operation")
	}

	// Counters are bounded.
	huge := url.Values{"entities": {"1000000"}, "e0.fields": {"99999999"}}
	if g := parseSpecForm(huge); len(g.Entities) != maxFormEntities || len(g.Entities[0].Fields) != maxFormFields {
		t.Errorf("unbounded form: %d entities", len(g.Entities))
	}

	// API problems land beside their inputs or in the summary.
	err := &kiln.Error{Code: kiln.EInvalid, Message: "invalid", Fields: []kiln.FieldError{
		{Path: "body.spec.entities[1].fields[0].default", Message: "must be a number"},
		{Path: "body.spec.relations[0].field", Message: "clashes"},
		{Path: "body.spec.entities", Message: "too many"},
		{Path: "body.description", Message: "not a spec problem"},
	}}
	g := parseSpecForm(form)
	g.setErrors(err, "body.spec.")
	if g.Err("entities[1].fields[0].default") != "must be a number" || g.Err("relations[0].field") != "clashes" ||
		!cmp.Equal(g.Other, []string{"entities: too many"}) || g.ErrorCount() != 3 {
		t.Errorf("errors %v other %v", g.Errors, g.Other)
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "/", "/apps/1?x=2": "/apps/1?x=2", "//evil": "/", "/\\evil": "/", "https://evil": "/", "apps": "/", "/a\r\nSet-Cookie: x": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSeal(t *testing.T) {
	t.Parallel()
	secret := newSecret(32)
	id := sessionID(secret)
	d := &sessionData{AccessToken: "a", RefreshToken: "r", CSRF: "c", User: kiln.User{ID: 7, Email: "x@example.com"}}
	sealed := seal(secret, id, d)
	got, err := open(secret, id, sealed)
	if err != nil || !cmp.Equal(d, got) {
		t.Fatalf("open: %v %+v", err, got)
	}
	if _, err := open(newSecret(32), id, sealed); err == nil {
		t.Error("opened with another secret")
	}
	if _, err := open(secret, sessionID(newSecret(32)), sealed); err == nil {
		t.Error("opened under another session id")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := open(secret, id, sealed); err == nil {
		t.Error("opened tampered data")
	}
	if _, err := open(secret, id, []byte{1}); err == nil {
		t.Error("opened short data")
	}
}

func TestInprocTransport(t *testing.T) {
	t.Parallel()
	h := http.NewServeMux()
	h.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "11")
		w.Header().Set("X-Addr", r.RemoteAddr)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "hello ")
		w.Header().Set("X-Late", "ignored") // after the status: not sent
		io.WriteString(w, "world")
	})
	h.HandleFunc("GET /abort", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	})
	h.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) {})
	c := &http.Client{Transport: inprocTransport{h: h}}
	ctx := withRemoteAddr(context.Background(), "203.0.113.9:1234")

	req, _ := http.NewRequestWithContext(ctx, "GET", "http://kiln.internal/ok", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted || string(body) != "hello world" || res.ContentLength != 11 ||
		res.Header.Get("X-Addr") != "203.0.113.9:1234" || res.Header.Get("X-Late") != "" {
		t.Errorf("%d %q %d %v", res.StatusCode, body, res.ContentLength, res.Header)
	}

	req, _ = http.NewRequest("GET", "http://kiln.internal/abort", nil)
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(res.Body)
	if !errors.Is(err, errHandlerAborted) {
		t.Errorf("aborted body read: %v", err)
	}

	req, _ = http.NewRequest("GET", "http://kiln.internal/empty", nil)
	res, err = c.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("%v %v", err, res)
	}
	if b, _ := io.ReadAll(res.Body); len(b) != 0 || !strings.Contains(res.Status, "200") {
		t.Errorf("%q %s", b, res.Status)
	}
}

func TestDiffSpecs(t *testing.T) {
	t.Parallel()
	a := &kiln.AppSpec{KilnSpec: 1, Name: "shop", Summary: "old",
		Entities: []kiln.Entity{
			{Name: "customer", Plural: "customers", Fields: []kiln.Field{{Name: "name", Type: kiln.FieldString}, {Name: "fax", Type: kiln.FieldString}}},
			{Name: "coupon", Plural: "coupons", Fields: []kiln.Field{{Name: "code", Type: kiln.FieldString}}},
		},
		Relations: []kiln.Relation{{From: "coupon", To: "customer", Field: "customer_id"}},
		Features:  []string{"search"},
	}
	b := &kiln.AppSpec{KilnSpec: 1, Name: "shop", Summary: "new",
		Entities: []kiln.Entity{
			{Name: "customer", Plural: "clients", Fields: []kiln.Field{{Name: "name", Type: kiln.FieldString, Required: true}, {Name: "age", Type: kiln.FieldInteger, Default: float64(18)}}},
			{Name: "order", Plural: "orders", Fields: []kiln.Field{{Name: "total", Type: kiln.FieldDecimal}}},
		},
		Relations: []kiln.Relation{{From: "order", To: "customer", Field: "customer_id", Required: true}},
		Features:  []string{"analytics"},
	}
	want := []change{
		{Kind: "changed", What: "summary", From: "old", To: "new"},
		{Kind: "changed", What: "plural of customer", From: "customers", To: "clients"},
		{Kind: "changed", What: "field customer.name", From: "string", To: "string, required"},
		{Kind: "added", What: "field customer.age", To: "integer, default 18"},
		{Kind: "removed", What: "field customer.fax", From: "string"},
		{Kind: "added", What: "entity order", To: "orders: total decimal"},
		{Kind: "removed", What: "entity coupon", From: "coupons: code string"},
		{Kind: "added", What: "relation order.customer_id", To: "order belongs to customer through customer_id (required)"},
		{Kind: "removed", What: "relation coupon.customer_id", From: "coupon belongs to customer through customer_id"},
		{Kind: "added", What: "feature analytics", To: "analytics"},
		{Kind: "removed", What: "feature search", From: "search"},
	}
	if diff := cmp.Diff(want, diffSpecs(a, b)); diff != "" {
		t.Errorf("diffSpecs (-want +got):\n%s", diff)
	}
	if got := diffSpecs(a, a); len(got) != 0 {
		t.Errorf("a spec differs from itself: %v", got)
	}
	if got := diffSpecs(nil, a); len(got) != 6 || got[0].What != "app name" {
		t.Errorf("from nothing: %v", got)
	}

	files := diffArtifacts(
		[]*kiln.Artifact{{Name: "a.tgz", SHA256: "aaaaaaaaaaaaaaaa", Size: 10}, {Name: "gone", SHA256: "x", Size: 1}, {Name: "same", SHA256: "s"}},
		[]*kiln.Artifact{{Name: "a.tgz", SHA256: "bbbbbbbbbbbbbbbb", Size: 2048}, {Name: "new", SHA256: "n"}, {Name: "same", SHA256: "s"}})
	wantFiles := []change{
		{Kind: "changed", What: "a.tgz", From: "10 B, sha256 aaaaaaaaaaaa", To: "2.0 KB, sha256 bbbbbbbbbbbb"},
		{Kind: "added", What: "new", To: "0 B, sha256 n"},
		{Kind: "removed", What: "gone", From: "1 B, sha256 x"},
	}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("diffArtifacts (-want +got):\n%s", diff)
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	n := int64(4986000)
	for _, tc := range []struct {
		in   any
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {int64(5000000), "5,000,000"}, {int64(-1234567), "-1,234,567"},
		{&n, "4,986,000"}, {(*int64)(nil), ""}, {123456, "123,456"},
	} {
		if got := thousands(tc.in); got != tc.want {
			t.Errorf("thousands(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
