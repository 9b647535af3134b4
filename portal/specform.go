package portal

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	kiln "github.com/kiln-build/kiln"
)

// specForm is an AppSpec as the spec editor shows it: plain strings for
// every input, and the problems the API found, by spec path, to show
// beside the inputs. The form round-trips through hidden counters and
// inputs named e{i}.name, e{i}.f{j}.type, r{k}.from …, so the editor works
// without JavaScript: adding or removing an entity, field or relation is a
// submit button that re-renders the form.
type specForm struct {
	Name      string
	Summary   string
	Entities  []entityForm
	Relations []relationForm
	Features  map[string]bool
	// Errors maps spec paths ("entities[0].fields[1].name") to messages.
	Errors map[string]string
	// Other holds the problems no input shows (a spec-wide rule).
	Other []string
}

type entityForm struct {
	Name, Plural string
	Fields       []fieldForm
}

type fieldForm struct {
	Name, Type, Default string
	Required, Unique    bool
}

type relationForm struct {
	From, To, Field string
	Required        bool
}

// Limits on what a posted form may hold, a little above what a valid spec
// may, so that over-long forms get the API's own message.
const (
	maxFormEntities  = kiln.MaxEntities + 1
	maxFormFields    = kiln.MaxFields + 1
	maxFormRelations = kiln.MaxRelations + 1
)

// newSpecForm returns the form of a spec.
func newSpecForm(s *kiln.AppSpec) *specForm {
	f := &specForm{Name: s.Name, Summary: s.Summary, Features: map[string]bool{}}
	for _, e := range s.Entities {
		ef := entityForm{Name: e.Name, Plural: e.Plural}
		for _, fl := range e.Fields {
			ef.Fields = append(ef.Fields, fieldForm{Name: fl.Name, Type: string(fl.Type), Required: fl.Required, Unique: fl.Unique, Default: defaultString(fl.Default)})
		}
		f.Entities = append(f.Entities, ef)
	}
	for _, r := range s.Relations {
		f.Relations = append(f.Relations, relationForm{From: r.From, To: r.To, Field: r.Field, Required: r.Required})
	}
	for _, ft := range s.Features {
		f.Features[ft] = true
	}
	return f
}

func defaultString(v any) string {
	switch d := v.(type) {
	case nil:
		return ""
	case string:
		return d
	case bool:
		return strconv.FormatBool(d)
	case float64:
		return strconv.FormatFloat(d, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// count reads a hidden counter, bounded.
func count(form url.Values, key string, limit int) int {
	n, err := strconv.Atoi(form.Get(key))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, limit)
}

// parseSpecForm reads the spec editor's inputs.
func parseSpecForm(form url.Values) *specForm {
	f := &specForm{
		Name:     strings.TrimSpace(form.Get("spec.name")),
		Summary:  strings.TrimSpace(form.Get("spec.summary")),
		Features: map[string]bool{},
	}
	for i := range count(form, "entities", maxFormEntities) {
		p := fmt.Sprintf("e%d.", i)
		e := entityForm{Name: strings.TrimSpace(form.Get(p + "name")), Plural: strings.TrimSpace(form.Get(p + "plural"))}
		for j := range count(form, p+"fields", maxFormFields) {
			fp := fmt.Sprintf("%sf%d.", p, j)
			e.Fields = append(e.Fields, fieldForm{
				Name:     strings.TrimSpace(form.Get(fp + "name")),
				Type:     form.Get(fp + "type"),
				Default:  form.Get(fp + "default"),
				Required: form.Get(fp+"required") != "",
				Unique:   form.Get(fp+"unique") != "",
			})
		}
		f.Entities = append(f.Entities, e)
	}
	for k := range count(form, "relations", maxFormRelations) {
		p := fmt.Sprintf("r%d.", k)
		f.Relations = append(f.Relations, relationForm{
			From: form.Get(p + "from"), To: form.Get(p + "to"),
			Field: strings.TrimSpace(form.Get(p + "field")), Required: form.Get(p+"required") != "",
		})
	}
	for _, ft := range form["spec.features"] {
		if slices.Contains(kiln.Features, ft) {
			f.Features[ft] = true
		}
	}
	return f
}

// spec returns the AppSpec the form describes; the API validates it.
func (f *specForm) spec() *kiln.AppSpec {
	s := &kiln.AppSpec{KilnSpec: kiln.SpecVersion, Name: f.Name, Summary: f.Summary, Entities: []kiln.Entity{}}
	for _, e := range f.Entities {
		ent := kiln.Entity{Name: e.Name, Plural: e.Plural, Fields: []kiln.Field{}}
		for _, fl := range e.Fields {
			t := kiln.FieldType(fl.Type)
			ent.Fields = append(ent.Fields, kiln.Field{Name: fl.Name, Type: t, Required: fl.Required, Unique: fl.Unique, Default: parseDefault(t, fl.Default)})
		}
		s.Entities = append(s.Entities, ent)
	}
	for _, r := range f.Relations {
		s.Relations = append(s.Relations, kiln.Relation{From: r.From, To: r.To, Kind: kiln.RelationBelongsTo, Field: r.Field, Required: r.Required})
	}
	for _, ft := range kiln.Features {
		if f.Features[ft] {
			s.Features = append(s.Features, ft)
		}
	}
	return s
}

// parseDefault turns a default typed into the form into the JSON value
// the field's type takes; what does not parse stays a string, for the
// API's validation to name.
func parseDefault(t kiln.FieldType, s string) any {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	switch t {
	case kiln.FieldBoolean:
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return b
		}
	case kiln.FieldInteger, kiln.FieldDecimal:
		if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return n
		}
	}
	return s
}

