package plan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/plan"
)

// MustPlan plans desc with Rules and checks that the spec validates and
// survives kiln.ParseSpec.
func MustPlan(tb testing.TB, desc string) *kiln.AppSpec {
	tb.Helper()
	s, err := plan.Rules{}.Plan(context.Background(), desc)
	if err != nil {
		tb.Fatalf("Plan(%q): %v", desc, err)
	}
	if err := s.Validate(); err != nil {
		tb.Fatalf("Plan(%q) returned a spec that fails Validate: %v", desc, err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := kiln.ParseSpec(b); err != nil {
		tb.Fatalf("Plan(%q): ParseSpec rejects the spec: %v", desc, err)
	}
	return s
}

// describe renders a spec's entities as "book/books: title string!, isbn
// string unique, done boolean=false" (! = required) and its relations as
// "loan.book_id -> book!" (! = required).
func describe(s *kiln.AppSpec) (entities, relations []string) {
	for _, e := range s.Entities {
		var fs []string
		for _, f := range e.Fields {
			x := f.Name + " " + string(f.Type)
			if f.Required {
				x += "!"
			}
			if f.Unique {
				x += " unique"
			}
			if f.Default != nil {
				j, _ := json.Marshal(f.Default)
				x += "=" + string(j)
			}
			fs = append(fs, x)
		}
		entities = append(entities, e.Name+"/"+e.Plural+": "+strings.Join(fs, ", "))
	}
	for _, r := range s.Relations {
		x := r.From + "." + r.Field + " -> " + r.To
		if r.Required {
			x += "!"
		}
		relations = append(relations, x)
	}
	return entities, relations
}

func TestRules_Plan(t *testing.T) {
	t.Parallel()
	if len(planCases) < 40 {
		t.Fatalf("only %d cases", len(planCases))
	}
	for i, tt := range planCases {
		t.Run(fmt.Sprintf("%02d", i), func(t *testing.T) {
			t.Parallel()
			s := MustPlan(t, tt.desc)
			entities, relations := describe(s)
			if diff := cmp.Diff(tt.entities, entities); diff != "" {
				t.Errorf("%q: entities (-want +got):\n%s", tt.desc, diff)
			}
			if diff := cmp.Diff(tt.relations, relations); diff != "" {
				t.Errorf("%q: relations (-want +got):\n%s", tt.desc, diff)
			}
			if s.Name != tt.name {
				t.Errorf("%q: name = %q, want %q", tt.desc, s.Name, tt.name)
			}
			if s.KilnSpec != kiln.SpecVersion {
				t.Errorf("kiln_spec = %d", s.KilnSpec)
			}
			if !strings.Contains(strings.Join(s.Features, ","), kiln.FeatureUI) {
				t.Errorf("features %v lack ui", s.Features)
			}
		})
	}
}
