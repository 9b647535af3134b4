package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// Log lines per API call, and how many the build page renders before its
// script fetches the rest.
const (
	logPage      = 1000
	logMaxText   = 200000 // lines in log.txt
	maxReportLen = 1 << 20
)

// unsandboxedMarker is in the log line the pipeline writes when the checks
// ran without bubblewrap.
const unsandboxedMarker = "UNSANDBOXED"

// validationReport is the validation-report artifact (codegen.Report).
type validationReport struct {
	Spec            string        `json:"spec_sha256"`
	TemplateSet     string        `json:"template_set"`
	TemplateVersion string        `json:"template_version"`
	Go              string        `json:"go"`
	Sandboxed       bool          `json:"sandboxed"`
	Checks          []reportCheck `json:"checks"`
	Passed          bool          `json:"passed"`
	LLM             *reportLLM    `json:"llm,omitempty"`
}

// reportLLM is what the model changed (codegen.LLMReport).
type reportLLM struct {
	Model    string          `json:"model"`
	Attempts []reportAttempt `json:"attempts"`
	Stopped  string          `json:"stopped,omitempty"`
	Usage    kiln.TokenUsage `json:"usage"`
}

// reportAttempt is one customize or repair step of the model.
type reportAttempt struct {
	Step    string `json:"step"`
	Check   string `json:"check,omitempty"`
	Error   string `json:"error,omitempty"`
	Summary string `json:"summary,omitempty"`
	Changes []struct {
		Path    string `json:"path"`
		Action  string `json:"action"`
		Added   int    `json:"lines_added"`
		Removed int    `json:"lines_removed"`
	} `json:"changes"`
	Answers int    `json:"answers"`
	Tokens  int64  `json:"tokens"`
	Outcome string `json:"outcome"`
}

type reportCheck struct {
	Name       string `json:"name"`
	Command    string `json:"command"`
	ExitCode   int    `json:"exit_code"`
	DurationMS int64  `json:"duration_ms"`
	TimedOut   bool   `json:"timed_out,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
	Passed     bool   `json:"passed"`
}

// Duration is the check's duration for display.
func (c reportCheck) Duration() string {
	return humanDuration(time.Duration(c.DurationMS) * time.Millisecond)
}

// buildPage shows one build.
type buildPage struct {
	base
	Build *kiln.Build
	App   *kiln.App
	Steps []*kiln.Step
	// Usage is the build's language-model usage; nil when it made no calls.
	Usage     *kiln.BuildUsage
	Lines     []*kiln.LogLine
	After     int64 // the last rendered line's seq
	More      bool  // the log has lines after the rendered ones
	Artifacts []*kiln.Artifact
	Report    *validationReport
	// Unsandboxed is set when the checks ran without the sandbox.
	Unsandboxed bool
	Notice      string
	// Stream is set when the page follows the build over the API's event
	// stream rather than by polling.
	Stream bool
}

func (p *Portal) buildPage(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	detail, err := s.api.GetBuildDetail(ctx, id)
	if err != nil {
		return err
	}
	b, steps := detail.Build, detail.Steps
	app, err := s.api.GetApp(ctx, b.AppID)
	if err != nil {
		return err
	}
	logs, err := s.api.Logs(ctx, id, 0, logPage)
	if err != nil {
		return err
	}
	pg := &buildPage{Build: b, App: app, Steps: steps, Lines: logs.Items, After: logs.NextAfter, More: len(logs.Items) == logPage, Stream: p.streams}
	if u := detail.LLMUsage; u != nil && u.Total.Calls > 0 {
		pg.Usage = u
	}
	for _, l := range logs.Items {
		if l.Stream == kiln.StreamSystem && strings.Contains(l.Text, unsandboxedMarker) {
			pg.Unsandboxed = true
		}
	}
	if pg.Artifacts, err = s.api.ListArtifacts(ctx, id); err != nil {
		return err
	}
	for _, a := range pg.Artifacts {
		if a.Kind == kiln.ArtifactReport {
			pg.Report = p.readReport(r, s, a)
			if pg.Report != nil && !pg.Report.Sandboxed {
				pg.Unsandboxed = true
			}
		}
	}
	switch r.URL.Query().Get("msg") {
	case "cancel-requested":
		pg.Notice = "Cancel requested: the build stops within seconds."
	case "already-ended":
		pg.Notice = "The build had already ended."
	}
	pg.Title = fmt.Sprintf("%s build #%d", app.Name, b.Number)
	p.render(w, r, s, http.StatusOK, "build", pg)
	return nil
}

// readReport downloads and decodes the validation report; a report that
// cannot be read is logged and left out of the page.
func (p *Portal) readReport(r *http.Request, s *session, a *kiln.Artifact) *validationReport {
	if a.Size > maxReportLen {
		return nil
	}
	var buf bytes.Buffer
	if _, err := s.api.DownloadArtifact(r.Context(), a.ID, &buf); err != nil {
		p.log.WarnContext(r.Context(), "read validation report", slog.Int64("artifact_id", a.ID), slog.Any("error", err))
		return nil
	}
	var rep validationReport
	if err := json.Unmarshal(buf.Bytes(), &rep); err != nil {
		p.log.WarnContext(r.Context(), "decode validation report", slog.Int64("artifact_id", a.ID), slog.Any("error", err))
		return nil
	}
	return &rep
}

// logLine is a log line in log.json.
type logLine struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"`
	Text   string    `json:"text"`
}

