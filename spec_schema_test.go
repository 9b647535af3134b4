package kiln_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kiln-build/kiln"
)

// schemaDoc is docs/appspec.schema.json decoded with json.Number numbers.
type schemaDoc map[string]any

func mustLoadSchema(tb testing.TB) schemaDoc {
	tb.Helper()
	b, err := os.ReadFile("docs/appspec.schema.json")
	if err != nil {
		tb.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc schemaDoc
	if err := dec.Decode(&doc); err != nil {
		tb.Fatalf("decode schema: %v", err)
	}
	return doc
}

// at walks a slash-separated path of object keys.
func (d schemaDoc) at(tb testing.TB, path string) any {
	tb.Helper()
	var cur any = map[string]any(d)
	for _, k := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			tb.Fatalf("schema %s: %q is not inside an object", path, k)
		}
		if cur, ok = m[k]; !ok {
			tb.Fatalf("schema has no %s", path)
		}
	}
	return cur
}

func (d schemaDoc) obj(tb testing.TB, path string) map[string]any {
	tb.Helper()
	m, ok := d.at(tb, path).(map[string]any)
	if !ok {
		tb.Fatalf("schema %s is not an object", path)
	}
	return m
}

func (d schemaDoc) num(tb testing.TB, path string) int64 {
	tb.Helper()
	n, ok := d.at(tb, path).(json.Number)
	if !ok {
		tb.Fatalf("schema %s is not a number", path)
	}
	i, err := n.Int64()
	if err != nil {
		tb.Fatalf("schema %s: %v", path, err)
	}
	return i
}

func (d schemaDoc) strings(tb testing.TB, path string) []string {
	tb.Helper()
	raw, ok := d.at(tb, path).([]any)
	if !ok {
		tb.Fatalf("schema %s is not an array", path)
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		if out[i], ok = v.(string); !ok {
			tb.Fatalf("schema %s[%d] is not a string", path, i)
		}
	}
	return out
}

// jsonKeys returns the JSON names of a struct type's fields and those
// without omitempty.
func jsonKeys(t reflect.Type) (all, required []string) {
	for i := range t.NumField() {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	slices.Sort(all)
	slices.Sort(required)
	return all, required
}

func TestSchemaMatchesGo(t *testing.T) {
	t.Parallel()
	doc := mustLoadSchema(t)

	if got := doc.at(t, "$schema"); got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", got)
	}
	for _, tt := range []struct {
		path string
		typ  reflect.Type
	}{
		{"", reflect.TypeFor[kiln.AppSpec]()},
		{"$defs/entity/", reflect.TypeFor[kiln.Entity]()},
		{"$defs/field/", reflect.TypeFor[kiln.Field]()},
		{"$defs/relation/", reflect.TypeFor[kiln.Relation]()},
	} {
		all, required := jsonKeys(tt.typ)
		props := doc.obj(t, tt.path+"properties")
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, all) {
			t.Errorf("%s properties = %v, Go %s has %v", tt.path, keys, tt.typ, all)
		}
		got := doc.strings(t, tt.path+"required")
		slices.Sort(got)
		if !slices.Equal(got, required) {
			t.Errorf("%s required = %v, Go %s has %v without omitempty", tt.path, got, tt.typ, required)
		}
		if doc.at(t, tt.path+"additionalProperties") != false {
			t.Errorf("%s allows additional properties", tt.path)
		}
	}

	checkNum := func(path string, want int64) {
		if got := doc.num(t, path); got != want {
			t.Errorf("%s = %d, Go says %d", path, got, want)
		}
	}
	checkNum("properties/kiln_spec/const", kiln.SpecVersion)
	checkNum("properties/entities/maxItems", kiln.MaxEntities)
	checkNum("properties/entities/minItems", 1)
	checkNum("$defs/entity/properties/fields/maxItems", kiln.MaxFields)
	checkNum("$defs/entity/properties/fields/minItems", 1)
	checkNum("properties/relations/maxItems", kiln.MaxRelations)
	checkNum("properties/features/maxItems", int64(len(kiln.Features)))
	checkNum("properties/summary/maxLength", kiln.MaxSummaryLen)
	checkNum("$defs/identifier/maxLength", kiln.MaxIdentLen)
	if got := doc.at(t, "$defs/identifier/pattern"); got != kiln.IdentifierPattern {
		t.Errorf("identifier pattern = %v, Go has %s", got, kiln.IdentifierPattern)
	}
	if got := doc.at(t, "$defs/relation/properties/kind/const"); got != kiln.RelationBelongsTo {
		t.Errorf("relation kind = %v", got)
	}
	var types []string
	for _, ft := range kiln.FieldTypes {
		types = append(types, string(ft))
	}
	if got := doc.strings(t, "$defs/field/properties/type/enum"); !slices.Equal(got, types) {
		t.Errorf("field type enum = %v, kiln.FieldTypes = %v", got, types)
	}
	if got := doc.strings(t, "properties/features/items/enum"); !slices.Equal(got, kiln.Features) {
		t.Errorf("features enum = %v, kiln.Features = %v", got, kiln.Features)
	}
	for name, want := range map[string][]string{
		"reservedEntityName": kiln.ReservedEntityNames(),
		"reservedPluralName": kiln.ReservedPluralNames(),
		"reservedFieldName":  kiln.ReservedFieldNames(),
	} {
		if got := doc.strings(t, "$defs/"+name+"/enum"); !slices.Equal(got, want) {
			t.Errorf("%s = %v, Go has %v", name, got, want)
		}
	}

	// Every field type has a default rule, with Go's limits.
	rules := map[string]map[string]any{}
	for i, r := range doc.at(t, "$defs/field/allOf").([]any) {
		m := r.(map[string]any)
		typ := schemaDoc(m).at(t, "if/properties/type/const").(string)
		rules[typ] = schemaDoc(m).obj(t, "then/properties/default")
		if i >= len(kiln.FieldTypes) {
			t.Errorf("extra default rule for %s", typ)
		}
	}
	for _, ft := range kiln.FieldTypes {
		r, ok := rules[string(ft)]
		if !ok {
			t.Errorf("no default rule for field type %s", ft)
			continue
		}
		if ml, ok := r["maxLength"].(json.Number); ok && ml.String() != fmt.Sprint(kiln.MaxDefaultLen) {
			t.Errorf("%s default maxLength = %s, Go has %d", ft, ml, kiln.MaxDefaultLen)
		}
	}
	if got := schemaDoc(rules["integer"]).num(t, "maximum"); got != kiln.MaxSafeInteger {
		t.Errorf("integer default maximum = %d", got)
	}
}

