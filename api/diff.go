package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/srcdiff"
)

type buildDiffInput struct {
	ID      int64 `path:"id" minimum:"1" doc:"The build the diff leads to (the + side)."`
	Against int64 `query:"against" minimum:"1" required:"true" doc:"The build the diff starts from (the - side), for example the app's previous build."`
}

type buildDiffOutput struct{ Body *kiln.BuildDiff }

func (s *Server) registerDiff() {
	o := op("diff-builds", http.MethodGet, "/v1/builds/{id}/diff", "Diff the generated files of two builds", "builds", true)
	o.Description = "A unified diff (git style) of the files build `against` generated to those build `id` generated, " +
		"read from the two builds' stored source archives, with the list of changed files. Both builds must be yours " +
		"(404 otherwise). 409 when a build has no source archive: it is still running, failed or was canceled before " +
		"packaging, or its archive is gone from the artifact store."
	huma.Register(s.api, o, func(ctx context.Context, in *buildDiffInput) (*buildDiffOutput, error) {
		if s.cfg.Blobs == nil {
			return nil, s.err.problem(ctx, kiln.Errorf(kiln.EUnavailable, "artifact storage is not configured"))
		}
		src := &srcdiff.Sources{Builds: s.cfg.Builds, Blobs: s.cfg.Blobs}
		d, err := src.Diff(ctx, in.ID, in.Against)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &buildDiffOutput{Body: d}, nil
	})
}