var opRE = regexp.MustCompile(`^(add-entity|add-relation|del-entity|add-field|del-field|del-relation)(?::(\d+))?(?::(\d+))?$`)

// apply performs an editing button's operation and reports whether op was
// one.
func (f *specForm) apply(op string) bool {
	m := opRE.FindStringSubmatch(op)
	if m == nil {
		return false
	}
	i, _ := strconv.Atoi(m[2])
	j, _ := strconv.Atoi(m[3])
	inEntities := i >= 0 && i < len(f.Entities)
	switch m[1] {
	case "add-entity":
		if len(f.Entities) < maxFormEntities {
			f.Entities = append(f.Entities, entityForm{Fields: []fieldForm{{Type: string(kiln.FieldString)}}})
		}
	case "del-entity":
		if inEntities {
			f.Entities = slices.Delete(f.Entities, i, i+1)
		}
	case "add-field":
		if inEntities && len(f.Entities[i].Fields) < maxFormFields {
			f.Entities[i].Fields = append(f.Entities[i].Fields, fieldForm{Type: string(kiln.FieldString)})
		}
	case "del-field":
		if inEntities && j >= 0 && j < len(f.Entities[i].Fields) {
			f.Entities[i].Fields = slices.Delete(f.Entities[i].Fields, j, j+1)
		}
	case "add-relation":
		if len(f.Relations) < maxFormRelations {
			f.Relations = append(f.Relations, relationForm{})
		}
	case "del-relation":
		if i >= 0 && i < len(f.Relations) {
			f.Relations = slices.Delete(f.Relations, i, i+1)
		}
	}
	f.Errors, f.Other = nil, nil
	return true
}

// shownPath matches the spec paths an input of the editor shows.
var shownPath = regexp.MustCompile(`^(name|summary|entities\[\d+\]\.(name|plural|fields\[\d+\]\.(name|type|default))|relations\[\d+\]\.(from|to|field|kind))$`)

// setErrors places the API's per-field problems beside the inputs. prefix
// is what the API put before the spec's own paths ("body." or
// "body.spec.").
func (f *specForm) setErrors(err error, prefix string) {
	f.Errors = map[string]string{}
	f.Other = nil
	fields := fieldErrors(err)
	for _, fe := range fields {
		if !strings.HasPrefix(fe.Path, prefix) {
			continue // not about the spec (the description, say)
		}
		path := strings.TrimPrefix(fe.Path, prefix)
		if shownPath.MatchString(path) {
			if _, dup := f.Errors[path]; !dup {
				f.Errors[path] = fe.Message
			}
			continue
		}
		f.Other = append(f.Other, path+": "+fe.Message)
	}
	if len(fields) == 0 {
		f.Other = append(f.Other, kiln.ErrorMessage(err))
	}
}

// EntityNames lists the entity names, for the relation selectors.
func (f *specForm) EntityNames() []string {
	var names []string
	for _, e := range f.Entities {
		if e.Name != "" {
			names = append(names, e.Name)
		}
	}
	return names
}

// Err returns the problem at a spec path, or "".
func (f *specForm) Err(path string) string { return f.Errors[path] }

// ErrorCount is how many problems the form shows.
func (f *specForm) ErrorCount() int { return len(f.Errors) + len(f.Other) }
