package portal_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestPlanAdjustBuild(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")

	b.Get("/apps/new").MustStatus(t, http.StatusOK).MustContain(t, `<label for="description">Describe the app</label>`, "data-example=")
	b.Post("/apps/new", "op", "plan", "description", "hello there").
		MustStatus(t, http.StatusUnprocessableEntity).MustContain(t, `id="description-error"`, "names nothing the app could store")

	desc := "A todo app with tasks (title, due date, done)"
	p := b.Post("/apps/new", "op", "plan", "description", desc).MustStatus(t, http.StatusOK).
		MustContain(t, "The plan", `name="e0.name" value="task"`, `name="e0.f0.name" value="title"`, "Build this app")

	// Adjust: add a field, then build with a bad field name: the error
	// shows beside that field, and nothing is created.
	form := formOf(t, p.body, "new-app")
	form.Set("op", "add-field:0")
	p = b.PostForm("/apps/new", form).MustStatus(t, http.StatusOK)
	form = formOf(t, p.body, "new-app")
	n := form.Get("e0.fields")
	last := "e0.f" + itoa(atoi(n)-1)
	form.Set(last+".name", "Bad Name")
	form.Set("op", "build")
	p = b.PostForm("/apps/new", form).MustStatus(t, http.StatusUnprocessableEntity)
	p.MustContain(t, "The spec has 1 problem", `id="`+strings.ReplaceAll(last, ".", "-")+`-name" name="`+last+`.name" value="Bad Name" autocomplete="off" spellcheck="false" aria-invalid="true">`, "must be snake_case")
	if countRows(t, e, "apps") != 0 {
		t.Fatal("an app was created from an invalid spec")
	}

	form = formOf(t, p.body, "new-app")
	form.Set(last+".name", "priority")
	form.Set(last+".type", "integer")
	form.Set(last+".default", "3")
	form.Set("op", "build")
	p = b.PostForm("/apps/new", form).MustStatus(t, http.StatusSeeOther)
	id := buildID(t, p.location())
	b.Get(p.location()).MustStatus(t, http.StatusOK).MustContain(t, "build #1", `data-status="queued"`, "Cancel build")

	e.RunBuild(t, id)
	bp := b.Get(p.location()).MustStatus(t, http.StatusOK)
	bp.MustContain(t, `data-status="succeeded"`, "This build ran unsandboxed", "Validation report", "go vet ./...",
		`<span class="fg2">ok</span>`, `<span class="fg1 b">FAIL</span>`, "todo-source.tar.gz")
	// A log line with markup is text.
	bp.MustContain(t, "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;")
	if strings.Contains(bp.body, hostileLine) {
		t.Fatal("a log line became markup")
	}

	// The app page shows the adjusted spec and the download.
	appURL := regexp.MustCompile(`href="(/apps/\d+)"`).FindStringSubmatch(bp.body)[1]
	ap := b.Get(appURL).MustStatus(t, http.StatusOK).MustContain(t, "<code>priority</code>", "default 3", "Rebuild", "todo-source.tar.gz")
	dl := regexp.MustCompile(`href="(/artifacts/\d+/download)" download class="artifact" data-kind="source.tar.gz"`).FindStringSubmatch(ap.body)
	if dl == nil {
		t.Fatalf("no source download on the app page:\n%s", ap.body)
	}
	res, err := http.Get(e.srv.URL + dl[1])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/login" {
		t.Fatalf("an anonymous download was not sent to log in: %s", res.Request.URL)
	}
	d := b.Get(dl[1]).MustStatus(t, http.StatusOK)
	if cd := d.header.Get("Content-Disposition"); cd != `attachment; filename=todo-source.tar.gz` {
		t.Errorf("Content-Disposition %q", cd)
	}
	sum := sha256.Sum256([]byte(d.body))
	if hex.EncodeToString(sum[:]) != d.header.Get("X-Checksum-Sha256") {
		t.Error("downloaded bytes differ from their checksum")
	}
	files := untar(t, d.body)
	var spec struct {
		Entities []struct {
			Fields []struct{ Name string } `json:"fields"`
		} `json:"entities"`
	}
	if err := json.Unmarshal(files["todo/kiln.json"], &spec); err != nil || len(spec.Entities) != 1 || spec.Entities[0].Fields[len(spec.Entities[0].Fields)-1].Name != "priority" {
		t.Fatalf("archive kiln.json %s (%v); files %v", files["todo/kiln.json"], err, keys(files))
	}

	// Rebuild makes build #2.
	b.Get(appURL)
	p = b.Post(appURL+"/rebuild").MustStatus(t, http.StatusSeeOther)
	b.Get(p.location()).MustContain(t, "build #2")
}

