package portal

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	kiln "github.com/kiln-build/kiln"
)

// dashboardPageSize is how many apps the dashboard lists per page.
const dashboardPageSize = 50

// dashboardPage lists the user's apps.
type dashboardPage struct {
	base
	Apps   []*kiln.App
	Cursor string // this page's cursor ("" for the first)
	Next   string
	Notice string
	// Live is set when a build on the page has not ended: the page's
	// script then polls for their status.
	Live bool
}

func (p *Portal) dashboard(w http.ResponseWriter, r *http.Request, s *session) error {
	cursor := r.URL.Query().Get("cursor")
	apps, next, err := s.api.ListApps(r.Context(), kiln.AppFilter{Page: kiln.Page{Cursor: cursor, Limit: dashboardPageSize}})
	if err != nil {
		if kiln.ErrorCode(err) == kiln.EInvalid && cursor != "" {
			http.Redirect(w, r, "/", http.StatusSeeOther) // a stale or mangled cursor
			return nil
		}
		return err
	}
	pg := &dashboardPage{Apps: apps, Cursor: cursor, Next: next}
	for _, a := range apps {
		if a.LatestBuild != nil && !a.LatestBuild.Status.Terminal() {
			pg.Live = true
		}
	}
	switch r.URL.Query().Get("msg") {
	case "verified":
		pg.Notice = "Your email address is verified."
	case "deleted":
		pg.Notice = "The app was deleted."
	}
	pg.Title = "Your apps"
	p.render(w, r, s, http.StatusOK, "dashboard", pg)
	return nil
}

// appStatus is one app's latest build in /apps/status.json.
type appStatus struct {
	ID     int64            `json:"id"`
	Build  int64            `json:"build_id,omitempty"`
	Number int              `json:"number,omitempty"`
	Status kiln.BuildStatus `json:"status,omitempty"`
}

// appsStatus answers the dashboard's polling with the latest build of each
// app on the same page.
func (p *Portal) appsStatus(w http.ResponseWriter, r *http.Request, s *session) error {
	apps, _, err := s.api.ListApps(r.Context(), kiln.AppFilter{Page: kiln.Page{Cursor: r.URL.Query().Get("cursor"), Limit: dashboardPageSize}})
	if err != nil {
		return err
	}
	out := make([]appStatus, 0, len(apps))
	for _, a := range apps {
		st := appStatus{ID: a.ID}
		if b := a.LatestBuild; b != nil {
			st.Build, st.Number, st.Status = b.ID, b.Number, b.Status
		}
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": out})
	return nil
}

// examples are descriptions the offline planner reads well, offered on the
// new-app page.
var examples = []string{
	"A todo app with tasks (title, due date, done)",
	"A library API with books (title, author, year) and loans. A loan belongs to a book.",
	"An app for a gym: members (name, email, joined on), classes (title, starts at, capacity) and bookings. A booking belongs to a member and a class.",
	"A helpdesk where customers open tickets. Tickets have a subject, description, priority and status (default open).",
}

// newAppPage is the description box, then the planned spec to adjust.
type newAppPage struct {
	base
	Description string
	Name        string
	Examples    []string
	// Errors by input: "description", "name"; Error for the whole form.
	DescError string
	NameError string
	Error     string
	// Spec is the plan being adjusted, nil before "Plan".
	Spec *specForm
}

func (p *Portal) newAppPage(w http.ResponseWriter, r *http.Request, s *session) error {
	pg := &newAppPage{Examples: examples}
	if i, err := strconv.Atoi(r.URL.Query().Get("example")); err == nil && i >= 0 && i < len(examples) {
		pg.Description = examples[i]
	}
	pg.Title = "New app"
	p.render(w, r, s, http.StatusOK, "new-app", pg)
	return nil
}

func (p *Portal) newApp(w http.ResponseWriter, r *http.Request, s *session) error {
	form := r.PostForm
	pg := &newAppPage{Examples: examples, Description: strings.TrimSpace(form.Get("description")), Name: strings.TrimSpace(form.Get("name"))}
	pg.Title = "New app"
	if form.Get("planned") != "" {
		pg.Spec = parseSpecForm(form)
	}
	op := form.Get("op")
	switch {
	case pg.Spec != nil && pg.Spec.apply(op):
		p.render(w, r, s, http.StatusOK, "new-app", pg)
		return nil
	case pg.Description == "":
		pg.DescError = "Describe the app first: what it keeps, and the fields of each thing."
		p.render(w, r, s, http.StatusUnprocessableEntity, "new-app", pg)
		return nil
	case op == "plan":
		spec, err := s.api.Plan(r.Context(), pg.Description)
		if err != nil {
			pg.Spec = nil
			switch kiln.ErrorCode(err) {
			case kiln.EInvalid:
				pg.DescError = describeErr(err, "body.description")
			case kiln.EUnavailable, kiln.EForbidden, kiln.ERateLimited, kiln.ETooLarge:
				// The planner is down or the user's model budget is spent:
				// building without a preview may still work.
				pg.Error = "Kiln could not plan this now: " + kiln.ErrorMessage(err)
			default:
				return err
			}
			p.render(w, r, s, http.StatusUnprocessableEntity, "new-app", pg)
			return nil
		}
		pg.Spec = newSpecForm(spec)
		p.render(w, r, s, http.StatusOK, "new-app", pg)
		return nil
	}
	in := kiln.AppCreate{Description: pg.Description, Name: pg.Name}
	if pg.Spec != nil {
		in.Spec = pg.Spec.spec()
	}
	app, b, err := s.api.CreateApp(r.Context(), in)
	if err != nil {
		switch kiln.ErrorCode(err) {
		case kiln.EInvalid:
			for _, fe := range fieldErrors(err) {
				switch fe.Path {
				case "body.description":
					pg.DescError = fe.Message
				case "body.name":
					pg.NameError = fe.Message
				}
			}
			if pg.Spec != nil {
				pg.Spec.setErrors(err, "body.spec.")
			}
			if pg.DescError == "" && pg.NameError == "" && (pg.Spec == nil || pg.Spec.ErrorCount() == 0) {
				pg.Error = kiln.ErrorMessage(err)
			}
		case kiln.EForbidden:
			pg.Error = kiln.ErrorMessage(err) + " Open the link in the mail Kiln sent you, or ask for a new one on your account page."
		default:
			return err
		}
		p.render(w, r, s, http.StatusUnprocessableEntity, "new-app", pg)
		return nil
	}
	http.Redirect(w, r, fmt.Sprintf("/builds/%d?app=%d", b.ID, app.ID), http.StatusSeeOther)
	return nil
}

// describeErr returns the message of the field error at path, else the
// error's message.
func describeErr(err error, path string) string {
	for _, fe := range fieldErrors(err) {
		if fe.Path == path {
			return fe.Message
		}
	}
	return kiln.ErrorMessage(err)
}

// pathID reads the {id} of the URL; anything but a positive number is a
// page that does not exist.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, kiln.Errorf(kiln.ENotFound, "there is no page at %s", r.URL.Path)
	}
	return id, nil
}

