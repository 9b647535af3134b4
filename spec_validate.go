package kiln

import (
	"fmt"
	"regexp"
	"slices"
)

// Spec limits.
const (
	MaxEntities  = 50
	MaxFields    = 100
	MaxRelations = 200
	MaxIdentLen  = 48
)

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate checks the spec and returns an EInvalid *Error whose Fields name
// every problem by path ("entities[2].fields[0].name"), or nil.
func (s *AppSpec) Validate() error {
	var errs []FieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	ident := func(path, v string) {
		switch {
		case v == "":
			add(path, "is required")
		case len(v) > MaxIdentLen:
			add(path, "is longer than %d characters", MaxIdentLen)
		case !identRE.MatchString(v):
			add(path, "must be lowercase letters, digits and underscores, starting with a letter")
		}
	}
	if s.KilnSpec != SpecVersion {
		add("kiln_spec", "must be %d", SpecVersion)
	}
	ident("name", s.Name)
	if len(s.Entities) == 0 {
		add("entities", "must list at least one entity")
	} else if len(s.Entities) > MaxEntities {
		add("entities", "must list at most %d entities", MaxEntities)
	}
	seen := map[string]bool{}
	for i, e := range s.Entities {
		p := fmt.Sprintf("entities[%d]", i)
		ident(p+".name", e.Name)
		ident(p+".plural", e.Plural)
		if seen[e.Name] || seen[e.Plural] {
			add(p+".name", "duplicates another entity's name %q", e.Name)
		}
		seen[e.Name], seen[e.Plural] = true, true
		if len(e.Fields) == 0 {
			add(p+".fields", "must list at least one field")
		} else if len(e.Fields) > MaxFields {
			add(p+".fields", "must list at most %d fields", MaxFields)
		}
		fseen := map[string]bool{}
		for j, f := range e.Fields {
			fp := fmt.Sprintf("%s.fields[%d]", p, j)
			ident(fp+".name", f.Name)
			if f.Name == "id" || f.Name == "created_at" || f.Name == "updated_at" {
				add(fp+".name", "%q is reserved", f.Name)
			}
			if fseen[f.Name] {
				add(fp+".name", "duplicates field %q", f.Name)
			}
			fseen[f.Name] = true
			if !slices.Contains(FieldTypes, f.Type) {
				add(fp+".type", "must be one of %v", FieldTypes)
			}
		}
	}
	if len(s.Relations) > MaxRelations {
		add("relations", "must list at most %d relations", MaxRelations)
	}
	for i, r := range s.Relations {
		p := fmt.Sprintf("relations[%d]", i)
		if s.Entity(r.From) == nil {
			add(p+".from", "names no entity %q", r.From)
		}
		if s.Entity(r.To) == nil {
			add(p+".to", "names no entity %q", r.To)
		}
		if r.Kind != RelationBelongsTo {
			add(p+".kind", "must be %q", RelationBelongsTo)
		}
		ident(p+".field", r.Field)
	}
	if len(errs) == 0 {
		return nil
	}
	return &Error{Code: EInvalid, Message: "invalid app spec: " + errs[0].Path + ": " + errs[0].Message, Fields: errs}
}
