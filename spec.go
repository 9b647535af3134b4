package kiln

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// SpecVersion is the AppSpec format version this Kiln writes and reads.
const SpecVersion = 1

// AppSpec is the contract between planning and code generation: what app
// to build. It is stored with every build as kiln.json and rendering is a
// pure function of (spec, template set).
type AppSpec struct {
	KilnSpec  int        `json:"kiln_spec"`
	Name      string     `json:"name"`
	Summary   string     `json:"summary,omitempty"`
	Entities  []Entity   `json:"entities"`
	Relations []Relation `json:"relations,omitempty"`
	Features  []string   `json:"features,omitempty"`
}

// Entity is one kind of record the app stores and serves.
type Entity struct {
	Name   string  `json:"name"`   // singular snake_case identifier: "book"
	Plural string  `json:"plural"` // plural snake_case identifier: "books"
	Fields []Field `json:"fields"`
}

// FieldType is the type of an entity field.
type FieldType string

// Field types.
const (
	FieldString    FieldType = "string"
	FieldText      FieldType = "text"
	FieldInteger   FieldType = "integer"
	FieldDecimal   FieldType = "decimal"
	FieldBoolean   FieldType = "boolean"
	FieldTimestamp FieldType = "timestamp"
	FieldDate      FieldType = "date"
	FieldEmail     FieldType = "email"
	FieldURL       FieldType = "url"
)

// FieldTypes lists every field type.
var FieldTypes = []FieldType{
	FieldString, FieldText, FieldInteger, FieldDecimal, FieldBoolean,
	FieldTimestamp, FieldDate, FieldEmail, FieldURL,
}

// Field is one typed attribute of an entity.
type Field struct {
	Name     string    `json:"name"` // snake_case identifier
	Type     FieldType `json:"type"`
	Required bool      `json:"required,omitempty"`
	Unique   bool      `json:"unique,omitempty"`
	Default  any       `json:"default,omitempty"`
}

// App features a spec may ask for. The UI and REST CRUD of the generated-app
// contract are always there; features add to them.
const (
	// FeatureUI asks for the embedded web UI at "/" (the planner always sets it).
	FeatureUI = "ui"
	// FeatureSearch asks for a text filter (?q=) on every list endpoint and page.
	FeatureSearch = "search"
	// FeatureAnalytics asks the app to send usage events to the Kiln server
	// when KILN_INGEST_URL and KILN_APP_KEY are set.
	FeatureAnalytics = "analytics"
)

// Features lists every known feature, sorted.
var Features = []string{FeatureAnalytics, FeatureSearch, FeatureUI}

// Relation kinds.
const (
	RelationBelongsTo = "belongs_to"
)

// Relation links two entities: From holds a foreign key Field to To.
// "customers have many orders" is {From: "order", To: "customer",
// Kind: "belongs_to", Field: "customer_id"}.
type Relation struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Kind     string `json:"kind"`
	Field    string `json:"field"`
	Required bool   `json:"required,omitempty"`
}

