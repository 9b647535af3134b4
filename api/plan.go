package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

// Planner turns a description into an AppSpec without building anything;
// codegen.Planner satisfies it. It returns EInvalid (path "description")
// for a description it cannot plan.
type Planner interface {
	Plan(ctx context.Context, description string) (*kiln.AppSpec, error)
}

type planInput struct {
	Body struct {
		Description string `json:"description" minLength:"1" maxLength:"10000" doc:"What the app should do, in plain language." example:"a library API with books (title, author, year) and loans"`
	}
}

func (s *Server) registerPlan() {
	o := op("plan-app", http.MethodPost, "/v1/plan", "Preview the AppSpec a description plans into", "apps", true)
	o.Description = "Runs the server's planner on the description and returns the AppSpec a new app would be built from, " +
		"without creating anything. Adjust it and pass it as `spec` to create-app to build exactly that."
	huma.Register(s.api, o, func(ctx context.Context, in *planInput) (*specOutput, error) {
		if _, err := requireUser(ctx); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		if s.cfg.Planner == nil {
			return nil, s.err.problem(ctx, kiln.Errorf(kiln.EUnavailable, "this server has no planner"))
		}
		spec, err := s.cfg.Planner.Plan(ctx, in.Body.Description)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &specOutput{Body: spec}, nil
	})
}

// Routes reports whether the API has a route for r's path (whatever its
// method), so a server mounting other handlers beside the API (the web
// portal) can send everything else elsewhere.
func (s *Server) Routes(r *http.Request) bool {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		return true
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			return true
		}
	}
	return false
}
