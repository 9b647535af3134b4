package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/pack"
)

// portalPipeline is a fast kiln.Pipeline for browser tests: it builds the
// app's spec (planning a fixed one when the build has none), logs colored
// lines and a line of markup, and packages a real source archive and a
// validation report. Builds of descriptions containing "slow" wait in
// their test step until canceled.
type portalPipeline struct{}

// e2eHostile is a log line and an app description that must show as text.
const e2eHostile = `<img src=x onerror="document.title='pwned'">`

func (portalPipeline) Run(ctx context.Context, b *kiln.Build, app *kiln.App, rec kiln.Recorder) error {
	spec := b.Spec
	err := rec.Step(ctx, "plan", kiln.BuildPlanning, func(ctx context.Context) error {
		if spec == nil {
			spec = &kiln.AppSpec{KilnSpec: 1, Name: "demo", Entities: []kiln.Entity{{Name: "task", Plural: "tasks", Fields: []kiln.Field{{Name: "title", Type: kiln.FieldString}}}}}
		}
		rec.Logf("using spec %q", spec.Name)
		rec.Logf("WARNING: bubblewrap is not available: the generated code runs UNSANDBOXED (set sandbox: required to refuse)")
		return rec.SetSpec(ctx, spec)
	})
	if err != nil {
		return err
	}
	err = rec.Step(ctx, "test", kiln.BuildValidating, func(ctx context.Context) error {
		w := rec.Writer(kiln.StreamStdout)
		defer w.Close()
		for i := range 40 {
			fmt.Fprintf(w, "\x1b[32mok\x1b[0m  \t%s/pkg%d\t0.0%ds\n", spec.Name, i, i%10)
		}
		fmt.Fprintln(w, e2eHostile)
		if strings.Contains(app.Description, "slow") {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return rec.Step(ctx, "package", kiln.BuildPackaging, func(ctx context.Context) error {
		specJSON, _ := json.MarshalIndent(spec, "", "  ")
		var tgz bytes.Buffer
		files := map[string][]byte{"kiln.json": specJSON, "go.mod": []byte("module " + spec.Name + "\n\ngo 1.26\n")}
		if err := pack.WriteTarGz(&tgz, pack.MapFS(files), spec.Name); err != nil {
			return err
		}
		if _, err := rec.AddArtifact(ctx, kiln.ArtifactSourceTarGz, spec.Name+"-source.tar.gz", &tgz); err != nil {
			return err
		}
		report := `{"spec_sha256":"` + spec.Hash() + `","template_set":"go-api","template_version":"test","go":"go1.26","sandboxed":false,` +
			`"checks":[{"name":"test","command":"go test ./...","exit_code":0,"duration_ms":900,"passed":true}],"passed":true}`
		_, err := rec.AddArtifact(ctx, kiln.ArtifactReport, "validation-report.json", strings.NewReader(report))
		return err
	})
}

// browserFlags are the flags the project runs Debian's Chromium with.
func browserContext(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium installed (apt-get install chromium); skipping the portal browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil { // start the browser
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	return ctx, func() { cancelCtx(); cancelAlloc() }
}

// tab is one browser tab driven by a test, saving a screenshot when a step
// fails.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func newTab(t *testing.T, parent context.Context, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	// Accept every confirm() the portal asks.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	// A script error on any page fails the test.
	errs := chromedp.Events(ctx, cdpruntime.ExceptionThrown)
	go func() {
		for ev, err := range errs {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			t.Errorf("script error at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, msg)
		}
	}()
	return &tab{t: t, ctx: ctx}
}

// do runs the steps within 20 seconds; on failure it saves a screenshot
// and fails with what the page shows.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fail(what, err)
	}
}

func (tb *tab) fail(what string, err error) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	shot := filepath.Join(os.TempDir(), fmt.Sprintf("kiln-portal-%s-%d.png", strings.ReplaceAll(tb.t.Name(), "/", "_"), time.Now().UnixNano()))
	if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(90)); serr == nil {
		_ = os.WriteFile(shot, png, 0o644)
	} else {
		shot = "(no screenshot: " + serr.Error() + ")"
	}
	url, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	tb.t.Fatalf("%s: %v\nat %s, screenshot %s; the page shows:\n%s", what, err, url, shot, text)
}

// eval evaluates a JavaScript expression in the page.
func evalIn[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fail("evaluate "+expr, err)
	}
	return v
}

