package portal

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	kiln "github.com/kiln-build/kiln"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// base is what every page's data holds: who is logged in and the form
// token. Page types embed it.
type base struct {
	Title string
	User  *kiln.User // nil when nobody is logged in
	CSRF  string
	Dev   bool
	// Nav names the menu entry to mark as current.
	Nav string
}

func (b *base) setBase(bb base) { *b = bb }

// pageData is implemented by every page type through base.
type pageData interface{ setBase(base) }

// pages holds one template per page, each with the layout and partials.
type pages struct {
	byName map[string]*template.Template
}

func parsePages() (*pages, error) {
	common, err := template.New("layout").Funcs(funcs).ParseFS(templateFiles, "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("portal templates: %w", err)
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	ps := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.Must(common.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("portal template %s: %w", base, err)
		}
		ps.byName[strings.TrimSuffix(base, ".html")] = t
	}
	return ps, nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes a page with the layout. The page is rendered into a buffer
// first so that a template failure becomes a clean error page.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data pageData) {
	t := p.pages.byName[name]
	if t == nil {
		panic("portal: no template " + name)
	}
	b := base{Dev: p.cfg.Dev, Nav: name}
	if s != nil {
		u := s.data.User
		b.User, b.CSRF = &u, s.data.CSRF
	} else {
		b.CSRF = p.anonCSRF(w, r)
	}
	data.setBase(b)
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := t.ExecuteTemplate(buf, "layout", data); err != nil {
		p.log.ErrorContext(r.Context(), "render page", slog.String("page", name), slog.Any("error", err))
		http.Error(w, "Kiln could not show this page (a template failed); the error is in the server log.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// assets maps a static file name to its content hash, for cache busting.
var assets = func() map[string]string {
	m := map[string]string{}
	_ = fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	return m
}()

// assetPath returns the URL of a static file with its version.
func assetPath(name string) string {
	v, ok := assets[name]
	if !ok {
		panic("portal: no static file " + name)
	}
	return "/static/" + name + "?v=" + v
}

// staticHandler serves the embedded files; versioned URLs are cached for
// a year.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	})
}

var funcs = template.FuncMap{
	"asset": assetPath,
	// time renders t as a <time> element in UTC; the page's script shows
	// it in the reader's own time zone.
	"time": func(t any) template.HTML {
		var tt time.Time
		switch v := t.(type) {
		case time.Time:
			tt = v
		case *time.Time:
			if v == nil {
				return ""
			}
			tt = *v
		default:
			return ""
		}
		if tt.IsZero() {
			return ""
		}
		u := tt.UTC()
		return template.HTML(fmt.Sprintf(`<time datetime="%s" data-local>%s</time>`,
			u.Format(time.RFC3339), u.Format("2006-01-02 15:04 UTC")))
	},
	"size":     humanSize,
	"duration": humanDuration,
	"buildDuration": func(b *kiln.Build) string {
		if b == nil || b.StartedAt == nil {
			return ""
		}
		return humanDuration(b.Duration(time.Now()))
	},
	"stepDuration": stepDuration,
	"isSet":        func(v any) bool { return v != nil },
	// num formats a number for people: up to 4 significant digits.
	"num": func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'g', 4, 64)
	},
	"terminal":   func(s kiln.BuildStatus) bool { return s.Terminal() },
	"ansi":       ansiSegments,
	"fieldTypes": func() []kiln.FieldType { return kiln.FieldTypes },
	"features":   func() []string { return kiln.Features },
	"shortSum": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"excerpt": func(s string, n int) string {
		s = strings.Join(strings.Fields(s), " ")
		if r := []rune(s); len(r) > n {
			return string(r[:n-1]) + "…"
		}
		return s
	},
	"path": func(format string, args ...any) string { return fmt.Sprintf(format, args...) },
	"seq": func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	},
	"thousands": thousands,
	// percent is part of whole in whole percent, at most 100.
	"percent": func(part, whole int64) int64 {
		if whole <= 0 {
			return 0
		}
		return min(part*100/whole, 100)
	},
	"add":   func(a, b int) int { return a + b },
	"lower": strings.ToLower,
}

// stepDuration is how long a step ran, or has run so far.
func stepDuration(s *kiln.Step) string {
	if s.FinishedAt == nil {
		return humanDuration(time.Since(s.StartedAt))
	}
	return humanDuration(s.FinishedAt.Sub(s.StartedAt))
}

// thousands formats a whole number with thousands separators: 5,000,000. It
// takes an int, an int64 or a *int64 (nil is "").
func thousands(v any) string {
	var n int64
	switch v := v.(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	case *int64:
		if v == nil {
			return ""
		}
		n = *v
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// humanSize formats a byte count: 512 B, 1.5 KB, 2.0 MB.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTPE"[exp])
}

// humanDuration formats a duration for people: 850ms, 12.3s, 4m05s, 2h10m.
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
