package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"golang.org/x/term"

	"github.com/kiln-build/kiln"
)

// isTerminal reports whether f is an *os.File on an interactive terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// colorOn reports whether to color the command's output.
func (r *runner) colorOn(cmd *cobra.Command) bool {
	return !r.noColor && r.getenv("NO_COLOR") == "" && r.getenv("TERM") != "dumb" && r.isTerminal(cmd.OutOrStdout())
}

// ANSI colors.
const (
	ansiRed     = "\x1b[31m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiCyan    = "\x1b[36m"
	ansiDefault = "\x1b[39m"
	ansiReset   = "\x1b[0m"
)

// status renders a build status, colored when color is on.
func (r *runner) status(cmd *cobra.Command, s kiln.BuildStatus) string {
	if s == "" {
		return "-"
	}
	if !r.colorOn(cmd) {
		return string(s)
	}
	c := ansiDefault
	switch {
	case s == kiln.BuildSucceeded:
		c = ansiGreen
	case s == kiln.BuildFailed:
		c = ansiRed
	case s == kiln.BuildCanceled:
		c = ansiYellow
	case s.Running():
		c = ansiCyan
	}
	return c + string(s) + ansiReset
}

// emit prints v as JSON or YAML when asked, else calls table with an
// aligned writer.
func (r *runner) emit(cmd *cobra.Command, v any, table func(w io.Writer)) error {
	switch r.output {
	case "json":
		return writeJSON(out(cmd), v)
	case "yaml":
		return writeYAML(out(cmd), v)
	}
	tw := &alignWriter{out: out(cmd)}
	table(tw)
	return tw.Flush()
}

// alignWriter aligns tab-separated cells like text/tabwriter, but measures
// cells by their visible width, so colored cells line up with plain ones.
// Consecutive lines containing tabs form one aligned block; other lines
// pass through. Output is written on Flush.
type alignWriter struct {
	out io.Writer
	buf strings.Builder
}

func (a *alignWriter) Write(p []byte) (int, error) { return a.buf.Write(p) }

// Flush writes the aligned text.
func (a *alignWriter) Flush() error {
	var b strings.Builder
	lines := strings.SplitAfter(a.buf.String(), "\n")
	for i := 0; i < len(lines); {
		if !strings.Contains(lines[i], "\t") {
			b.WriteString(lines[i])
			i++
			continue
		}
		j := i
		var rows [][]string
		var widths []int
		for ; j < len(lines) && strings.Contains(lines[j], "\t"); j++ {
			cells := strings.Split(strings.TrimSuffix(lines[j], "\n"), "\t")
			for c, text := range cells[:len(cells)-1] {
				if c == len(widths) {
					widths = append(widths, 0)
				}
				widths[c] = max(widths[c], visibleWidth(text))
			}
			rows = append(rows, cells)
		}
		for _, cells := range rows {
			for c, text := range cells[:len(cells)-1] {
				b.WriteString(text)
				b.WriteString(strings.Repeat(" ", widths[c]-visibleWidth(text)+2))
			}
			b.WriteString(strings.TrimRight(cells[len(cells)-1], " "))
			b.WriteString("\n")
		}
		i = j
	}
	a.buf.Reset()
	_, err := io.WriteString(a.out, b.String())
	return err
}

var ansiSeq = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// visibleWidth counts the runes of s a terminal shows (escape codes aside).
func visibleWidth(s string) int {
	return utf8.RuneCountInString(ansiSeq.ReplaceAllString(s, ""))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// writeYAML prints v as YAML with the same field names as its JSON: it goes
// through JSON (so json tags and omitempty apply) and keeps the key order.
func writeYAML(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write yaml: %w", err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("write yaml: %w", err)
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return fmt.Errorf("write yaml: %w", err)
	}
	return enc.Close()
}

// blockStyle drops the flow and quoting styles JSON input gives every node,
// so the encoder writes block YAML and quotes only where needed.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// row writes tab-separated cells and a newline.
func row(w io.Writer, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, c)
	}
	fmt.Fprintln(w)
}

// ago renders t relative to now for tables: "just now", "5m ago", "3d ago",
// or the local date for anything older than a month.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return t.Local().Format("2006-01-02 15:04")
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	case d < 30*24*time.Hour:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
	return t.Local().Format("2006-01-02")
}

func agoPtr(now time.Time, t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ago(now, *t)
}

// duration renders a build's run time: "-", "850ms", "42s", "3m12s".
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}

// size renders a byte count: "512 B", "3.4 KiB", "12.0 MiB".
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// safe makes text from the server or a build fit for a terminal: escape
// sequences and other control characters are dropped, so a build log cannot
// rewrite the screen or the window title.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// cell is safe for a table cell: tabs and newlines would break alignment.
func cell(s string) string {
	s = strings.ReplaceAll(safe(s), "\t", " ")
	if s == "" {
		return "-"
	}
	return s
}

// truncate cuts s to n runes with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