// screenshot saves the page to dir/name.png when dir is set
// (KILN_PORTAL_SCREENSHOTS=docs/portal regenerates the docs' images).
func (tb *tab) screenshot(name string) {
	dir := os.Getenv("KILN_PORTAL_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Error(err)
	}
}

// axeSource is axe-core, the accessibility rules engine (testdata/axe).
func axeSource(t *testing.T) string {
	t.Helper()
	f, err := os.Open("testdata/axe/axe.min.js.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkA11y runs axe-core's WCAG 2 A and AA rules on the page and fails
// the test for each violation.
func (tb *tab) checkA11y(axe, page string) {
	tb.t.Helper()
	if !evalIn[bool](tb, `typeof axe !== "undefined"`) {
		evalIn[bool](tb, "(function(){"+axe+"\n})(), true")
	}
	report := evalIn[string](tb, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(r =>
		JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.html)}))))`)
	var violations []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(report), &violations); err != nil {
		tb.t.Fatalf("axe report: %v: %s", err, report)
	}
	for _, v := range violations {
		tb.t.Errorf("accessibility of %s: %s (%s, %s): %v", page, v.Help, v.ID, v.Impact, v.Nodes)
	}
}

func TestPortalInBrowser(t *testing.T) {
	m := MustMain(t, "", t.TempDir(), []string{"api", "worker"}, portalPipeline{})
	base := m.URL()
	root, cancel := browserContext(t)
	defer cancel()
	ada := newTab(t, root)
	axe := axeSource(t)

	ada.do("open the portal",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`//h1[text()="Log in to Kiln"]`))
	ada.checkA11y(axe, "login")
	ada.do("sign up",
		chromedp.Click(`//a[text()="Create an account"]`),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SetValue(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SetValue(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.SetValue(chromedp.CSS(`#password_confirm`), "correct horse battery"),
		chromedp.Click(`//button[text()="Sign up"]`),
		chromedp.WaitVisible(`//h1[text()="Check your email"]`))
	ada.checkA11y(axe, "check-email")

	MustMail(t, m, "ada@example.com", "verify_email") // the outbox delivers a moment later
	ada.do("open the verification link from the dev mailbox",
		chromedp.Click(`//main//a[text()="dev mailbox"]`),
		chromedp.WaitVisible(chromedp.CSS(`a.mail-link[data-kind="verify_email"]`)),
		chromedp.Click(chromedp.CSS(`a.mail-link[data-kind="verify_email"]`)),
		chromedp.WaitVisible(`//button[text()="Verify my email address"]`),
		chromedp.Click(`//button[text()="Verify my email address"]`),
		chromedp.WaitVisible(`//p[contains(., "Your email address is verified")]`))

	// Log in with the keyboard only: type, Enter.
	ada.do("log in",
		chromedp.Focus(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery\r"),
		chromedp.WaitVisible(`//h2[text()="You have no apps yet"]`))
	ada.checkA11y(axe, "dashboard-empty")

	desc := "A library with books (title, author, year) and loans. A loan belongs to a book."
	ada.do("plan an app",
		chromedp.Click(`//a[text()="Describe your first app"]`),
		chromedp.WaitVisible(chromedp.CSS(`#description`)),
		chromedp.SetValue(chromedp.CSS(`#description`), desc),
		chromedp.SendKeys(chromedp.CSS(`#name`), "library"),
		chromedp.Click(`//button[text()="Plan"]`),
		chromedp.WaitVisible(`//h2[text()="The plan"]`),
		chromedp.WaitVisible(chromedp.CSS(`#e0-name`)))
	entities := evalIn[[]string](ada, `Array.from(document.querySelectorAll("input[name$='.name'][id^='e'][id$='-name']:not([id*='-f'])")).map(e => e.value)`)
	if strings.Join(entities, ",") != "book,loan" {
		t.Fatalf("planned entities %v", entities)
	}
	evalIn[bool](ada, `(document.querySelector("h2").scrollIntoView(), true)`)
	ada.screenshot("new-app-plan")
	ada.checkA11y(axe, "new-app-plan")
	ada.do("adjust the plan and build",
		chromedp.SetValue(chromedp.CSS(`#spec-summary`), "Books and who borrowed them"),
		chromedp.Click(`//button[text()="Build this app"]`),
		chromedp.WaitVisible(`//h1[contains(., "build #1")]`))

	ada.do("watch the build succeed",
		chromedp.WaitVisible(chromedp.CSS(`#build-status [data-status="succeeded"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#unsandboxed`)),
		chromedp.WaitVisible(`//h2[text()="Validation report"]`),
		chromedp.WaitVisible(`//div[contains(@class, "line") and contains(., "library/pkg39")]`))
	// The markup in the log and the description stayed text.
	if n := evalIn[int](ada, `document.querySelectorAll("main img").length`); n != 0 {
		t.Errorf("%d img elements: user text became markup", n)
	}
	if title := evalIn[string](ada, `document.title`); title == "pwned" {
		t.Error("a log line ran script")
	}
	if !evalIn[bool](ada, `document.getElementById("log").textContent.includes(`+jsString(e2eHostile)+`)`) {
		t.Error("the log does not show the markup line as text")
	}
	if colored := evalIn[int](ada, `document.querySelectorAll("#log span.fg2").length`); colored < 40 {
		t.Errorf("%d green ANSI spans in the log", colored)
	}
	if !evalIn[bool](ada, `document.getElementById("log-follow").offsetParent === null`) {
		t.Error("the Follow button shows while the log is followed")
	}
	evalIn[bool](ada, `(document.getElementById("log-h").scrollIntoView(), true)`)
	ada.screenshot("build-succeeded")
	ada.checkA11y(axe, "build-succeeded")

	// Search filters the log.
	ada.do("search the log",
		chromedp.SendKeys(chromedp.CSS(`#log-search`), "pkg3"),
		chromedp.WaitVisible(`//span[@id="log-matches" and text()="11 matching lines"]`))

	// Download the source archive through the browser and check it.
	dl := t.TempDir()
	yes := true
	ctx, cancelDL := context.WithTimeout(ada.ctx, 30*time.Second)
	defer cancelDL()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl, EventsEnabled: &yes,
	}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	done := make(chan string, 1)
	go func() {
		for ev, err := range chromedp.BrowserEvents(ctx, browser.DownloadProgress) {
			if err != nil {
				return
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				done <- ev.FilePath
				return
			}
		}
	}()
	ada.do("download the source", chromedp.Click(chromedp.CSS(`a.artifact[data-kind="source.tar.gz"]`)))
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the download did not complete")
	}
	archive, err := os.ReadFile(filepath.Join(dl, "library-source.tar.gz"))
	if err != nil {
		t.Fatalf("downloaded file: %v", err)
	}
	files := untarFiles(t, archive)
	var spec kiln.AppSpec
	if err := json.Unmarshal(files["library/kiln.json"], &spec); err != nil || spec.Summary != "Books and who borrowed them" || spec.Entity("loan") == nil {
		t.Fatalf("archive kiln.json: %v %s", err, files["library/kiln.json"])
	}

	ada.do("rebuild",
		chromedp.Click(`//button[text()="Rebuild"]`),
		chromedp.WaitVisible(`//h1[contains(., "build #2")]`),
		chromedp.WaitVisible(chromedp.CSS(`#build-status [data-status="succeeded"]`)))
	ada.do("the app page lists both builds and the downloads",
		chromedp.Click(`//nav[@class="crumbs"]/a[text()="library"]`),
		chromedp.WaitVisible(`//table[contains(@class, "builds")]//a[text()="#2"]`),
		chromedp.WaitVisible(`//table[contains(@class, "builds")]//a[text()="#1"]`),
		chromedp.WaitVisible(chromedp.CSS(`a.artifact[data-kind="source.tar.gz"]`)))
	appURL := evalIn[string](ada, `location.pathname`)
	ada.screenshot("app")
	ada.checkA11y(axe, "app")
	ada.do("compare the two builds",
		chromedp.Click(`//a[text()="Compare builds"]`),
		chromedp.WaitVisible(`//h2[text()="Source"]`),
		chromedp.WaitVisible(`//p[text()="The two builds generated identical files."]`))
	ada.checkA11y(axe, "diff")
	ada.do("the admin page", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(`//h2[text()="All builds"]`))
	ada.checkA11y(axe, "admin")
	ada.do("back to the app", chromedp.Navigate(base+appURL), chromedp.WaitVisible(`//a[text()="Analytics and ingest keys"]`))

	// Analytics: create an ingest key, send events with it as a generated
	// app would, and see them counted.
	ada.do("create an ingest key",
		chromedp.Click(`//a[text()="Analytics and ingest keys"]`),
		chromedp.WaitVisible(`//h2[text()="No events in this period"]`),
		chromedp.SetValue(chromedp.CSS(`#key-name`), "production"),
		chromedp.Click(`//button[text()="Create key"]`),
		chromedp.WaitVisible(chromedp.CSS(`#key-secret`)))
	ingestKey := evalIn[string](ada, `document.getElementById("key-secret").value`)
	now := time.Now().UTC().Format(time.RFC3339)
	events := `[{"name":"request","timestamp":"` + now + `","user_id":"u1","value":12,"properties":{"route":"GET /api/books"}},` +
		`{"name":"request","timestamp":"` + now + `","user_id":"u2","value":30,"properties":{"route":"GET /api/loans"}},` +
		`{"name":"signup","timestamp":"` + now + `","user_id":"u2"}]`
	if res, err := client.New(base).Ingest(context.Background(), ingestKey, []byte(events), false); err != nil || res.Accepted != 3 {
		t.Fatalf("ingest: %v %+v", err, res)
	}
	ada.do("see the events",
		chromedp.Navigate(base+appURL+"/analytics?range=1h"),
		chromedp.WaitVisible(`//dd[text()="3"]`),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart rect`)),
		chromedp.WaitVisible(`//code[text()="GET /api/books"]`))
	ada.screenshot("analytics")
	ada.checkA11y(axe, "analytics")

	ada.do("cancel a build",
		chromedp.Navigate(base+"/apps/new"),
		chromedp.SetValue(chromedp.CSS(`#description`), "a slow todo app with tasks (title) "+e2eHostile),
		chromedp.Click(`//button[text()="Build without reviewing the plan"]`),
		chromedp.WaitVisible(`//div[contains(@class, "line") and contains(., "pkg39")]`),
		chromedp.WaitVisible(chromedp.CSS(`#log[data-following="stream"]`)),
		chromedp.Click(`//button[text()="Cancel build"]`),
		chromedp.WaitVisible(chromedp.CSS(`#build-status [data-status="canceled"]`)))

	ada.do("create an API token",
		chromedp.Navigate(base+"/account"),
		// The server has no model: the account page says so instead of limits.
		chromedp.WaitVisible(`//section[@id="llm-usage"]//p[starts-with(., "No model configured")]`),
		chromedp.SendKeys(chromedp.CSS(`#token-name`), "laptop CLI"),
		chromedp.Click(`//button[text()="Create token"]`),
		chromedp.WaitVisible(chromedp.CSS(`#token-secret`)))
	secret := evalIn[string](ada, `document.getElementById("token-secret").value`)
	if _, err := client.New(base, client.WithToken(secret)).Me(context.Background()); err != nil {
		t.Fatalf("the new token does not work: %v", err)
	}
	ada.screenshot("account-token")
	ada.checkA11y(axe, "account-token")

	// The dashboard follows a running build: cancel one through the API
	// with the new token and watch its status change without reloading.
	ada.do("start another slow build",
		chromedp.Navigate(base+"/apps/new"),
		chromedp.SetValue(chromedp.CSS(`#description`), "another slow app with notes (body)"),
		chromedp.SetValue(chromedp.CSS(`#name`), "notes"),
		chromedp.Click(`//button[text()="Build without reviewing the plan"]`),
		chromedp.WaitVisible(`//div[contains(@class, "line") and contains(., "pkg39")]`))
	var slowID int64
	fmt.Sscanf(evalIn[string](ada, `location.pathname`), "/builds/%d", &slowID)
	ada.do("the dashboard shows it running",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`//tr[td/a[text()="notes"]]//span[@data-status="validating"]`))
	if _, err := client.New(base, client.WithToken(secret)).CancelBuild(context.Background(), slowID); err != nil {
		t.Fatalf("cancel through the API: %v", err)
	}
	ada.do("the dashboard shows it canceled",
		chromedp.WaitVisible(`//tr[td/a[text()="notes"]]//span[@data-status="canceled"]`))

	ada.do("back to the account page", chromedp.Navigate(base+"/account"), chromedp.WaitVisible(`//button[text()="Revoke"]`))
	ada.do("revoke it",
		chromedp.Click(`//button[text()="Revoke"]`),
		chromedp.WaitVisible(`//p[text()="You have no API tokens."]`))
	// Writes resolve the credential afresh, so the refusal is immediate.
	if _, err := client.New(base, client.WithToken(secret)).Plan(context.Background(), "a todo app"); kiln.ErrorCode(err) != kiln.EUnauthorized {
		t.Fatalf("the revoked token still works: %v", err)
	}

	ada.do("the dashboard lists the apps",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`//td//a[text()="library"]`))
	if n := evalIn[int](ada, `document.querySelectorAll("main img").length`); n != 0 {
		t.Errorf("%d img elements on the dashboard: a description became markup", n)
	}
	if !evalIn[bool](ada, `document.querySelector("main").textContent.includes(`+jsString(e2eHostile)+`)`) {
		t.Error("the dashboard does not show the description's markup as text")
	}
	ada.screenshot("dashboard")
	ada.checkA11y(axe, "dashboard")

	// On a phone-sized screen nothing is wider than the screen.
	for _, path := range []string{"/", appURL, "/apps/new", "/account"} {
		ada.do("phone "+path, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(`main`)))
		if over := evalIn[bool](ada, `document.documentElement.scrollWidth > window.innerWidth + 1`); over {
			ada.fail("phone layout of "+path, fmt.Errorf("the page is wider than the screen (%d px)", evalIn[int](ada, `document.documentElement.scrollWidth`)))
		}
		if path == appURL {
			ada.screenshot("phone-app")
		}
	}
	ada.do("desktop again", chromedp.EmulateViewport(1280, 900))

	// Page weight: the HTML and everything it loads.
	ada.do("measure the build page", chromedp.Navigate(base+appURL), chromedp.WaitVisible(chromedp.CSS(`main`)))
	weight := evalIn[int](ada, `performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).reduce((n, e) => n + (e.decodedBodySize || 0), 0)`)
	if weight == 0 || weight > 200<<10 {
		t.Errorf("the app page weighs %d bytes", weight)
	}

	// A second user cannot see the first one's app.
	bobClient := MustUser(t, m, "bob@example.com")
	_ = bobClient
	bob := newTab(t, root, chromedp.WithNewBrowserContext())
	bob.do("bob logs in",
		chromedp.Navigate(base+"/login"),
		chromedp.SetValue(chromedp.CSS(`#email`), "bob@example.com"),
		chromedp.SetValue(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(`//h2[text()="You have no apps yet"]`))
	bob.do("bob opens ada's app",
		chromedp.Navigate(base+appURL),
		chromedp.WaitVisible(`//h1[text()="Not Found"]`))
	if strings.Contains(evalIn[string](bob, `document.body.innerText`), "library") {
		t.Error("the not-found page shows the other user's app")
	}

	// Ada forgets her password on another browser: forgot → mail → reset
	// → log in with the new one.
	forgot := newTab(t, root, chromedp.WithNewBrowserContext())
	forgot.do("ask for a reset link",
		chromedp.Navigate(base+"/login"),
		chromedp.Click(`//a[text()="Forgot your password?"]`),
		chromedp.WaitVisible(`//h1[text()="Forgot your password?"]`))
	forgot.checkA11y(axe, "forgot-password")
	forgot.do("send the form",
		chromedp.SetValue(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.Click(`//button[text()="Mail me a reset link"]`),
		chromedp.WaitVisible(`//p[contains(., "If an account has this address")]`))
	MustMail(t, m, "ada@example.com", "password_reset")
	forgot.do("open the reset link from the dev mailbox",
		chromedp.Click(`//main//a[text()="dev mailbox"]`),
		chromedp.WaitVisible(chromedp.CSS(`a.mail-link[data-kind="password_reset"]`)),
		chromedp.Click(chromedp.CSS(`a.mail-link[data-kind="password_reset"]`)),
		chromedp.WaitVisible(`//button[text()="Set the new password"]`))
	forgot.checkA11y(axe, "reset-password")
	forgot.do("choose a new password",
		chromedp.SetValue(chromedp.CSS(`#password`), "a brand new passphrase"),
		chromedp.SetValue(chromedp.CSS(`#password_confirm`), "a brand new passphrase"),
		chromedp.Click(`//button[text()="Set the new password"]`),
		chromedp.WaitVisible(`//p[contains(., "Your password is changed")]`))
	forgot.do("log in with it",
		chromedp.SetValue(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SetValue(chromedp.CSS(`#password`), "a brand new passphrase"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(`//td//a[text()="library"]`))
	forgot.do("turn build mail off",
		chromedp.Navigate(base+"/account"),
		chromedp.Click(chromedp.CSS(`#notify-builds`)),
		chromedp.Click(`//button[text()="Save mail settings"]`),
		chromedp.WaitVisible(`//p[text()="Your mail settings are saved."]`))
	if evalIn[bool](forgot, `document.getElementById("notify-builds").checked`) {
		t.Error("build mail still on after unticking and saving")
	}
	forgot.checkA11y(axe, "account-mail")
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func untarFiles(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
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
