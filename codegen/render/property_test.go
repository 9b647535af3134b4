package render_test

import (
	"bytes"
	"fmt"
	"go/format"
	"strings"
	"testing"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/templates"
	"pgregory.net/rapid"
)

// specGen draws AppSpecs of every shape the validator accepts: odd names,
// every field type with and without defaults, unique and required flags,
// and chains of required and optional relations, self-references included.
func specGen() *rapid.Generator[*kiln.AppSpec] {
	ident := rapid.StringMatching(`[a-z][a-z0-9]{0,6}(_[a-z0-9]{1,4}){0,2}`)
	return rapid.Custom(func(t *rapid.T) *kiln.AppSpec {
		spec := &kiln.AppSpec{KilnSpec: kiln.SpecVersion, Name: ident.Draw(t, "name")}
		if rapid.Bool().Draw(t, "features") {
			spec.Features = []string{kiln.FeatureSearch, kiln.FeatureUI}
		}
		n := rapid.IntRange(1, 5).Draw(t, "entities")
		for i := range n {
			name := ident.Draw(t, fmt.Sprintf("entity%d", i))
			e := kiln.Entity{Name: name, Plural: render.Plural(name)}
			for j := range rapid.IntRange(1, 6).Draw(t, fmt.Sprintf("fields%d", i)) {
				typ := rapid.SampledFrom(kiln.FieldTypes).Draw(t, "type")
				f := kiln.Field{
					Name:     ident.Draw(t, fmt.Sprintf("field%d_%d", i, j)),
					Type:     typ,
					Required: rapid.Bool().Draw(t, "required"),
					Unique:   rapid.Bool().Draw(t, "unique"),
				}
				if rapid.Bool().Draw(t, "default") {
					f.Default = map[kiln.FieldType]any{
						kiln.FieldString: "a \"quoted\" `default`", kiln.FieldText: "line\nbreak",
						kiln.FieldInteger: float64(7), kiln.FieldDecimal: "12.50", kiln.FieldBoolean: true,
						kiln.FieldTimestamp: "2026-01-02T15:04:05Z", kiln.FieldDate: "2026-01-02",
						kiln.FieldEmail: "a@example.com", kiln.FieldURL: "https://example.com/",
					}[typ]
				}
				e.Fields = append(e.Fields, f)
			}
			spec.Entities = append(spec.Entities, e)
		}
		for i := range rapid.IntRange(0, 4).Draw(t, "relations") {
			from := rapid.IntRange(0, n-1).Draw(t, "from")
			to := rapid.IntRange(0, n-1).Draw(t, "to")
			spec.Relations = append(spec.Relations, kiln.Relation{
				From: spec.Entities[from].Name, To: spec.Entities[to].Name, Kind: kiln.RelationBelongsTo,
				Field: fmt.Sprintf("%s_ref%d_id", spec.Entities[to].Name, i), Required: from > to && rapid.Bool().Draw(t, "relreq"),
			})
		}
		return spec
	})
}

// TestRenderAnyValidSpec checks that every spec the validator accepts
// renders, deterministically, into parseable gofmt-clean Go with the
// generated-app files in place.
func TestRenderAnyValidSpec(t *testing.T) {
	t.Parallel()
	set, err := templates.Embedded("go-api")
	if err != nil {
		t.Fatal(err)
	}
	valid := 0
	rapid.Check(t, func(t *rapid.T) {
		spec := specGen().Draw(t, "spec")
		if spec.Validate() != nil {
			t.Skip("the validator refuses this spec")
		}
		valid++
		a, err := render.Render(set, spec)
		if err != nil {
			t.Fatalf("Render of a valid spec: %v\n%s", err, spec.Hash())
		}
		b, err := render.Render(set, spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range a.Paths() {
			if !bytes.Equal(a[p], b[p]) {
				t.Fatalf("%s differs between two renders", p)
			}
			if strings.HasSuffix(p, ".go") {
				if got, err := format.Source(a[p]); err != nil || !bytes.Equal(got, a[p]) {
					t.Fatalf("%s is not gofmt-clean: %v", p, err)
				}
			}
		}
		for _, e := range spec.Entities {
			for _, p := range []string{"internal/store/%s_store.go", "internal/api/%s_api.go", "internal/api/%s_api_test.go"} {
				if _, ok := a[fmt.Sprintf(p, e.Name)]; !ok {
					t.Fatalf("no "+p+" in %v", e.Name, a.Paths())
				}
			}
		}
	})
	t.Logf("%d valid specs rendered", valid)
	if valid == 0 {
		t.Error("the generator produced no valid spec")
	}
}
