package kiln

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
