package render

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/templates"
)

// GoVersion is the go directive of generated modules.
const GoVersion = "1.26.0"

// ModulePrefix is prepended to the spec name to form a generated module path.
const ModulePrefix = "example.com/"

// ON DELETE behaviours of foreign keys: a required relation keeps a parent
// from being deleted while children refer to it; an optional one clears the
// children's reference.
const (
	OnDeleteRestrict = "RESTRICT"
	OnDeleteSetNull  = "SET NULL"
)

// Data is what every template of a set sees as "." (the dot).
type Data struct {
	Spec      *kiln.AppSpec     // the spec as given
	SpecJSON  string            // the spec as indented JSON, as kiln.json holds it
	Module    string            // the Go module path, "example.com/<name>"
	GoVersion string            // the go directive of go.mod
	Set       templates.SetInfo // the set being rendered
	Name      string            // the app name (snake_case)
	Title     string            // the app name for people: "Book Club"
	// Search is true when the spec asks for the "search" feature: a ?q=
	// text filter on every list.
	Search   bool
	Entities []*Entity // the entities, in spec order
	// Entity is the entity a per-entity file ("__entity__" in its path) is
	// rendered for; nil in other files.
	Entity *Entity
}

// Entity is one entity with the names and links templates need.
type Entity struct {
	Name        string   // singular snake_case: "book_loan"
	Plural      string   // plural snake_case, also the table name: "book_loans"
	Type        string   // Go type name: "BookLoan"
	PluralType  string   // Go name of the plural: "BookLoans"
	Label       string   // for people: "Book loan"
	PluralLabel string   // for people: "Book loans"
	Fields      []*Field // every column but id, created_at and updated_at
	Parents     []*Ref   // the relations from this entity to another (its foreign keys)
	Children    []*Ref   // the relations from other entities to this one
}

// Field is one column of an entity.
type Field struct {
	Name     string         // snake_case column and JSON name
	GoName   string         // Go struct field name: "PublishedOn"
	Label    string         // for people: "Published on"
	Type     kiln.FieldType // the field type; integer for foreign keys
	Required bool           // NOT NULL; must be given (or defaulted)
	Unique   bool           // no two rows share a value
	// DefaultJSON is the default value as a JSON literal, "" when none.
	DefaultJSON string
	// Ref is the relation when the field is a foreign key, else nil.
	Ref *Ref
}

// Ref is one belongs_to relation seen from either end.
type Ref struct {
	From     *Entity // the child, which holds the foreign key
	To       *Entity // the parent
	Field    *Field  // the foreign key field of From
	Required bool
	OnDelete string // OnDeleteRestrict or OnDeleteSetNull
}

// reservedTypes are Go identifiers the go-api templates declare next to the
// entity types; an entity whose Go name would clash gets a suffix.
var reservedTypes = []string{
	"API", "App", "Config", "DB", "Error", "ErrConflict", "ErrInvalid", "ErrNotFound",
	"FieldErrors", "Handler", "Input", "List", "ListOptions", "Main", "New", "Open",
	"Page", "Server", "Store", "Test", "Tx",
}

