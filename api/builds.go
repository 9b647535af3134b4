package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

type buildListInput struct {
	PageParams
	AppID  int64  `query:"app_id" minimum:"0" doc:"Only this app's builds."`
	Status string `query:"status" enum:"queued,planning,generating,validating,repairing,packaging,succeeded,failed,canceled," doc:"Only builds in this status."`
	All    bool   `query:"all" doc:"Admins: everyone's builds."`
}

type buildDetail struct {
	Build    *kiln.Build      `json:"build"`
	Steps    []*kiln.Step     `json:"steps"`
	LLMUsage *kiln.BuildUsage `json:"llm_usage,omitempty" doc:"Tokens the build's language-model steps used, in all and per step, with an estimated cost. Absent when the server records no usage."`
}
type buildDetailOutput struct{ Body buildDetail }

type logsInput struct {
	ID     int64  `path:"id" minimum:"1" doc:"Build id."`
	After  int64  `query:"after" minimum:"0" doc:"Only lines with a larger seq (the next_after of the previous call)."`
	Limit  int    `query:"limit" minimum:"0" maximum:"5000" doc:"Lines per call (default 1000); text ignores it."`
	Format string `query:"format" enum:"json,text" doc:"json (default): one page of lines; text: the whole log (after after) as a plain-text download."`
}

type logsBody struct {
	Items       []*kiln.LogLine  `json:"items"`
	NextAfter   int64            `json:"next_after" doc:"Pass as after to continue."`
	BuildStatus kiln.BuildStatus `json:"build_status" doc:"The build's status when the lines were read; when it is final and items is empty, the log is complete."`
}
type logsOutput struct{ Body logsBody }

type artifactListOutput struct {
	Body struct {
		Items []*kiln.Artifact `json:"items"`
	}
}