// TestSchemaAgreesWithValidate runs specs through both the Go validation
// and the schema (with a small evaluator of the keywords the schema uses):
// valid specs pass both, and each broken spec fails both.
func TestSchemaAgreesWithValidate(t *testing.T) {
	t.Parallel()
	doc := mustLoadSchema(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s := MustValidSpec(t)
		if err := schemaCheck(doc, specInstance(t, s)); err != nil {
			t.Fatalf("schema rejects a valid spec: %v", err)
		}
	})

	for name, edit := range map[string]func(s *kiln.AppSpec){
		"Version":           func(s *kiln.AppSpec) { s.KilnSpec = 3 },
		"NameCase":          func(s *kiln.AppSpec) { s.Name = "Lib" },
		"NameLong":          func(s *kiln.AppSpec) { s.Name = strings.Repeat("a", kiln.MaxIdentLen+1) },
		"SummaryLong":       func(s *kiln.AppSpec) { s.Summary = strings.Repeat("ü", kiln.MaxSummaryLen+1) },
		"SummaryControl":    func(s *kiln.AppSpec) { s.Summary = "a\u0085b" },
		"NoEntities":        func(s *kiln.AppSpec) { s.Entities = nil },
		"EntityReserved":    func(s *kiln.AppSpec) { s.Entities[0].Name = "map" },
		"PluralReserved":    func(s *kiln.AppSpec) { s.Entities[0].Plural = "order" },
		"NoFields":          func(s *kiln.AppSpec) { s.Entities[0].Fields = []kiln.Field{} },
		"FieldReserved":     func(s *kiln.AppSpec) { s.Entities[0].Fields[0].Name = "created_at" },
		"FieldType":         func(s *kiln.AppSpec) { s.Entities[0].Fields[0].Type = "money" },
		"DefaultInteger":    func(s *kiln.AppSpec) { s.Entities[1].Fields[1].Default = 2.5 },
		"DefaultIntegerBig": func(s *kiln.AppSpec) { s.Entities[1].Fields[1].Default = 1e300 },
		"DefaultBoolean":    func(s *kiln.AppSpec) { s.Entities[1].Fields[3].Default = "true" },
		"DefaultDecimal":    func(s *kiln.AppSpec) { s.Entities[1].Fields[2].Default = "9.5" },
		"DefaultString":     func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Default = false },
		"DefaultStringTab":  func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Default = "a\tb" },
		"DefaultLong":       func(s *kiln.AppSpec) { s.Entities[1].Fields[6].Default = strings.Repeat("é", kiln.MaxDefaultLen+1) },
		"DefaultURL":        func(s *kiln.AppSpec) { s.Entities[1].Fields[5].Default = "ftp://example.com" },
		"RelationKind":      func(s *kiln.AppSpec) { s.Relations[0].Kind = "has_one" },
		"RelationField":     func(s *kiln.AppSpec) { s.Relations[0].Field = "updated_at" },
		"FeatureUnknown":    func(s *kiln.AppSpec) { s.Features = []string{"payments"} },
		"FeatureTwice":      func(s *kiln.AppSpec) { s.Features = []string{"search", "search"} },
	} {
		t.Run("Err"+name, func(t *testing.T) {
			t.Parallel()
			s := MustValidSpec(t)
			edit(s)
			if s.Validate() == nil {
				t.Fatal("Validate accepts it")
			}
			if err := schemaCheck(doc, specInstance(t, s)); err == nil {
				t.Fatal("the schema accepts it")
			}
		})
	}
}