func TestSpecEditor(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Get("/apps/new")
	p := b.Post("/apps/new", "op", "build", "description", "A todo app with tasks (title, due date, done)").MustStatus(t, http.StatusSeeOther)
	e.RunBuild(t, buildID(t, p.location()))
	bp := b.Get(p.location())
	appURL := regexp.MustCompile(`href="(/apps/\d+)"`).FindStringSubmatch(bp.body)[1]

	sp := b.Get(appURL+"/spec").MustStatus(t, http.StatusOK).MustContain(t, `name="e0.name" value="task"`)
	form := formOf(t, sp.body, "")
	form.Set("e0.plural", "task") // same as the name
	form.Set("op", "save")
	b.PostForm(appURL+"/spec", form).MustStatus(t, http.StatusUnprocessableEntity).
		MustContain(t, `name="e0.plural" value="task" autocomplete="off" spellcheck="false" aria-invalid="true">`, "must differ from the name")

	form.Set("e0.plural", "todos")
	form.Set("op", "add-relation")
	p = b.PostForm(appURL+"/spec", form).MustStatus(t, http.StatusOK).MustContain(t, `id="r0-from"`)
	form = formOf(t, p.body, "")
	form.Set("op", "del-relation:0")
	p = b.PostForm(appURL+"/spec", form).MustStatus(t, http.StatusOK)
	form = formOf(t, p.body, "")
	form.Set("op", "save")
	p = b.PostForm(appURL+"/spec", form).MustStatus(t, http.StatusSeeOther)
	b.Get(p.location()).MustContain(t, "The spec is saved", "task <span class=\"muted\">(todos)</span>")
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Get("/apps/new")
	hostile := `<script>alert("x")</script> tasks (title)`
	p := b.Post("/apps/new", "op", "build", "description", hostile, "name", `<b onmouseover=alert(1)>n</b>`).MustStatus(t, http.StatusSeeOther)
	e.RunBuild(t, buildID(t, p.location()))
	for _, path := range []string{"/", p.location()} {
		page := b.Get(path).MustStatus(t, http.StatusOK)
		if strings.Contains(page.body, `<script>alert`) || strings.Contains(page.body, `<b onmouseover`) {
			t.Fatalf("%s shows user text as markup:\n%s", path, page.body)
		}
		page.MustContain(t, "&lt;b onmouseover=alert(1)&gt;n&lt;/b&gt;")
	}
	appURL := regexp.MustCompile(`href="(/apps/\d+)"`).FindStringSubmatch(b.Get("/").body)[1]
	b.Get(appURL).MustContain(t, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; tasks (title)")
}

// formOf collects the inputs of the page's form (the one with the id, or
// the one holding the spec editor) as a browser would submit them,
// without any submit button's value.
func formOf(t *testing.T, body, id string) url.Values {
	t.Helper()
	start := strings.Index(body, `<form method="post" action="/apps/`)
	if id != "" {
		start = strings.Index(body, `id="`+id+`"`)
	}
	if start < 0 {
		t.Fatalf("no form %q", id)
	}
	body = body[start:]
	body = body[:strings.Index(body, "</form>")]
	form := url.Values{}
	add := func(k, v string) { form[k] = append(form[k], htmlUnescape(v)) }
	for _, m := range regexp.MustCompile(`<input([^>]*)>`).FindAllStringSubmatch(body, -1) {
		attrs := m[1]
		name, value := attr(attrs, "name"), attr(attrs, "value")
		if name == "" {
			continue
		}
		if strings.Contains(attrs, `type="checkbox"`) && !strings.Contains(attrs, " checked") {
			continue
		}
		add(name, value)
	}
	for _, m := range regexp.MustCompile(`(?s)<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>`).FindAllStringSubmatch(body, -1) {
		sel := regexp.MustCompile(`<option selected>([^<]*)</option>`).FindStringSubmatch(m[2])
		if sel == nil {
			sel = regexp.MustCompile(`<option[^>]*>([^<]*)</option>`).FindStringSubmatch(m[2])
		}
		if sel != nil {
			add(m[1], sel[1])
		}
	}
	for _, m := range regexp.MustCompile(`(?s)<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>`).FindAllStringSubmatch(body, -1) {
		add(m[1], m[2])
	}
	return form
}

func attr(attrs, name string) string {
	m := regexp.MustCompile(` ` + name + `="([^"]*)"`).FindStringSubmatch(attrs)
	if m == nil {
		return ""
	}
	return m[1]
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&amp;", "&").Replace(s)
}

func untar(t *testing.T, data string) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		} else if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBuildLogAndCancel(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Get("/apps/new")
	first := b.Post("/apps/new", "op", "build", "description", "A todo app with tasks (title)").MustStatus(t, http.StatusSeeOther)
	id := buildID(t, first.location())
	base := "/builds/" + itoa(int(id))

	var lj struct {
		Lines []struct {
			Seq    int64  `json:"seq"`
			Stream string `json:"stream"`
			Text   string `json:"text"`
		} `json:"lines"`
		NextAfter int64  `json:"next_after"`
		Status    string `json:"status"`
		Terminal  bool   `json:"terminal"`
		Steps     []struct {
			Name, Outcome string
		} `json:"steps"`
	}
	p := b.Get(base+"/log.json").MustStatus(t, http.StatusOK)
	if err := json.Unmarshal([]byte(p.body), &lj); err != nil || lj.Status != "queued" || lj.Terminal || len(lj.Lines) != 0 {
		t.Fatalf("queued build log.json: %v %s", err, p.body)
	}
	e.RunBuild(t, id)
	p = b.Get(base+"/log.json?after=0").MustStatus(t, http.StatusOK)
	if err := json.Unmarshal([]byte(p.body), &lj); err != nil || lj.Status != "succeeded" || !lj.Terminal || len(lj.Steps) != 3 || len(lj.Lines) < 5 {
		t.Fatalf("finished build log.json: %v %s", err, p.body)
	}
	var hostile bool
	for _, l := range lj.Lines {
		hostile = hostile || l.Text == hostileLine
	}
	if !hostile {
		t.Errorf("log.json lost the raw line: %s", p.body)
	}
	p = b.Get(base + "/log.json?after=" + strconv.FormatInt(lj.NextAfter, 10))
	if err := json.Unmarshal([]byte(p.body), &lj); err != nil || len(lj.Lines) != 0 {
		t.Fatalf("log.json after the end: %s", p.body)
	}
	txt := b.Get(base+"/log.txt").MustStatus(t, http.StatusOK)
	if !strings.Contains(txt.body, "ok  \tdemo/store\t0.01s\n") || strings.Contains(txt.body, "\x1b") || txt.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("log.txt:\n%q", txt.body)
	}

	// A build that ended cannot be canceled; a queued one can.
	b.Get(base)
	p = b.Post(base+"/cancel").MustStatus(t, http.StatusSeeOther)
	b.Get(p.location()).MustContain(t, "The build had already ended.")
	appURL := regexp.MustCompile(`href="(/apps/\d+)"`).FindStringSubmatch(b.Get(base).body)[1]
	p = b.Post(appURL+"/rebuild").MustStatus(t, http.StatusSeeOther)
	second := strings.SplitN(p.location(), "?", 2)[0]
	b.Get(second).MustContain(t, "Cancel build")
	p = b.Post(second+"/cancel").MustStatus(t, http.StatusSeeOther)
	b.Get(p.location()).MustContain(t, "Cancel requested", `data-status="canceled"`, "Rebuild")

	// The page's script gets single-use stream tickets with the form token.
	b.Get(second).MustContain(t, `data-stream="1" data-csrf="`)
	tk := b.Post("/stream-ticket.json").MustStatus(t, http.StatusOK)
	if !strings.Contains(tk.body, `"ticket":"kst_`) {
		t.Errorf("stream ticket: %s", tk.body)
	}
	b.PostForm("/stream-ticket.json", url.Values{"csrf": {"wrong"}}).MustStatus(t, http.StatusForbidden)

	// Anything but a number is no page.
	b.Get("/builds/abc").MustStatus(t, http.StatusNotFound)
	b.Get("/builds/99999").MustStatus(t, http.StatusNotFound).MustContain(t, "Not Found")
}

