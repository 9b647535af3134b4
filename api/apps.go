package api

import (
	"context"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

// PageParams are the paging query parameters of list operations.
type PageParams struct {
	Cursor string `query:"cursor" maxLength:"200" doc:"The next_cursor of the previous page."`
	Limit  int    `query:"limit" minimum:"0" maximum:"200" doc:"Items per page (default 50)."`
}

func (p PageParams) page() kiln.Page { return kiln.Page{Cursor: p.Cursor, Limit: p.Limit} }

type appListInput struct {
	PageParams
	All bool `query:"all" doc:"Admins: everyone's apps."`
}

type appListOutput struct {
	Body struct {
		Items      []*kiln.App `json:"items"`
		NextCursor string      `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

type appCreateInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Send the same key to retry safely: the first answer is replayed."`
	Body           struct {
		Description string        `json:"description" minLength:"1" maxLength:"10000" doc:"What the app should do, in plain language." example:"a library API with books (title, author, year) and loans"`
		Name        string        `json:"name,omitempty" maxLength:"64" doc:"A short name; when empty, the name the offline planner gives the described app (\"library\" for \"a library API with books …\"), or the given spec's name."`
		NoCache     bool          `json:"no_cache,omitempty" doc:"Build everything even when an identical earlier build could be reused."`
		Spec        *kiln.AppSpec `json:"spec,omitempty" doc:"The AppSpec to build (for example a plan from POST /v1/plan, adjusted); planned from the description when absent."`
	}
}

type appCreateBody struct {
	App   *kiln.App   `json:"app"`
	Build *kiln.Build `json:"build"`
}
type appCreateOutput struct{ Body appCreateBody }

type appOutput struct{ Body *kiln.App }

type appUpdateInput struct {
	ID   int64 `path:"id" minimum:"1" doc:"App id."`
	Body struct {
		Name        *string `json:"name,omitempty" maxLength:"64"`
		Description *string `json:"description,omitempty" minLength:"1" maxLength:"10000"`
	}
}

type specOutput struct{ Body *kiln.AppSpec }

type specPutInput struct {
	ID int64 `path:"id" minimum:"1" doc:"App id."`
	// RawBody is parsed with kiln.ParseSpec, the one strict AppSpec
	// parser, so the API, the CLI and spec files report the same errors.
	RawBody []byte `contentType:"application/json"`
}

type appBuildsInput struct {
	ID int64 `path:"id" minimum:"1" doc:"App id."`
	PageParams
	Status string `query:"status" enum:"queued,planning,generating,validating,repairing,packaging,succeeded,failed,canceled," doc:"Only builds in this status."`
}

type buildListOutput struct {
	Body struct {
		Items      []*kiln.Build `json:"items"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}
}

type buildCreateInput struct {
	ID             int64  `path:"id" minimum:"1" doc:"App id."`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Send the same key to retry safely."`
	Body           *struct {
		NoCache bool `json:"no_cache,omitempty" doc:"Build everything even when an identical earlier build could be reused."`
	} `required:"false"`
}

type buildOutput struct{ Body *kiln.Build }

func (s *Server) registerApps() {
	huma.Register(s.api, op("list-apps", http.MethodGet, "/v1/apps", "List apps", "apps", true),
		func(ctx context.Context, in *appListInput) (*appListOutput, error) {
			apps, next, err := s.cfg.Apps.FindApps(ctx, kiln.AppFilter{All: in.All, Page: in.page()})
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			out := &appListOutput{}
			out.Body.Items, out.Body.NextCursor = nonNil(apps), next
			return out, nil
		})

	o := op("create-app", http.MethodPost, "/v1/apps", "Create an app and start its first build", "apps", true)
	o.DefaultStatus = http.StatusCreated
	o.Description = "Creates the app, its build #1 and the build's queue job in one transaction."
	huma.Register(s.api, o, func(ctx context.Context, in *appCreateInput) (*appCreateOutput, error) {
		name := in.Body.Name
		if strings.TrimSpace(name) == "" {
			switch {
			case in.Body.Spec != nil:
				name = in.Body.Spec.Name
			case s.cfg.AppNamer != nil:
				name = s.cfg.AppNamer(in.Body.Description)
			}
		}
		app, b, err := s.cfg.Apps.CreateApp(ctx, kiln.AppCreate{Name: name, Description: in.Body.Description, NoCache: in.Body.NoCache, Spec: in.Body.Spec})
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &appCreateOutput{Body: appCreateBody{App: app, Build: b}}, nil
	})

	huma.Register(s.api, op("get-app", http.MethodGet, "/v1/apps/{id}", "Get an app", "apps", true),
		func(ctx context.Context, in *IDPath) (*appOutput, error) {
			app, err := s.cfg.Apps.FindAppByID(ctx, in.ID)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			return &appOutput{Body: app}, nil
		})

	huma.Register(s.api, op("update-app", http.MethodPatch, "/v1/apps/{id}", "Rename an app or change its description", "apps", true),
		func(ctx context.Context, in *appUpdateInput) (*appOutput, error) {
			app, err := s.cfg.Apps.UpdateApp(ctx, in.ID, kiln.AppUpdate{Name: in.Body.Name, Description: in.Body.Description})
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			return &appOutput{Body: app}, nil
		})

	o = op("delete-app", http.MethodDelete, "/v1/apps/{id}", "Delete an app with its builds and artifacts", "apps", true)
	o.DefaultStatus = http.StatusNoContent
	huma.Register(s.api, o, func(ctx context.Context, in *IDPath) (*struct{}, error) {
		if err := s.cfg.Apps.DeleteApp(ctx, in.ID); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return nil, nil
	})

	huma.Register(s.api, op("get-app-spec", http.MethodGet, "/v1/apps/{id}/spec", "Get an app's current AppSpec", "apps", true),
		func(ctx context.Context, in *IDPath) (*specOutput, error) {
			app, err := s.cfg.Apps.FindAppByID(ctx, in.ID)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			if app.Spec == nil {
				return nil, s.err.problem(ctx, kiln.Errorf(kiln.ENotFound, "app %d has no spec yet: its first build has not planned it", app.ID))
			}
			return &specOutput{Body: app.Spec}, nil
		})

	o = op("set-app-spec", http.MethodPut, "/v1/apps/{id}/spec", "Replace an app's AppSpec; the next build uses it", "apps", true)
	o.Description = "The body is an AppSpec, parsed strictly: an unknown key or a value of the wrong type is a 422 whose errors name its path " +
		"(`entities[1].fields[0].colour`), as are the rules the spec must follow."
	o.MaxBodyBytes = kiln.MaxSpecBytes + 1 // a larger spec gets ParseSpec's 413, which names the limit
	o.SkipValidateBody = true              // ParseSpec validates
	// Huma fills in this RequestBody; being a pointer, it is the one the
	// document shows, fixed up below.
	o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{}}
	huma.Register(s.api, o, func(ctx context.Context, in *specPutInput) (*appOutput, error) {
		spec, err := kiln.ParseSpec(in.RawBody)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		app, err := s.cfg.Apps.SetAppSpec(ctx, in.ID, spec)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &appOutput{Body: app}, nil
	})
	// Document the body as an AppSpec (RawBody alone would say "binary").
	o.RequestBody.Content["application/json"].Schema = s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[kiln.AppSpec](), true, "")

	huma.Register(s.api, op("list-app-builds", http.MethodGet, "/v1/apps/{id}/builds", "List an app's builds", "builds", true),
		func(ctx context.Context, in *appBuildsInput) (*buildListOutput, error) {
			builds, next, err := s.cfg.Builds.FindBuilds(ctx, kiln.BuildFilter{AppID: in.ID, Status: kiln.BuildStatus(in.Status), Page: in.page()})
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			if len(builds) == 0 {
				// An empty list must not hide that the app is not the caller's.
				if _, err := s.cfg.Apps.FindAppByID(ctx, in.ID); err != nil {
					return nil, s.err.problem(ctx, err)
				}
			}
			out := &buildListOutput{}
			out.Body.Items, out.Body.NextCursor = nonNil(builds), next
			return out, nil
		})

	o = op("create-build", http.MethodPost, "/v1/apps/{id}/builds", "Rebuild an app from its current spec", "builds", true)
	o.DefaultStatus = http.StatusCreated
	huma.Register(s.api, o, func(ctx context.Context, in *buildCreateInput) (*buildOutput, error) {
		var bc kiln.BuildCreate
		if in.Body != nil {
			bc.NoCache = in.Body.NoCache
		}
		b, err := s.cfg.Builds.CreateBuild(ctx, in.ID, bc)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &buildOutput{Body: b}, nil
	})
}