// newData checks spec and builds the template data. A spec that cannot be
// rendered yields an EInvalid *kiln.Error.
func newData(set *templates.Set, spec *kiln.AppSpec) (*Data, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	d := &Data{
		Spec:      spec,
		SpecJSON:  string(js) + "\n",
		Module:    ModulePrefix + spec.Name,
		GoVersion: GoVersion,
		Set:       set.SetInfo,
		Name:      spec.Name,
		Title:     title(spec.Name),
		Search:    slices.Contains(spec.Features, kiln.FeatureSearch),
	}
	byName := map[string]*Entity{}
	goNames := map[string]string{} // Go name → what uses it
	claim := func(goName, what string) error {
		if prev, ok := goNames[goName]; ok {
			return kiln.Errorf(kiln.EInvalid, "invalid app spec: %s and %s both become the Go name %s; rename one", prev, what, goName)
		}
		goNames[goName] = what
		return nil
	}
	for _, r := range reservedTypes {
		goNames[r] = "a name the template set uses"
	}
	for i, se := range spec.Entities {
		e := &Entity{
			Name:        se.Name,
			Plural:      se.Plural,
			Type:        Pascal(se.Name),
			PluralType:  Pascal(se.Plural),
			Label:       label(se.Name),
			PluralLabel: label(se.Plural),
		}
		if slices.Contains(reservedTypes, e.Type) || slices.Contains(reservedTypes, e.PluralType) {
			e.Type += "Record"
			e.PluralType += "Records"
		}
		if err := claim(e.Type, fmt.Sprintf("entities[%d].name", i)); err != nil {
			return nil, err
		}
		if err := claim(e.PluralType, fmt.Sprintf("entities[%d].plural", i)); err != nil {
			return nil, err
		}
		fieldGo := map[string]string{"ID": "id", "CreatedAt": "created_at", "UpdatedAt": "updated_at"}
		for j, sf := range se.Fields {
			f := &Field{
				Name:     sf.Name,
				GoName:   Pascal(sf.Name),
				Label:    label(sf.Name),
				Type:     sf.Type,
				Required: sf.Required,
				Unique:   sf.Unique && sf.Type != kiln.FieldBoolean, // a unique flag would allow two records
			}
			path := fmt.Sprintf("entities[%d].fields[%d]", i, j)
			if prev, ok := fieldGo[f.GoName]; ok {
				return nil, kiln.Errorf(kiln.EInvalid, "invalid app spec: %s.name: %q and %q both become the Go name %s; rename one", path, prev, sf.Name, f.GoName)
			}
			fieldGo[f.GoName] = sf.Name
			if sf.Default != nil {
				if f.DefaultJSON, err = defaultJSON(sf); err != nil {
					return nil, kiln.FieldErrorf(path+".default", "%v", err)
				}
			}
			e.Fields = append(e.Fields, f)
		}
		byName[e.Name] = e
		d.Entities = append(d.Entities, e)
	}
	for i, sr := range spec.Relations {
		from, to := byName[sr.From], byName[sr.To]
		r := &Ref{From: from, To: to, Required: sr.Required, OnDelete: OnDeleteSetNull}
		// The foreign key may be declared among the fields or not; either
		// way it becomes an integer column.
		idx := slices.IndexFunc(from.Fields, func(f *Field) bool { return f.Name == sr.Field })
		if idx < 0 {
			f := &Field{Name: sr.Field, GoName: Pascal(sr.Field), Label: label(strings.TrimSuffix(sr.Field, "_id"))}
			for _, g := range from.Fields {
				if g.GoName == f.GoName {
					return nil, kiln.Errorf(kiln.EInvalid, "invalid app spec: relations[%d].field: %q and %q both become the Go name %s; rename one", i, g.Name, sr.Field, f.GoName)
				}
			}
			if slices.Contains([]string{"ID", "CreatedAt", "UpdatedAt"}, f.GoName) {
				return nil, kiln.FieldErrorf(fmt.Sprintf("relations[%d].field", i), "%q is reserved", sr.Field)
			}
			from.Fields = append(from.Fields, f)
			idx = len(from.Fields) - 1
		} else if from.Fields[idx].Ref != nil {
			return nil, kiln.FieldErrorf(fmt.Sprintf("relations[%d].field", i), "%q is the foreign key of another relation", sr.Field)
		}
		f := from.Fields[idx]
		f.Type = kiln.FieldInteger
		f.Unique = false
		f.DefaultJSON = ""
		f.Required = f.Required || sr.Required
		r.Required = f.Required
		if r.Required {
			r.OnDelete = OnDeleteRestrict
		}
		f.Ref = r
		r.Field = f
		from.Parents = append(from.Parents, r)
		to.Children = append(to.Children, r)
	}
	if err := checkRequiredCycles(d.Entities); err != nil {
		return nil, err
	}
	return d, nil
}

// checkRequiredCycles refuses specs where required relations form a cycle
// (an entity that requires itself, or A requires B requires A): no first
// record could ever be created.
func checkRequiredCycles(entities []*Entity) error {
	const (
		unseen = iota
		active
		done
	)
	state := map[*Entity]int{}
	var visit func(e *Entity, path []string) error
	visit = func(e *Entity, path []string) error {
		path = append(path, e.Name)
		switch state[e] {
		case active:
			return kiln.Errorf(kiln.EInvalid, "invalid app spec: required relations form a cycle (%s), so no first record could be created; make one of them optional", strings.Join(path, " → "))
		case done:
			return nil
		}
		state[e] = active
		for _, r := range e.Parents {
			if r.Required {
				if err := visit(r.To, path); err != nil {
					return err
				}
			}
		}
		state[e] = done
		return nil
	}
	for _, e := range entities {
		if err := visit(e, nil); err != nil {
			return err
		}
	}
	return nil
}

