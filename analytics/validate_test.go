package analytics

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	kiln "github.com/kiln-build/kiln"
)

// TestValidateFastAgreesWithSlow draws events near every rule's edge and
// checks that the one-pass fast path accepts only what the field-by-field
// check accepts, with the same result.
func TestValidateFastAgreesWithSlow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	str := func(n int) *rapid.Generator[string] {
		return rapid.OneOf(rapid.StringN(0, n, -1), rapid.Just(strings.Repeat("é", n)), rapid.Just(" x"), rapid.Just("a\tb"))
	}
	rapid.Check(t, func(t *rapid.T) {
		m := map[string]any{}
		if rapid.Bool().Draw(t, "hasName") {
			m["name"] = str(101).Draw(t, "name")
		}
		if rapid.Bool().Draw(t, "hasTime") {
			off := time.Duration(rapid.IntRange(-31*24, 26).Draw(t, "hours")) * time.Hour
			m["timestamp"] = now.Add(off).Format(time.RFC3339Nano)
		}
		if rapid.Bool().Draw(t, "hasUser") {
			m["user_id"] = rapid.OneOf(rapid.Just[any](nil), rapid.Just[any](3.0), rapid.Map(str(129), func(s string) any { return s })).Draw(t, "user")
		}
		if rapid.Bool().Draw(t, "hasValue") {
			m["value"] = rapid.OneOf(rapid.Just[any](nil), rapid.Just[any]("1"), rapid.Map(rapid.Float64(), func(f float64) any { return f })).Draw(t, "value")
		}
		if rapid.Bool().Draw(t, "hasProps") {
			n := rapid.IntRange(0, 34).Draw(t, "nprops")
			props := map[string]any{}
			for i := range n {
				props[fmt.Sprintf("k%d", i)] = rapid.OneOf(
					rapid.Just[any](true), rapid.Just[any](nil), rapid.Just[any]([]any{1}), rapid.Just[any](map[string]any{}),
					rapid.Map(str(257), func(s string) any { return s }), rapid.Just[any](1.5),
				).Draw(t, "prop")
			}
			m["properties"] = props
		}
		if rapid.IntRange(0, 9).Draw(t, "extra") == 0 {
			m["extra"] = 1
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Skip("not JSON:", err)
		}
		fast, ok := validateFast(raw, now, kiln.MaxEventAge)
		slow, errs := validateSlow(raw, now, kiln.MaxEventAge)
		if !ok {
			return
		}
		if len(errs) > 0 {
			t.Fatalf("fast path accepted %s; slow path: %v", raw, errs)
		}
		fast.PropertiesJSON = nil
		if v := fast.Value; v != nil && math.IsNaN(*v) {
			t.Fatal("NaN accepted")
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast %+v != slow %+v for %s", fast, slow, raw)
		}
	})
}

// FuzzValidateFast feeds arbitrary bytes to the fast path: whatever it
// accepts is valid JSON that the slow path accepts the same way.
func FuzzValidateFast(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Add([]byte(`{"name":"a","timestamp":"2026-03-01T12:00:00Z","value":-1.5e3,"properties":{"k":"v\u00e9","n":1,"b":false}}`))
	f.Add([]byte(`{"name":"a\n","timestamp":"2026-03-01T12:00:00Z","user_id":null}`))
	f.Add([]byte(` { "timestamp" : "2026-03-01T11:00:00+01:00" , "name" : "x" , "properties" : { } } `))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, ok := validateFast(raw, now, kiln.MaxEventAge)
		if !ok {
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("fast path accepted invalid JSON %q", raw)
		}
		slow, errs := validateSlow(raw, now, kiln.MaxEventAge)
		if len(errs) > 0 {
			t.Fatalf("fast path accepted %q; slow path: %v", raw, errs)
		}
		if len(fast.PropertiesJSON) > 0 && !json.Valid(fast.PropertiesJSON) {
			t.Fatalf("properties JSON %q", fast.PropertiesJSON)
		}
		fast.PropertiesJSON = nil
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast %+v != slow %+v for %q", fast, slow, raw)
		}
	})
}