// stepView is a step in log.json.
type stepView struct {
	Name     string           `json:"name"`
	Outcome  kiln.StepOutcome `json:"outcome"`
	Duration string           `json:"duration"`
	Error    string           `json:"error,omitempty"`
}

// buildLog answers the build page's polling: log lines after ?after=, and
// the build's status and steps.
func (p *Portal) buildLog(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	ctx := r.Context()
	// The status first: lines written before a final status are then in
	// the page read after it.
	b, steps, err := s.api.GetBuild(ctx, id)
	if err != nil {
		return err
	}
	logs, err := s.api.Logs(ctx, id, max(after, 0), logPage)
	if err != nil {
		return err
	}
	lines := make([]logLine, len(logs.Items))
	for i, l := range logs.Items {
		lines[i] = logLine{Seq: l.Seq, Time: l.Time, Stream: l.Stream, Text: l.Text}
	}
	sv := make([]stepView, len(steps))
	for i, st := range steps {
		sv[i] = stepView{Name: st.Name, Outcome: st.Outcome, Duration: stepDuration(st), Error: st.Error}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"lines": lines, "next_after": logs.NextAfter, "more": len(lines) == logPage,
		"status": b.Status, "step": b.Step, "error": b.Error, "terminal": b.Status.Terminal(),
		"cancel_requested": b.CancelRequested, "steps": sv,
	})
	return nil
}

// buildLogText serves the whole log as plain text, escape sequences
// removed.
func (p *Portal) buildLogText(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	b, _, err := s.api.GetBuild(ctx, id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": fmt.Sprintf("build-%d.log", b.ID)}))
	var after int64
	written := 0
	for written < logMaxText {
		page, err := s.api.Logs(ctx, id, after, 5000)
		if err != nil {
			if written == 0 {
				return err
			}
			p.log.WarnContext(ctx, "read build log", slog.Int64("build_id", id), slog.Any("error", err))
			return nil
		}
		for _, l := range page.Items {
			var sb strings.Builder
			for _, seg := range ansiSegments(l.Text) {
				sb.WriteString(seg.Text)
			}
			sb.WriteByte('\n')
			if _, err := io.WriteString(w, sb.String()); err != nil {
				return nil // the browser went away
			}
			written++
		}
		if len(page.Items) < 5000 {
			return nil
		}
		after = page.NextAfter
	}
	return nil
}

func (p *Portal) cancelBuild(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	msg := "cancel-requested"
	if _, err := s.api.CancelBuild(r.Context(), id); err != nil {
		if kiln.ErrorCode(err) != kiln.EConflict {
			return err
		}
		msg = "already-ended"
	}
	http.Redirect(w, r, fmt.Sprintf("/builds/%d?msg=%s", id, msg), http.StatusSeeOther)
	return nil
}

// download streams an artifact to the browser. The bytes are checked
// against the stored checksum as they pass; a mismatch cuts the transfer so
// the browser reports a failed download rather than keeping a bad file.
func (p *Portal) download(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := s.api.OpenArtifact(r.Context(), id)
	if err != nil {
		return err
	}
	defer a.Close()
	name := a.Filename
	if name == "" {
		name = fmt.Sprintf("artifact-%d", id)
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("X-Checksum-Sha256", a.SHA256)
	if a.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	}
	if _, err := io.Copy(w, a); err != nil {
		p.log.ErrorContext(r.Context(), "stream artifact to browser", slog.Int64("artifact_id", id), slog.Any("error", err))
		panic(http.ErrAbortHandler)
	}
	return nil
}

// streamTicket answers the build page's script with a single-use ticket
// that opens one event stream (GET /v1/builds/{id}/events?ticket=…): a
// browser's EventSource cannot send the session's bearer token.
func (p *Portal) streamTicket(w http.ResponseWriter, r *http.Request, s *session) error {
	t, err := s.api.CreateStreamTicket(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": t.Ticket, "expires_at": t.ExpiresAt})
	return nil
}