// defaultJSON checks that a field's default has the JSON kind its type
// needs and returns it as a JSON literal. The generated app validates the
// value itself like any input.
func defaultJSON(f kiln.Field) (string, error) {
	ok := false
	switch v := f.Default.(type) {
	case bool:
		ok = f.Type == kiln.FieldBoolean
	case float64, int, int64, json.Number:
		ok = f.Type == kiln.FieldInteger || f.Type == kiln.FieldDecimal
	case string:
		ok = f.Type != kiln.FieldBoolean && f.Type != kiln.FieldInteger
		if len(v) > 1000 {
			return "", fmt.Errorf("is longer than 1000 characters")
		}
	}
	if !ok {
		return "", fmt.Errorf("%v is not a valid default for a %s field", f.Default, f.Type)
	}
	b, err := json.Marshal(f.Default)
	if err != nil {
		return "", fmt.Errorf("encode default: %w", err)
	}
	return string(b), nil
}

// HasType reports whether any field of the entity, foreign keys included,
// has one of the given types ("timestamp", "date", …).
func (e *Entity) HasType(types ...string) bool {
	for _, f := range e.Fields {
		if slices.Contains(types, string(f.Type)) {
			return true
		}
	}
	return false
}

// Unique returns the fields with a unique constraint.
func (e *Entity) Unique() []*Field {
	var out []*Field
	for _, f := range e.Fields {
		if f.Unique {
			out = append(out, f)
		}
	}
	return out
}

// Plain returns the fields that are not foreign keys.
func (e *Entity) Plain() []*Field {
	var out []*Field
	for _, f := range e.Fields {
		if f.Ref == nil {
			out = append(out, f)
		}
	}
	return out
}

// Searchable returns the text-like fields (string, text, email, url) a
// search looks in.
func (e *Entity) Searchable() []*Field {
	var out []*Field
	for _, f := range e.Fields {
		switch f.Type {
		case kiln.FieldString, kiln.FieldText, kiln.FieldEmail, kiln.FieldURL:
			if f.Ref == nil {
				out = append(out, f)
			}
		}
	}
	return out
}

// MustGive returns the fields a create request must include: required,
// without a default.
func (e *Entity) MustGive() []*Field {
	var out []*Field
	for _, f := range e.Fields {
		if f.Required && f.DefaultJSON == "" {
			out = append(out, f)
		}
	}
	return out
}

// Display returns the field that best names a record for people (the first
// string-like field), or nil.
func (e *Entity) Display() *Field {
	for _, f := range e.Fields {
		if f.Ref == nil && (f.Type == kiln.FieldString || f.Type == kiln.FieldEmail) {
			return f
		}
	}
	return nil
}

// UISchema describes the entities for the web UI's script: names, labels
// and fields with their types and references. Templates encode it with
// the json helper.
func (d *Data) UISchema() []map[string]any {
	out := make([]map[string]any, 0, len(d.Entities))
	for _, e := range d.Entities {
		fields := make([]map[string]any, 0, len(e.Fields))
		for _, f := range e.Fields {
			m := map[string]any{"name": f.Name, "label": f.Label, "type": f.Type, "required": f.Required}
			if f.Ref != nil {
				m["type"] = "ref"
				m["ref"] = f.Ref.To.Plural
			}
			if f.DefaultJSON != "" {
				m["default"] = json.RawMessage(f.DefaultJSON)
			}
			fields = append(fields, m)
		}
		display := ""
		if f := e.Display(); f != nil {
			display = f.Name
		}
		out = append(out, map[string]any{
			"search": d.Search && len(e.Searchable()) > 0,
			"name":   e.Name, "plural": e.Plural, "label": e.Label,
			"pluralLabel": e.PluralLabel, "display": display, "fields": fields,
		})
	}
	return out
}

// Uses reports whether the app needs something, so that a template emits
// only helpers some entity uses (linters reject unused code): a field type
// ("decimal", "email", …) among fields that are not foreign keys, "ref"
// for foreign keys, "required" for required fields, "unique" for unique
// ones and "restrict" for relations that keep a parent from deletion.
func (d *Data) Uses(what string) bool {
	for _, e := range d.Entities {
		for _, f := range e.Fields {
			switch {
			case what == "ref" && f.Ref != nil,
				what == "required" && f.Required,
				what == "unique" && f.Unique,
				what == "restrict" && f.Ref != nil && f.Ref.Required,
				f.Ref == nil && string(f.Type) == what:
				return true
			}
		}
	}
	return false
}
