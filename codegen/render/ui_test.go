package render_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browserPath returns a Chromium to drive, or "" when none is installed.
func browserPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// checkUI drives the generated web UI of richSpec in headless Chromium the
// way a person would: create, see, edit and delete records, pick a parent
// from a list, and read validation errors. It also checks that data shown
// on the page is text, never markup.
func checkUI(t *testing.T, base string) {
	browser := browserPath()
	if browser == "" {
		t.Skip("no Chromium installed (apt-get install chromium); skipping the web UI test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	// Accept every confirm() the UI asks and dismiss its alerts.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		stepCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(stepCtx, actions...); err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v; the page shows:\n%s", what, err, text)
		}
	}
	cell := func(text string) string { return `//td[text()=` + xpathString(text) + `]` }
	submit := chromedp.CSS(`button[type="submit"]`)

	hostile := `<img src=x onerror="document.title='pwned'">Ada & "Co"`
	do("open the UI",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`//nav/button[text()="Customers"]`),
		chromedp.WaitVisible(chromedp.ID("f-name")))

	do("show a validation error",
		chromedp.Click(submit),
		chromedp.WaitVisible(`//div[@id="f-name-error" and text()="is required"]`))

	do("create a customer",
		chromedp.SetValue(chromedp.ID("f-name"), hostile),
		chromedp.SetValue(chromedp.ID("f-email"), "ada@example.com"),
		chromedp.SetValue(chromedp.ID("f-born_on"), "1815-12-10"),
		chromedp.Click(submit),
		chromedp.WaitVisible(cell("ada@example.com")),
		chromedp.WaitVisible(cell(hostile)))
	imgs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#list img").length`))
	if err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if imgs != 0 || title == "pwned" {
		t.Errorf("a record's text became markup: %d img elements, title %q", imgs, title)
	}
	customers := getList(t, base, "customers")
	if len(customers) != 1 || customers[0]["name"] != hostile || customers[0]["born_on"] != "1815-12-10" || customers[0]["active"] != true {
		t.Fatalf("after creating in the UI the API lists %v", customers)
	}

	do("edit the customer",
		chromedp.Click(`//tr[td[text()="ada@example.com"]]//button[text()="Edit"]`),
		chromedp.WaitVisible(`//h2[starts-with(text(), "Edit customer")]`),
		chromedp.SetValue(chromedp.ID("f-name"), "Ada Lovelace"),
		chromedp.Click(submit),
		chromedp.WaitVisible(cell("Ada Lovelace")))
	if got := getList(t, base, "customers"); len(got) != 1 || got[0]["name"] != "Ada Lovelace" {
		t.Fatalf("after editing in the UI the API lists %v", got)
	}

	do("create an order for the customer",
		chromedp.Click(`//nav/button[text()="Orders"]`),
		chromedp.WaitVisible(`//h2[text()="New order"]`),
		chromedp.WaitReady(`//select[@id="f-customer_id"]/option[text()="#1 Ada Lovelace"]`),
		chromedp.SetValue(chromedp.ID("f-total"), "12.50"),
		chromedp.SetValue(chromedp.ID("f-placed_at"), "2026-01-02T15:04"),
		chromedp.SetValue(chromedp.ID("f-customer_id"), "1"),
		chromedp.Click(submit),
		chromedp.WaitVisible(cell("12.50")))
	orders := getList(t, base, "orders")
	if len(orders) != 1 || orders[0]["total"] != "12.50" || orders[0]["customer_id"] != float64(1) || orders[0]["quantity"] != float64(1) {
		t.Fatalf("after creating in the UI the API lists %v", orders)
	}

	do("delete the order",
		chromedp.Click(`//tr[td[text()="12.50"]]//button[text()="Delete"]`),
		chromedp.WaitNotPresent(cell("12.50")))
	if got := getList(t, base, "orders"); len(got) != 0 {
		t.Fatalf("after deleting in the UI the API lists %v", got)
	}
}

// getList reads a whole list from the API.
func getList(t *testing.T, base, plural string) []map[string]any {
	t.Helper()
	res, err := http.Get(base + "/api/" + plural + "?limit=500")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Items []map[string]any }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Items
}

// xpathString quotes s as an XPath string literal.
func xpathString(s string) string {
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	if !strings.Contains(s, `'`) {
		return `'` + s + `'`
	}
	parts := strings.Split(s, `"`)
	return `concat("` + strings.Join(parts, `", '"', "`) + `")`
}
