package portal

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	kiln "github.com/kiln-build/kiln"
)

// change is one difference between two builds.
type change struct {
	Kind string // "added", "removed" or "changed"
	What string // "entity book", "field book.title", "summary" …
	From string // the old value ("" for added)
	To   string // the new value ("" for removed)
}

// diffSpecs lists what changed from spec a to spec b: name, summary,
// entities, fields, relations and features, in the order of b (removed
// things in the order of a). A nil spec is an empty one.
func diffSpecs(a, b *kiln.AppSpec) []change {
	if a == nil {
		a = &kiln.AppSpec{}
	}
	if b == nil {
		b = &kiln.AppSpec{}
	}
	var out []change
	changed := func(what, from, to string) {
		if from != to {
			out = append(out, change{Kind: "changed", What: what, From: from, To: to})
		}
	}
	changed("app name", a.Name, b.Name)
	changed("summary", a.Summary, b.Summary)

	for _, eb := range b.Entities {
		ea := a.Entity(eb.Name)
		if ea == nil {
			out = append(out, change{Kind: "added", What: "entity " + eb.Name, To: entityText(&eb)})
			continue
		}
		changed("plural of "+eb.Name, ea.Plural, eb.Plural)
		for _, fb := range eb.Fields {
			what := "field " + eb.Name + "." + fb.Name
			fa := findField(ea, fb.Name)
			if fa == nil {
				out = append(out, change{Kind: "added", What: what, To: fieldText(fb)})
				continue
			}
			changed(what, fieldText(*fa), fieldText(fb))
		}
		for _, fa := range ea.Fields {
			if findField(&eb, fa.Name) == nil {
				out = append(out, change{Kind: "removed", What: "field " + eb.Name + "." + fa.Name, From: fieldText(fa)})
			}
		}
	}
	for _, ea := range a.Entities {
		if b.Entity(ea.Name) == nil {
			out = append(out, change{Kind: "removed", What: "entity " + ea.Name, From: entityText(&ea)})
		}
	}

	relKey := func(r kiln.Relation) string { return r.From + "." + r.Field }
	relText := func(r kiln.Relation) string {
		s := r.From + " belongs to " + r.To + " through " + r.Field
		if r.Required {
			s += " (required)"
		}
		return s
	}
	for _, rb := range b.Relations {
		i := slices.IndexFunc(a.Relations, func(r kiln.Relation) bool { return relKey(r) == relKey(rb) })
		if i < 0 {
			out = append(out, change{Kind: "added", What: "relation " + relKey(rb), To: relText(rb)})
			continue
		}
		changed("relation "+relKey(rb), relText(a.Relations[i]), relText(rb))
	}
	for _, ra := range a.Relations {
		if !slices.ContainsFunc(b.Relations, func(r kiln.Relation) bool { return relKey(r) == relKey(ra) }) {
			out = append(out, change{Kind: "removed", What: "relation " + relKey(ra), From: relText(ra)})
		}
	}

	for _, f := range b.Features {
		if !slices.Contains(a.Features, f) {
			out = append(out, change{Kind: "added", What: "feature " + f, To: f})
		}
	}
	for _, f := range a.Features {
		if !slices.Contains(b.Features, f) {
			out = append(out, change{Kind: "removed", What: "feature " + f, From: f})
		}
	}
	return out
}

func findField(e *kiln.Entity, name string) *kiln.Field {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return &e.Fields[i]
		}
	}
	return nil
}

// fieldText describes a field in one line: "integer, required, default 3".
func fieldText(f kiln.Field) string {
	parts := []string{string(f.Type)}
	if f.Required {
		parts = append(parts, "required")
	}
	if f.Unique {
		parts = append(parts, "unique")
	}
	if f.Default != nil {
		parts = append(parts, "default "+defaultString(f.Default))
	}
	return strings.Join(parts, ", ")
}

func entityText(e *kiln.Entity) string {
	names := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		names[i] = f.Name + " " + string(f.Type)
	}
	return e.Plural + ": " + strings.Join(names, ", ")
}

// diffArtifacts compares two builds' files by name.
func diffArtifacts(a, b []*kiln.Artifact) []change {
	byName := func(list []*kiln.Artifact, name string) *kiln.Artifact {
		for _, x := range list {
			if x.Name == name {
				return x
			}
		}
		return nil
	}
	text := func(x *kiln.Artifact) string {
		return humanSize(x.Size) + ", sha256 " + x.SHA256[:min(12, len(x.SHA256))]
	}
	var out []change
	for _, xb := range b {
		xa := byName(a, xb.Name)
		switch {
		case xa == nil:
			out = append(out, change{Kind: "added", What: xb.Name, To: text(xb)})
		case xa.SHA256 != xb.SHA256:
			out = append(out, change{Kind: "changed", What: xb.Name, From: text(xa), To: text(xb)})
		}
	}
	for _, xa := range a {
		if byName(b, xa.Name) == nil {
			out = append(out, change{Kind: "removed", What: xa.Name, From: text(xa)})
		}
	}
	return out
}