// specInstance is s as the JSON value the schema sees.
func specInstance(tb testing.TB, s *kiln.AppSpec) any {
	tb.Helper()
	b := mustJSON(tb, s)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatal(err)
	}
	return v
}

var jsonUnicodeEscape = regexp.MustCompile(`\\u([0-9a-fA-F]{4})`)

// schemaCheck evaluates the subset of JSON Schema 2020-12 the AppSpec
// schema uses (format is an annotation in 2020-12 and is not asserted).
func schemaCheck(root schemaDoc, v any) error {
	var check func(path string, s map[string]any, v any) error
	check = func(path string, s map[string]any, v any) error {
		if ref, ok := s["$ref"].(string); ok {
			target, ok := root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
			if !ok {
				return fmt.Errorf("%s: bad $ref %s", path, ref)
			}
			if err := check(path, target, v); err != nil {
				return err
			}
		}
		if all, ok := s["allOf"].([]any); ok {
			for _, sub := range all {
				if err := check(path, sub.(map[string]any), v); err != nil {
					return err
				}
			}
		}
		if not, ok := s["not"].(map[string]any); ok && check(path, not, v) == nil {
			return fmt.Errorf("%s: matches a schema it must not", path)
		}
		if cond, ok := s["if"].(map[string]any); ok && check(path, cond, v) == nil {
			if then, ok := s["then"].(map[string]any); ok {
				if err := check(path, then, v); err != nil {
					return err
				}
			}
		}
		if c, ok := s["const"]; ok && !jsonEqual(c, v) {
			return fmt.Errorf("%s: must be %v", path, c)
		}
		if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return jsonEqual(e, v) }) {
			return fmt.Errorf("%s: not in enum", path)
		}
		if typ, ok := s["type"]; ok {
			var types []any
			if one, ok := typ.(string); ok {
				types = []any{one}
			} else {
				types = typ.([]any)
			}
			if !slices.ContainsFunc(types, func(t any) bool { return jsonType(t.(string), v) }) {
				return fmt.Errorf("%s: must be of type %v", path, typ)
			}
		}
		switch x := v.(type) {
		case string:
			if n, ok := s["maxLength"].(json.Number); ok {
				if max, _ := n.Int64(); int64(utf8.RuneCountInString(x)) > max {
					return fmt.Errorf("%s: longer than %d", path, max)
				}
			}
			if p, ok := s["pattern"].(string); ok {
				re := regexp.MustCompile(jsonUnicodeEscape.ReplaceAllString(p, `\x{$1}`))
				if !re.MatchString(x) {
					return fmt.Errorf("%s: does not match %s", path, p)
				}
			}
		case json.Number:
			f, _ := x.Float64()
			if n, ok := s["maximum"].(json.Number); ok {
				if max, _ := n.Float64(); f > max {
					return fmt.Errorf("%s: above maximum", path)
				}
			}
			if n, ok := s["minimum"].(json.Number); ok {
				if min, _ := n.Float64(); f < min {
					return fmt.Errorf("%s: below minimum", path)
				}
			}
		case []any:
			if n, ok := s["maxItems"].(json.Number); ok {
				if max, _ := n.Int64(); int64(len(x)) > max {
					return fmt.Errorf("%s: more than %d items", path, max)
				}
			}
			if n, ok := s["minItems"].(json.Number); ok {
				if min, _ := n.Int64(); int64(len(x)) < min {
					return fmt.Errorf("%s: fewer than %d items", path, min)
				}
			}
			if s["uniqueItems"] == true {
				for i := range x {
					for j := range i {
						if jsonEqual(x[i], x[j]) {
							return fmt.Errorf("%s: items %d and %d are equal", path, j, i)
						}
					}
				}
			}
			if items, ok := s["items"].(map[string]any); ok {
				for i, el := range x {
					if err := check(fmt.Sprintf("%s[%d]", path, i), items, el); err != nil {
						return err
					}
				}
			}
		case map[string]any:
			props, _ := s["properties"].(map[string]any)
			if req, ok := s["required"].([]any); ok {
				for _, k := range req {
					if _, ok := x[k.(string)]; !ok {
						return fmt.Errorf("%s: missing %s", path, k)
					}
				}
			}
			for k, el := range x {
				sub, ok := props[k].(map[string]any)
				if !ok {
					if s["additionalProperties"] == false {
						return fmt.Errorf("%s: unknown key %s", path, k)
					}
					continue
				}
				if err := check(path+"."+k, sub, el); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return check("", root, v)
}

func jsonType(t string, v any) bool {
	switch x := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case json.Number:
		if t == "number" {
			return true
		}
		f, err := x.Float64()
		return t == "integer" && err == nil && f == math.Trunc(f)
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

func jsonEqual(a, b any) bool {
	if na, ok := a.(json.Number); ok {
		nb, ok := b.(json.Number)
		fa, _ := na.Float64()
		fb, _ := nb.Float64()
		return ok && fa == fb
	}
	return reflect.DeepEqual(a, b)
}
