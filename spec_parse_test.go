package kiln_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kiln-build/kiln"
)

// mustJSON encodes v.
func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseSpec(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		want := MustValidSpec(t)
		got, err := kiln.ParseSpec(mustJSON(t, want))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip differs:\n got %+v\nwant %+v", got, want)
		}
		if got.Hash() != want.Hash() {
			t.Error("hash changed in a round trip")
		}
	})

	t.Run("OKTrailingWhitespaceAndNulls", func(t *testing.T) {
		t.Parallel()
		in := `{"kiln_spec":1,"name":"todo","entities":[{"name":"task","plural":"tasks","fields":[{"name":"title","type":"string","default":null}]}],"relations":null,"features":null}` + "\n\t "
		if _, err := kiln.ParseSpec([]byte(in)); err != nil {
			t.Fatal(err)
		}
	})

	valid := string(mustJSON(t, MustValidSpec(t)))
	tests := []struct {
		name, in, code, path, substr string
	}{
		{"Empty", ``, kiln.EInvalid, "", "unexpected end"},
		{"Syntax", `{"kiln_spec":1,`, kiln.EInvalid, "", "not valid JSON"},
		{"NotObject", `[1,2]`, kiln.EInvalid, "", "must be a JSON object"},
		{"Null", `null`, kiln.EInvalid, "", "must be a JSON object"},
		{"TwoValues", valid + valid, kiln.EInvalid, "", "single JSON value"},
		{"TrailingGarbage", valid + ` x`, kiln.EInvalid, "", "single JSON value"},
		{"TooLarge", `{"summary":"` + strings.Repeat("a", kiln.MaxSpecBytes) + `"}`, kiln.ETooLarge, "", "larger than"},
		{"UnknownTopKey", strings.Replace(valid, `"name":"library"`, `"name":"library","colour":"red"`, 1), kiln.EInvalid, "colour", "not a known key"},
		{"WrongCaseKey", strings.Replace(valid, `"name":"library"`, `"Name":"library"`, 1), kiln.EInvalid, "Name", "not a known key"},
		{"UnknownFieldKey", strings.Replace(valid, `"name":"title","type":"string"`, `"name":"title","type":"string","size":80`, 1), kiln.EInvalid, "entities[1].fields[0].size", "not a known key"},
		{"UnknownRelationKey", strings.Replace(valid, `"from":"loan"`, `"from":"loan","on_delete":"cascade"`, 1), kiln.EInvalid, "relations[1].on_delete", "not a known key"},
		{"HostileKeyIsCut", `{"` + strings.Repeat("k", 5000) + `\n":1}`, kiln.EInvalid, `"` + strings.Repeat("k", 40) + `…"`, "not a known key"},
		{"VersionString", strings.Replace(valid, `"kiln_spec":1`, `"kiln_spec":"1"`, 1), kiln.EInvalid, "kiln_spec", "whole number"},
		{"VersionFraction", strings.Replace(valid, `"kiln_spec":1`, `"kiln_spec":1.5`, 1), kiln.EInvalid, "kiln_spec", "whole number"},
		{"NameNumber", strings.Replace(valid, `"name":"library"`, `"name":7`, 1), kiln.EInvalid, "name", "must be a string"},
		{"EntitiesObject", strings.Replace(valid, `"entities":[`, `"entities":{"a":[`, 1), kiln.EInvalid, "", "not valid JSON"},
		{"EntitiesNull", `{"kiln_spec":1,"name":"x","entities":null}`, kiln.EInvalid, "entities", "must be an array"},
		{"EntityNotObject", `{"kiln_spec":1,"name":"x","entities":["book"]}`, kiln.EInvalid, "entities[0]", "must be a JSON object"},
		{"RequiredString", strings.Replace(valid, `"required":true`, `"required":"yes"`, 1), kiln.EInvalid, "entities[0].fields[0].required", "true or false"},
		{"DefaultArray", strings.Replace(valid, `"default":2024`, `"default":[2024]`, 1), kiln.EInvalid, "entities[1].fields[1].default", "string, number, boolean or null"},
		{"DefaultOutOfRange", strings.Replace(valid, `"default":2024`, `"default":1e400`, 1), kiln.EInvalid, "entities[1].fields[1].default", "out of range"},
		{"FeatureNumber", strings.Replace(valid, `"features":["ui"`, `"features":[1`, 1), kiln.EInvalid, "features[0]", "must be a string"},
		// Well-formed JSON that fails Validate gives Validate's paths.
		{"InvalidSpec", strings.Replace(valid, `"name":"title"`, `"name":"select"`, 1), kiln.EInvalid, "entities[1].fields[0].name", "reserved"},
		{"InvalidDefaultType", strings.Replace(valid, `"default":2024`, `"default":"2024"`, 1), kiln.EInvalid, "entities[1].fields[1].default", "must be a number"},
	}
	for _, tt := range tests {
		t.Run("Err"+tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := kiln.ParseSpec([]byte(tt.in))
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			if s != nil {
				t.Error("returned a spec with an error")
			}
			if got := kiln.ErrorCode(err); got != tt.code {
				t.Fatalf("code = %s, want %s (%v)", got, tt.code, err)
			}
			var e *kiln.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *kiln.Error", err)
			}
			if tt.path == "" {
				if !strings.Contains(e.Message, tt.substr) {
					t.Errorf("message = %q, want it to contain %q", e.Message, tt.substr)
				}
				return
			}
			for _, fe := range e.Fields {
				if fe.Path == tt.path && strings.Contains(fe.Message, tt.substr) {
					if !strings.Contains(e.Message, tt.path) && len(e.Fields) == 1 {
						t.Errorf("message %q does not name the path", e.Message)
					}
					return
				}
			}
			t.Errorf("no error at %s containing %q; got %+v", tt.path, tt.substr, e.Fields)
		})
	}
}

// FuzzParseSpec checks that ParseSpec never panics, that every spec it
// accepts passes Validate, and that an accepted spec survives a JSON round
// trip unchanged.
func FuzzParseSpec(f *testing.F) {
	valid := mustJSON(f, MustValidSpec(f))
	f.Add(valid)
	f.Add([]byte(`{"kiln_spec":1,"name":"todo","entities":[{"name":"task","plural":"tasks","fields":[{"name":"done","type":"boolean","default":false}]}]}`))
	f.Add([]byte(`{"kiln_spec":1,"name":"a","entities":[{"name":"b","plural":"bs","fields":[{"name":"n","type":"integer","default":9007199254740993}]}]}`))
	f.Add([]byte(`{"kiln_spec":1,"name":"a","entities":[{"name":"b","plural":"bs","fields":[{"name":"n","type":"decimal","default":-0.0}]}],"features":["search"]}`))
	f.Add([]byte(`{"kiln_spec":1,"name":"a","entities":[{"name":"b","plural":"bs","fields":[{"name":"u","type":"url","default":"http://h/\u0000"}]}]}`))
	f.Add([]byte(`{"kiln_spec":1,"name":"a","summary":"\ud800","entities":[]}`))
	f.Add([]byte(`{"kiln_spec":1e0}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := kiln.ParseSpec(data)
		if err != nil {
			if s != nil {
				t.Fatal("spec and error both returned")
			}
			if c := kiln.ErrorCode(err); c != kiln.EInvalid && c != kiln.ETooLarge {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseSpec accepted a spec that fails Validate: %v", err)
		}
		again, err := kiln.ParseSpec(mustJSON(t, s))
		if err != nil {
			t.Fatalf("re-encoded spec rejected: %v", err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip changed the spec:\n%+v\n%+v", s, again)
		}
	})
}