// diffPage compares two builds of an app.
type diffPage struct {
	base
	App       *kiln.App
	Builds    []*kiln.Build // to choose from
	From, To  *kiln.Build
	Spec      []change
	Files     []change
	SameFiles int
	// Source is the diff of the generated files, SourceNote why there is
	// none (a build without a source archive).
	Source       *kiln.BuildDiff
	SourceNote   string
	DiffLines    []diffLine
	NoSpecYet    bool
	NeedTwo      bool
	FromID, ToID int64
}

// maxDiffBuilds is how many of an app's newest builds the compare page
// offers.
const maxDiffBuilds = 100

func (p *Portal) diffPage(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	app, err := s.api.GetApp(ctx, id)
	if err != nil {
		return err
	}
	builds, _, err := s.api.ListBuilds(ctx, kiln.BuildFilter{AppID: id, Page: kiln.Page{Limit: maxDiffBuilds}})
	if err != nil {
		return err
	}
	pg := &diffPage{App: app, Builds: builds}
	pg.Title = "Compare builds of " + app.Name
	if len(builds) < 2 {
		pg.NeedTwo = true
		p.render(w, r, s, http.StatusOK, "diff", pg)
		return nil
	}
	q := r.URL.Query()
	pick := func(param string) (*kiln.Build, error) {
		v := q.Get(param)
		if v == "" {
			return nil, nil
		}
		bid, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, kiln.Errorf(kiln.ENotFound, "there is no build %q of this app", v)
		}
		for _, b := range builds {
			if b.ID == bid {
				return b, nil
			}
		}
		return nil, kiln.Errorf(kiln.ENotFound, "build %d is not one of the last %d builds of this app", bid, maxDiffBuilds)
	}
	if pg.To, err = pick("to"); err != nil {
		return err
	}
	if pg.From, err = pick("from"); err != nil {
		return err
	}
	if pg.To == nil {
		pg.To = builds[0]
	}
	if pg.From == nil {
		// The build just before To.
		for _, b := range builds {
			if b.Number < pg.To.Number {
				pg.From = b
				break
			}
		}
		if pg.From == nil {
			pg.From = builds[1]
		}
	}
	pg.FromID, pg.ToID = pg.From.ID, pg.To.ID
	// Builds carry the spec they built; the list may leave it out.
	for _, b := range []**kiln.Build{&pg.From, &pg.To} {
		full, _, err := s.api.GetBuild(ctx, (*b).ID)
		if err != nil {
			return err
		}
		*b = full
	}
	pg.NoSpecYet = pg.From.Spec == nil || pg.To.Spec == nil
	pg.Spec = diffSpecs(pg.From.Spec, pg.To.Spec)
	fa, err := s.api.ListArtifacts(ctx, pg.From.ID)
	if err != nil {
		return err
	}
	fb, err := s.api.ListArtifacts(ctx, pg.To.ID)
	if err != nil {
		return err
	}
	pg.Files = diffArtifacts(fa, fb)
	for _, x := range fb {
		for _, y := range fa {
			if x.Name == y.Name && x.SHA256 == y.SHA256 {
				pg.SameFiles++
			}
		}
	}
	if pg.From.ID != pg.To.ID {
		src, err := s.api.DiffBuilds(ctx, pg.To.ID, pg.From.ID)
		switch {
		case err == nil:
			pg.Source = src
			pg.DiffLines = diffLines(src.Diff)
		case kiln.ErrorCode(err) == kiln.EConflict || kiln.ErrorCode(err) == kiln.ENotFound:
			pg.SourceNote = kiln.ErrorMessage(err)
		default:
			return err
		}
	}
	p.render(w, r, s, http.StatusOK, "diff", pg)
	return nil
}

// diffLine is one line of a unified diff with its kind for coloring.
type diffLine struct {
	Class string // "add", "del", "hunk", "file" or ""
	Text  string
}

func diffLines(diff string) []diffLine {
	if diff == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")
	out := make([]diffLine, len(lines))
	for i, l := range lines {
		c := ""
		switch {
		case strings.HasPrefix(l, "diff --git"), strings.HasPrefix(l, "+++ "), strings.HasPrefix(l, "--- "), strings.HasPrefix(l, "index "),
			strings.HasPrefix(l, "new file"), strings.HasPrefix(l, "deleted file"), strings.HasPrefix(l, "Binary files"):
			c = "file"
		case strings.HasPrefix(l, "@@"):
			c = "hunk"
		case strings.HasPrefix(l, "+"):
			c = "add"
		case strings.HasPrefix(l, "-"):
			c = "del"
		}
		out[i] = diffLine{Class: c, Text: l}
	}
	return out
}