// appPage shows an app: its spec, builds and the latest artifacts.
type appPage struct {
	base
	App    *kiln.App
	Builds []*kiln.Build
	Next   string
	// Latest is the newest build that succeeded, with its artifacts.
	Latest    *kiln.Build
	Artifacts []*kiln.Artifact
	Live      bool
	Notice    string
}

func (p *Portal) appPage(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	app, err := s.api.GetApp(ctx, id)
	if err != nil {
		return err
	}
	builds, next, err := s.api.ListBuilds(ctx, kiln.BuildFilter{AppID: id, Page: kiln.Page{Cursor: r.URL.Query().Get("cursor"), Limit: 20}})
	if err != nil {
		return err
	}
	pg := &appPage{App: app, Builds: builds, Next: next}
	for _, b := range builds {
		if !b.Status.Terminal() {
			pg.Live = true
		}
		if pg.Latest == nil && b.Status == kiln.BuildSucceeded {
			pg.Latest = b
		}
	}
	if pg.Latest != nil {
		if pg.Artifacts, err = s.api.ListArtifacts(ctx, pg.Latest.ID); err != nil {
			return err
		}
	}
	if r.URL.Query().Get("msg") == "spec-saved" {
		pg.Notice = "The spec is saved. Rebuild to generate the app from it."
	}
	pg.Title = app.Name
	p.render(w, r, s, http.StatusOK, "app", pg)
	return nil
}

// specPage edits an app's spec.
type specPage struct {
	base
	App  *kiln.App
	Spec *specForm
}

func (p *Portal) specPage(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	app, err := s.api.GetApp(r.Context(), id)
	if err != nil {
		return err
	}
	pg := &specPage{App: app}
	if app.Spec != nil {
		pg.Spec = newSpecForm(app.Spec)
	} else {
		pg.Spec = &specForm{Name: "app", Entities: []entityForm{{Fields: []fieldForm{{Type: string(kiln.FieldString)}}}}, Features: map[string]bool{kiln.FeatureUI: true}}
	}
	pg.Title = "Edit the spec of " + app.Name
	p.render(w, r, s, http.StatusOK, "spec", pg)
	return nil
}

func (p *Portal) saveSpec(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	app, err := s.api.GetApp(ctx, id)
	if err != nil {
		return err
	}
	pg := &specPage{App: app, Spec: parseSpecForm(r.PostForm)}
	pg.Title = "Edit the spec of " + app.Name
	if pg.Spec.apply(r.PostForm.Get("op")) {
		p.render(w, r, s, http.StatusOK, "spec", pg)
		return nil
	}
	if _, err := s.api.SetSpec(ctx, id, pg.Spec.spec()); err != nil {
		if code := kiln.ErrorCode(err); code != kiln.EInvalid && code != kiln.ETooLarge {
			return err
		}
		pg.Spec.setErrors(err, "body.")
		p.render(w, r, s, http.StatusUnprocessableEntity, "spec", pg)
		return nil
	}
	if r.PostForm.Get("op") == "save-build" {
		b, err := s.api.CreateBuild(ctx, id, kiln.BuildCreate{})
		if err != nil {
			return err
		}
		http.Redirect(w, r, fmt.Sprintf("/builds/%d", b.ID), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, fmt.Sprintf("/apps/%d?msg=spec-saved", id), http.StatusSeeOther)
	return nil
}

func (p *Portal) rebuild(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	b, err := s.api.CreateBuild(r.Context(), id, kiln.BuildCreate{NoCache: r.PostForm.Get("no_cache") != ""})
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/builds/%d", b.ID), http.StatusSeeOther)
	return nil
}

func (p *Portal) deleteApp(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.api.DeleteApp(r.Context(), id); err != nil {
		if kiln.ErrorCode(err) == kiln.EConflict {
			return kiln.Errorf(kiln.EConflict, "%s Cancel the running build first, then delete the app.", kiln.ErrorMessage(err))
		}
		return err
	}
	http.Redirect(w, r, "/?msg=deleted", http.StatusSeeOther)
	return nil
}