func TestBuildWithModel(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Get("/apps/new")
	p := b.Post("/apps/new", "op", "build", "description", "A todo app with tasks (title), repaired by a model").MustStatus(t, http.StatusSeeOther)
	e.RunBuild(t, buildID(t, p.location()))
	b.Get(p.location()).MustStatus(t, http.StatusOK).MustContain(t,
		"Language model", "1 call, 1500 tokens (1200 in, 300 out), about $0.0123", "<td data-label=\"Step\">repair 1</td>",
		"What the model changed (tiny-model)", "Repairs stopped: the checks passed.", "after <code>vet</code> failed",
		"store.go:3: &lt;undefined&gt; x", "<code>store.go</code> edited")
	// Without model calls the section is absent.
	b.Get("/apps/new")
	p = b.Post("/apps/new", "op", "build", "description", "A todo app with tasks (title)").MustStatus(t, http.StatusSeeOther)
	e.RunBuild(t, buildID(t, p.location()))
	if pg := b.Get(p.location()); strings.Contains(pg.body, "Language model") {
		t.Error("a build without model calls shows a usage section")
	}
}

func TestCompareBuilds(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Get("/apps/new")
	p := b.Post("/apps/new", "op", "build", "description", "A todo app with tasks (title)").MustStatus(t, http.StatusSeeOther)
	first := buildID(t, p.location())
	e.RunBuild(t, first)
	appURL := regexp.MustCompile(`href="(/apps/\d+)"`).FindStringSubmatch(b.Get(p.location()).body)[1]
	b.Get(appURL+"/diff").MustStatus(t, http.StatusOK).MustContain(t, "has only one build")

	// Edit the spec, build it, compare.
	form := formOf(t, b.Get(appURL+"/spec").body, "")
	form.Set("e0.f0.required", "1")
	form.Set("op", "save-build")
	p = b.PostForm(appURL+"/spec", form).MustStatus(t, http.StatusSeeOther)
	second := buildID(t, p.location())
	e.RunBuild(t, second)
	b.Get(p.location()).MustContain(t, "Compare with the build before")
	d := b.Get(appURL+"/diff").MustStatus(t, http.StatusOK)
	d.MustContain(t, "build #1", "build #2", "field task.title", "<del>string</del>", "<ins>string, required</ins>", "demo-source.tar.gz",
		"<code>kiln.json</code>", `<span class="file">diff --git a/kiln.json b/kiln.json</span>`, `<span class="add">&#43;{`)
	b.Get(appURL+"/diff?from="+itoa(int(second))+"&to="+itoa(int(second))).MustContain(t, "The two builds built the same spec", "2 files identical")
	b.Get(appURL+"/diff?from=999999").MustStatus(t, http.StatusNotFound)
}