func (s *Server) registerBuilds() {
	huma.Register(s.api, op("list-builds", http.MethodGet, "/v1/builds", "List builds", "builds", true),
		func(ctx context.Context, in *buildListInput) (*buildListOutput, error) {
			builds, next, err := s.cfg.Builds.FindBuilds(ctx, kiln.BuildFilter{AppID: in.AppID, Status: kiln.BuildStatus(in.Status), All: in.All, Page: in.page()})
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			out := &buildListOutput{}
			out.Body.Items, out.Body.NextCursor = nonNil(builds), next
			return out, nil
		})

	huma.Register(s.api, op("get-build", http.MethodGet, "/v1/builds/{id}", "Get a build with its steps", "builds", true),
		func(ctx context.Context, in *IDPath) (*buildDetailOutput, error) {
			b, steps, err := s.cfg.Builds.FindBuildWithSteps(ctx, in.ID)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			usage, err := s.buildUsage(ctx, b)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			return &buildDetailOutput{Body: buildDetail{Build: b, Steps: nonNil(steps), LLMUsage: usage}}, nil
		})

	o := op("cancel-build", http.MethodPost, "/v1/builds/{id}/cancel", "Cancel a build", "builds", true)
	o.Description = "A queued build is canceled at once, a running one within seconds. 409 when the build has already ended."
	huma.Register(s.api, o, func(ctx context.Context, in *IDPath) (*buildOutput, error) {
		b, err := s.cfg.Builds.CancelBuild(ctx, in.ID)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &buildOutput{Body: b}, nil
	})

	o = op("get-build-logs", http.MethodGet, "/v1/builds/{id}/logs", "Read a build's log", "builds", true)
	o.Description = "One page of log lines as JSON, or with `format=text` the whole log as a plain-text download, one line per log line " +
		"(`TIME TEXT`; system lines start with `==> `, stderr lines with `! `). To follow a running build, use its event stream."
	o.Responses = map[string]*huma.Response{"200": {
		Description: "The log lines.",
		Content: map[string]*huma.MediaType{
			"application/json": {Schema: s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(logsBody{}), true, "LogsBody")},
			"text/plain":       {Schema: &huma.Schema{Type: "string"}},
		},
	}}
	huma.Register(s.api, o, func(ctx context.Context, in *logsInput) (*huma.StreamResponse, error) {
		// Read the status first: lines written before a final status are
		// then all visible, so "final and empty" means complete.
		b, err := s.cfg.Builds.FindBuildByID(ctx, in.ID)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		if in.Format == "text" {
			return s.logText(ctx, b, in.After), nil
		}
		limit := in.Limit
		if limit == 0 {
			limit = 1000
		}
		lines, err := s.cfg.Builds.FindLogs(ctx, in.ID, in.After, limit)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		next := in.After
		if len(lines) > 0 {
			next = lines[len(lines)-1].Seq
		}
		body := logsBody{Items: nonNil(lines), NextAfter: next, BuildStatus: b.Status}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetHeader("Content-Type", "application/json")
			hctx.SetStatus(http.StatusOK)
			if err := json.NewEncoder(hctx.BodyWriter()).Encode(body); err != nil {
				s.log.InfoContext(ctx, "write log page", slog.Any("error", err))
			}
		}}, nil
	})

	huma.Register(s.api, op("list-build-artifacts", http.MethodGet, "/v1/builds/{id}/artifacts", "List a build's artifacts", "builds", true),
		func(ctx context.Context, in *IDPath) (*artifactListOutput, error) {
			arts, err := s.cfg.Builds.FindArtifacts(ctx, in.ID)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			out := &artifactListOutput{}
			out.Body.Items = nonNil(arts)
			return out, nil
		})

	o = op("download-artifact", http.MethodGet, "/v1/artifacts/{id}/content", "Download an artifact", "builds", true)
	o.Description = "The bytes, with X-Checksum-Sha256. The server checks the checksum while it reads; a corrupted artifact ends the download with an error."
	o.Responses = map[string]*huma.Response{"200": {
		Description: "The artifact's content.",
		Content:     map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}},
	}}
	huma.Register(s.api, o, func(ctx context.Context, in *IDPath) (*huma.StreamResponse, error) {
		a, err := s.cfg.Builds.FindArtifactByID(ctx, in.ID)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		if s.cfg.Blobs == nil {
			return nil, s.err.problem(ctx, kiln.Errorf(kiln.EUnavailable, "artifact storage is not configured"))
		}
		rc, err := s.cfg.Blobs.Open(ctx, a.Location, a.SHA256)
		if err != nil {
			return nil, s.err.problem(ctx, fmt.Errorf("open artifact %d: %w", a.ID, err))
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer rc.Close()
			hctx.SetHeader("Content-Type", "application/octet-stream")
			hctx.SetHeader("Content-Length", strconv.FormatInt(a.Size, 10))
			hctx.SetHeader("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
			hctx.SetHeader("X-Checksum-Sha256", a.SHA256)
			hctx.SetStatus(http.StatusOK)
			if _, err := io.Copy(hctx.BodyWriter(), rc); err != nil {
				// Headers are gone; abort so the client sees a broken
				// transfer instead of a silently short file.
				s.log.ErrorContext(ctx, "stream artifact", slog.Int64("artifact_id", a.ID), slog.Any("error", err))
				panic(http.ErrAbortHandler)
			}
		}}, nil
	})
}

// logText streams a build's whole log (after seq after) as plain text.
func (s *Server) logText(ctx context.Context, b *kiln.Build, after int64) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "text/plain; charset=utf-8")
		hctx.SetHeader("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fmt.Sprintf("build-%d.log", b.ID)}))
		hctx.SetStatus(http.StatusOK)
		w := bufio.NewWriterSize(hctx.BodyWriter(), 32<<10)
		for {
			lines, err := s.cfg.Builds.FindLogs(ctx, b.ID, after, 5000)
			if err != nil {
				// The status is sent: abort so the client sees a broken
				// transfer, not a silently short log.
				s.log.ErrorContext(ctx, "stream log text", slog.Int64("build_id", b.ID), slog.Any("error", err))
				panic(http.ErrAbortHandler)
			}
			for _, l := range lines {
				prefix := ""
				switch l.Stream {
				case kiln.StreamSystem:
					prefix = "==> "
				case kiln.StreamStderr:
					prefix = "! "
				}
				fmt.Fprintf(w, "%s %s%s\n", l.Time.UTC().Format(time.RFC3339Nano), prefix, l.Text)
			}
			if len(lines) < 5000 {
				break
			}
			after = lines[len(lines)-1].Seq
		}
		if err := w.Flush(); err != nil {
			s.log.InfoContext(ctx, "stream log text", slog.Int64("build_id", b.ID), slog.Any("error", err))
		}
	}}
}
