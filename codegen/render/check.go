package render

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"text/template"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/templates"
)

// parseAppTemplate parses one app template, named by where it comes from
// so that errors point at the file and line.
func parseAppTemplate(where string, raw []byte) (*template.Template, error) {
	t, err := template.New(where).Funcs(Funcs()).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("render: parse template: %w", templateError(err))
	}
	return t, nil
}

// templateError drops text/template's "template: " prefix, leaving
// "FILE:LINE: problem" (or FILE:LINE:COL for execution errors).
func templateError(err error) error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "template: "); ok {
		return &tmplError{msg: rest, err: err}
	}
	return err
}

type tmplError struct {
	msg string
	err error
}

func (e *tmplError) Error() string { return e.msg }
func (e *tmplError) Unwrap() error { return e.err }

// Check finds the mistakes of a template set before it is used: it parses
// every app and prompt template and renders the app for a sample spec that
// uses every field type, a required and an optional relation and every
// feature. Errors name the template file and line ("my-set/app/main.go.tmpl:12:
// function \"pascl\" not defined"). Servers and `kiln generate` call it
// when they load a set from a folder.
func Check(set *templates.Set) error {
	var errs []error
	names, err := set.Files()
	if err != nil {
		return err
	}
	for _, n := range names {
		if !strings.HasSuffix(n, ".tmpl") || !strings.HasPrefix(n, templates.PromptsDir+"/") {
			continue
		}
		raw, err := fs.ReadFile(set.FS(), n)
		if err != nil {
			return fmt.Errorf("check template set %s: %w", set.Name, err)
		}
		if _, err := template.New(set.Where(n)).Option("missingkey=error").Parse(string(raw)); err != nil {
			errs = append(errs, fmt.Errorf("parse prompt template: %w", templateError(err)))
		}
	}
	for _, n := range names {
		if !strings.HasSuffix(n, ".tmpl") || !strings.HasPrefix(n, templates.AppDir+"/") {
			continue
		}
		raw, err := fs.ReadFile(set.FS(), n)
		if err != nil {
			return fmt.Errorf("check template set %s: %w", set.Name, err)
		}
		if _, err := parseAppTemplate(set.Where(n), raw); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if _, err := Render(set, SampleSpec()); err != nil {
			errs = append(errs, fmt.Errorf("%w (rendering a sample spec)", err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("template set %s (%s) is broken: %w", set.Name, set.Source, errors.Join(errs...))
	}
	return nil
}

// SampleSpec returns a valid spec that exercises a template set: every
// field type, required, unique and default values, a required and an
// optional relation, and every feature.
func SampleSpec() *kiln.AppSpec {
	return &kiln.AppSpec{
		KilnSpec: kiln.SpecVersion,
		Name:     "sample_shop",
		Summary:  "A sample app for checking template sets.",
		Entities: []kiln.Entity{
			{Name: "customer", Plural: "customers", Fields: []kiln.Field{
				{Name: "name", Type: kiln.FieldString, Required: true},
				{Name: "email", Type: kiln.FieldEmail, Unique: true},
				{Name: "website", Type: kiln.FieldURL},
				{Name: "notes", Type: kiln.FieldText},
				{Name: "vip", Type: kiln.FieldBoolean, Default: false},
			}},
			{Name: "order", Plural: "orders", Fields: []kiln.Field{
				{Name: "total", Type: kiln.FieldDecimal, Required: true},
				{Name: "quantity", Type: kiln.FieldInteger, Default: float64(1)},
				{Name: "placed_at", Type: kiln.FieldTimestamp},
				{Name: "ships_on", Type: kiln.FieldDate},
				{Name: "code", Type: kiln.FieldString, Unique: true, Required: true},
			}},
			{Name: "coupon", Plural: "coupons", Fields: []kiln.Field{
				{Name: "label", Type: kiln.FieldString},
			}},
		},
		Relations: []kiln.Relation{
			{From: "order", To: "customer", Kind: kiln.RelationBelongsTo, Field: "customer_id", Required: true},
			{From: "order", To: "coupon", Kind: kiln.RelationBelongsTo, Field: "coupon_id"},
		},
		Features: []string{kiln.FeatureAnalytics, kiln.FeatureSearch, kiln.FeatureUI},
	}
}