// Hash returns the hex sha256 of the spec's canonical JSON encoding.
func (s *AppSpec) Hash() string {
	b, _ := json.Marshal(s) // an AppSpec always encodes
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Entity returns the entity with the given name, or nil.
func (s *AppSpec) Entity(name string) *Entity {
	for i := range s.Entities {
		if s.Entities[i].Name == name {
			return &s.Entities[i]
		}
	}
	return nil
}

// ParseSpec decodes an AppSpec from JSON strictly and validates it. The
// data must be one JSON object of at most MaxSpecBytes bytes whose keys are
// exactly the AppSpec's JSON names. It returns ETooLarge for oversized
// data and otherwise an EInvalid *Error whose Fields name each problem by
// path ("entities[1].fields[0].colour").
func ParseSpec(data []byte) (*AppSpec, error) {
	if len(data) > MaxSpecBytes {
		return nil, Errorf(ETooLarge, "app spec is larger than %d bytes", MaxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, Errorf(EInvalid, "invalid app spec: not valid JSON: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(EInvalid, "invalid app spec: must be a single JSON value")
	}
	c := &specChecker{}
	c.shape("", raw, appSpecShape)
	if len(c.errs) > 0 {
		msg := "invalid app spec: " + c.errs[0].Message
		if c.errs[0].Path != "" {
			msg = "invalid app spec: " + c.errs[0].Path + ": " + c.errs[0].Message
		}
		return nil, &Error{Code: EInvalid, Message: msg, Fields: c.errs}
	}
	var s AppSpec
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&s); err != nil {
		// shape accepted the document, so this is unexpected: say what
		// encoding/json said, without echoing the input.
		return nil, Errorf(EInvalid, "invalid app spec: %s", jsonProblem(err))
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	// "relations": [] and an absent key mean the same; keep one form.
	if len(s.Relations) == 0 {
		s.Relations = nil
	}
	if len(s.Features) == 0 {
		s.Features = nil
	}
	return &s, nil
}

// jsonProblem describes a decoding error briefly.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind is the JSON kind a spec key holds; jsonShape describes a JSON
// object.
type jsonKind int

const (
	jsonString jsonKind = iota
	jsonBool
	jsonInt
	jsonScalar // string, number, boolean or null (a field default)
	jsonArray
)

type jsonShape struct {
	keys map[string]jsonKind
	// elem gives, per array or object key, the shape of the object (or of
	// each array element).
	elem map[string]*jsonShape
	// elemKind gives, per array key whose elements are not objects, their kind.
	elemKind map[string]jsonKind
}

var (
	specFieldShape = &jsonShape{keys: map[string]jsonKind{
		"name": jsonString, "type": jsonString, "required": jsonBool, "unique": jsonBool, "default": jsonScalar,
	}}
	specEntityShape = &jsonShape{
		keys: map[string]jsonKind{"name": jsonString, "plural": jsonString, "fields": jsonArray},
		elem: map[string]*jsonShape{"fields": specFieldShape},
	}
	specRelationShape = &jsonShape{keys: map[string]jsonKind{
		"from": jsonString, "to": jsonString, "kind": jsonString, "field": jsonString, "required": jsonBool,
	}}
	appSpecShape = &jsonShape{
		keys: map[string]jsonKind{
			"kiln_spec": jsonInt, "name": jsonString, "summary": jsonString,
			"entities": jsonArray, "relations": jsonArray, "features": jsonArray,
		},
		elem:     map[string]*jsonShape{"entities": specEntityShape, "relations": specRelationShape},
		elemKind: map[string]jsonKind{"features": jsonString},
	}
)

// shape checks that v, decoded with UseNumber, is an object with only the
// keys sh knows, each of the right JSON kind, recursively.
func (c *specChecker) shape(path string, v any, sh *jsonShape) {
	obj, ok := v.(map[string]any)
	if !ok {
		c.add(path, "must be a JSON object")
		return
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		val := obj[k]
		want, known := sh.keys[k]
		kp := join(k)
		if !known {
			if len(k) > 40 || strings.ContainsFunc(k, func(r rune) bool {
				return r != '_' && !('a' <= r && r <= 'z') && !('A' <= r && r <= 'Z') && !('0' <= r && r <= '9')
			}) {
				kp = join(quoteShort(k)) // a hostile key stays short and printable
			}
			c.add(kp, "is not a known key")
			continue
		}
		if want == jsonArray {
			arr, isArr := val.([]any)
			if !isArr {
				if val != nil || k == "entities" {
					c.add(kp, "must be an array")
				}
				continue
			}
			for i, el := range arr {
				ep := fmt.Sprintf("%s[%d]", kp, i)
				if es := sh.elem[k]; es != nil {
					c.shape(ep, el, es)
				} else {
					c.scalar(ep, el, sh.elemKind[k])
				}
			}
			continue
		}
		c.scalar(kp, val, want)
	}
}

func (c *specChecker) scalar(path string, v any, want jsonKind) {
	switch want {
	case jsonString:
		if _, ok := v.(string); !ok {
			c.add(path, "must be a string")
		}
	case jsonBool:
		if _, ok := v.(bool); !ok {
			c.add(path, "must be true or false")
		}
	case jsonInt:
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			c.add(path, "must be a whole number")
		}
	case jsonScalar:
		switch n := v.(type) {
		case nil, string, bool:
		case json.Number:
			if f, err := n.Float64(); err != nil || math.IsInf(f, 0) {
				c.add(path, "is out of range")
			}
		default:
			c.add(path, "must be a string, number, boolean or null")
		}
	}
}
