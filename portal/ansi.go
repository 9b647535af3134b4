package portal

import (
	"strconv"
	"strings"
)

// segment is a run of log text with one style, rendered as
// <span class="{{.Class}}">{{.Text}}</span> (the text escaped like any
// other).
type segment struct {
	Text  string
	Class string
}

// ansiStyle is the SGR state the log viewer shows.
type ansiStyle struct {
	fg, bg                 int // -1 default, 0–15
	bold, dim, italic, und bool
}

func (s ansiStyle) class() string {
	var c []string
	if s.fg >= 0 {
		c = append(c, "fg"+strconv.Itoa(s.fg))
	}
	if s.bg >= 0 {
		c = append(c, "bg"+strconv.Itoa(s.bg))
	}
	if s.bold {
		c = append(c, "b")
	}
	if s.dim {
		c = append(c, "dim")
	}
	if s.italic {
		c = append(c, "i")
	}
	if s.und {
		c = append(c, "u")
	}
	return strings.Join(c, " ")
}

// ansiSegments splits a log line into styled segments by its ANSI SGR
// escape sequences (colors 0–15, bold, dim, italic, underline); every other
// escape or control sequence is dropped. The same rules are in kiln.js for
// lines that arrive live.
func ansiSegments(line string) []segment {
	if !strings.ContainsRune(line, 0x1b) {
		return []segment{{Text: stripControls(line)}}
	}
	st := ansiStyle{fg: -1, bg: -1}
	var out []segment
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			out = append(out, segment{Text: stripControls(text.String()), Class: st.class()})
			text.Reset()
		}
	}
	for i := 0; i < len(line); {
		if line[i] != 0x1b {
			text.WriteByte(line[i])
			i++
			continue
		}
		if i+1 < len(line) && line[i+1] == '[' {
			// CSI: parameters, then one final byte in 0x40–0x7e.
			j := i + 2
			for j < len(line) && (line[j] < 0x40 || line[j] > 0x7e) {
				j++
			}
			if j >= len(line) {
				break // an unfinished sequence at the end
			}
			if line[j] == 'm' {
				flush()
				st = applySGR(st, line[i+2:j])
			}
			i = j + 1
			continue
		}
		if i+1 < len(line) && line[i+1] == ']' {
			// OSC: up to BEL or ESC \.
			j := i + 2
			for j < len(line) && line[j] != 0x07 && !(line[j] == 0x1b && j+1 < len(line) && line[j+1] == '\\') {
				j++
			}
			if j < len(line) && line[j] == 0x1b {
				j++
			}
			i = j + 1
			continue
		}
		i += 2 // a two-byte escape
	}
	flush()
	if len(out) == 0 {
		return []segment{{}}
	}
	return out
}

func applySGR(st ansiStyle, params string) ansiStyle {
	if params == "" {
		return ansiStyle{fg: -1, bg: -1}
	}
	ps := strings.Split(params, ";")
	for k := 0; k < len(ps); k++ {
		n, err := strconv.Atoi(ps[k])
		if err != nil {
			continue
		}
		switch {
		case n == 0:
			st = ansiStyle{fg: -1, bg: -1}
		case n == 1:
			st.bold = true
		case n == 2:
			st.dim = true
		case n == 3:
			st.italic = true
		case n == 4:
			st.und = true
		case n == 22:
			st.bold, st.dim = false, false
		case n == 23:
			st.italic = false
		case n == 24:
			st.und = false
		case n >= 30 && n <= 37:
			st.fg = n - 30
		case n == 39:
			st.fg = -1
		case n >= 40 && n <= 47:
			st.bg = n - 40
		case n == 49:
			st.bg = -1
		case n >= 90 && n <= 97:
			st.fg = n - 90 + 8
		case n >= 100 && n <= 107:
			st.bg = n - 100 + 8
		case n == 38 || n == 48:
			// 38;5;N (256 colors: the first 16 map) or 38;2;R;G;B (dropped).
			if k+2 < len(ps) && ps[k+1] == "5" {
				if c, err := strconv.Atoi(ps[k+2]); err == nil && c < 16 {
					if n == 38 {
						st.fg = c
					} else {
						st.bg = c
					}
				}
				k += 2
			} else if k+4 < len(ps) && ps[k+1] == "2" {
				k += 4
			}
		}
	}
	return st
}

// stripControls drops control characters other than tab.
func stripControls(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

func isControl(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }
