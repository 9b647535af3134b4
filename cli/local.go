package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// OutputFormat returns the --output value a command runs with ("table",
// "json" or "yaml"), for the local commands cmd/kiln adds next to the API
// ones. It returns a usage error for any other value.
func OutputFormat(cmd *cobra.Command) (string, error) {
	f := cmd.Flag("output")
	if f == nil {
		return "table", nil
	}
	switch v := f.Value.String(); v {
	case "table", "json", "yaml":
		return v, nil
	default:
		return "", usageErrorf(cmd, "invalid --output %q: want table, json or yaml", v)
	}
}

// WriteDocument prints v as indented JSON (format "json") or as YAML with
// the same field names (format "yaml").
func WriteDocument(w io.Writer, format string, v any) error {
	if format == "yaml" {
		return writeYAML(w, v)
	}
	return writeJSON(w, v)
}

// UsageErrorf returns a usage error (exit status 2) for cmd.
func UsageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return usageErrorf(cmd, format, args...)
}
