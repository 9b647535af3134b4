package kiln

import (
	_ "embed"
	"slices"
)

//go:embed docs/appspec.schema.json
var appSpecSchema []byte

// AppSpecSchema returns the JSON Schema of the AppSpec
// (docs/appspec.schema.json), for example to ask a language model for an
// AppSpec as a structured answer. ParseSpec checks everything it says.
func AppSpecSchema() []byte { return slices.Clone(appSpecSchema) }
