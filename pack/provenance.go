package pack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Checksums returns a SHA256SUMS file for sums (name → hex SHA-256 of the
// file's content) in the format `sha256sum -c` reads: "<hex>  <name>\n"
// per file, sorted by name. A name holding a backslash, newline or carriage
// return is escaped the way GNU sha256sum does it (a leading backslash on
// the line).
func Checksums(sums map[string]string) []byte {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		sum := sums[n]
		if strings.ContainsAny(n, "\\\n\r") {
			b.WriteByte('\\')
			n = checksumEscaper.Replace(n)
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	return []byte(b.String())
}

var checksumEscaper = strings.NewReplacer("\\", "\\\\", "\n", "\\n", "\r", "\\r")

// ProvenanceFormat is the version of the provenance document.
const ProvenanceFormat = 1

// Provenance records how a build's artifacts were made, so anyone holding
// them can tell which spec, templates, planner, model and toolchain
// produced them and whether they passed validation in a sandbox.
type Provenance struct {
	Format          int       `json:"kiln_provenance"`
	App             string    `json:"app"`
	BuildNumber     int       `json:"build_number,omitempty"`
	SpecSHA256      string    `json:"spec_sha256"`
	TemplateSet     string    `json:"template_set"`
	TemplateVersion string    `json:"template_version"`
	Planner         string    `json:"planner"`
	Model           string    `json:"model,omitempty"` // the LLM, when one took part
	GoVersion       string    `json:"go_version"`
	KilnVersion     string    `json:"kiln_version"`
	Sandboxed       bool      `json:"sandboxed"` // validation ran under bubblewrap
	ReportSHA256    string    `json:"validation_report_sha256,omitempty"`
	Subjects        []Subject `json:"subjects,omitempty"`
	Created         time.Time `json:"created"`
}

// Subject is one artifact the provenance vouches for.
type Subject struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// JSON returns the provenance as indented JSON, subjects sorted by name,
// Format defaulting to ProvenanceFormat and Created in UTC: the same
// record always encodes to the same bytes.
func (p Provenance) JSON() ([]byte, error) {
	if p.Format == 0 {
		p.Format = ProvenanceFormat
	}
	p.Created = p.Created.UTC()
	p.Subjects = append([]Subject(nil), p.Subjects...)
	sort.Slice(p.Subjects, func(i, j int) bool { return p.Subjects[i].Name < p.Subjects[j].Name })
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	return append(b, '\n'), nil
}
