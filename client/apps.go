package client

import (
	"context"
	"fmt"

	"github.com/kiln-build/kiln"
)

// CreateApp creates an app and queues its first build (POST /v1/apps).
// EInvalid for a bad name or description, EForbidden when the caller's
// email is unverified and the server requires it.
func (c *Client) CreateApp(ctx context.Context, in kiln.AppCreate, opts ...CallOption) (*kiln.App, *kiln.Build, error) {
	var out struct {
		App   *kiln.App   `json:"app"`
		Build *kiln.Build `json:"build"`
	}
	err := c.do(ctx, request{method: "POST", path: "/v1/apps", opts: opts,
		body: struct {
			Description string        `json:"description"`
			Name        string        `json:"name,omitempty"`
			NoCache     bool          `json:"no_cache,omitempty"`
			Spec        *kiln.AppSpec `json:"spec,omitempty"`
		}{in.Description, in.Name, in.NoCache, in.Spec}}, &out)
	if err != nil {
		return nil, nil, err
	}
	return out.App, out.Build, nil
}

// ListApps lists the caller's apps newest first (GET /v1/apps), everyone's
// for an admin with f.All, and returns the next cursor ("" at the end).
func (c *Client) ListApps(ctx context.Context, f kiln.AppFilter) ([]*kiln.App, string, error) {
	q := pageQuery(nil, f.Page)
	if f.All {
		q.Set("all", "true")
	}
	var out struct {
		Items      []*kiln.App `json:"items"`
		NextCursor string      `json:"next_cursor"`
	}
	if err := c.do(ctx, request{method: "GET", path: "/v1/apps", query: q}, &out); err != nil {
		return nil, "", err
	}
	return out.Items, out.NextCursor, nil
}

// GetApp returns an app (GET /v1/apps/{id}). ENotFound when absent or not
// the caller's.
func (c *Client) GetApp(ctx context.Context, id int64) (*kiln.App, error) {
	var out kiln.App
	if err := c.do(ctx, request{method: "GET", path: appPath(id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateApp changes an app's name or description (PATCH /v1/apps/{id});
// nil fields stay as they are.
func (c *Client) UpdateApp(ctx context.Context, id int64, upd kiln.AppUpdate) (*kiln.App, error) {
	var out kiln.App
	err := c.do(ctx, request{method: "PATCH", path: appPath(id),
		body: struct {
			Name        *string `json:"name,omitempty"`
			Description *string `json:"description,omitempty"`
		}{upd.Name, upd.Description}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteApp deletes an app with its builds, logs and artifacts (DELETE
// /v1/apps/{id}). EConflict while one of its builds runs.
func (c *Client) DeleteApp(ctx context.Context, id int64) error {
	return c.do(ctx, request{method: "DELETE", path: appPath(id)}, nil)
}

// GetSpec returns an app's current AppSpec (GET /v1/apps/{id}/spec).
// ENotFound when the app has none yet.
func (c *Client) GetSpec(ctx context.Context, appID int64) (*kiln.AppSpec, error) {
	var out kiln.AppSpec
	if err := c.do(ctx, request{method: "GET", path: appPath(appID) + "/spec"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetSpec replaces an app's spec (PUT /v1/apps/{id}/spec); the next build
// uses it. EInvalid with Fields when the spec does not validate.
func (c *Client) SetSpec(ctx context.Context, appID int64, spec *kiln.AppSpec) (*kiln.App, error) {
	var out kiln.App
	err := c.do(ctx, request{method: "PUT", path: appPath(appID) + "/spec", body: spec}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateBuild queues a new build of an app from its current spec (POST
// /v1/apps/{id}/builds).
func (c *Client) CreateBuild(ctx context.Context, appID int64, in kiln.BuildCreate, opts ...CallOption) (*kiln.Build, error) {
	var out kiln.Build
	err := c.do(ctx, request{method: "POST", path: appPath(appID) + "/builds", opts: opts,
		body: struct {
			NoCache bool `json:"no_cache,omitempty"`
		}{in.NoCache}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListBuilds lists builds newest first and returns the next cursor. With
// f.AppID it lists that app's builds (GET /v1/apps/{id}/builds), otherwise
// all of the caller's (GET /v1/builds; everyone's for an admin with f.All).
func (c *Client) ListBuilds(ctx context.Context, f kiln.BuildFilter) ([]*kiln.Build, string, error) {
	q := pageQuery(nil, f.Page)
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	path := "/v1/builds"
	if f.AppID != 0 {
		path = appPath(f.AppID) + "/builds"
	} else if f.All {
		q.Set("all", "true")
	}
	var out struct {
		Items      []*kiln.Build `json:"items"`
		NextCursor string        `json:"next_cursor"`
	}
	if err := c.do(ctx, request{method: "GET", path: path, query: q}, &out); err != nil {
		return nil, "", err
	}
	return out.Items, out.NextCursor, nil
}

func appPath(id int64) string { return fmt.Sprintf("/v1/apps/%d", id) }

func buildPath(id int64) string { return fmt.Sprintf("/v1/builds/%d", id) }

// Plan returns the AppSpec the server's planner makes of a description
// (POST /v1/plan) without creating anything; pass it, adjusted or not, as
// AppCreate.Spec to build exactly that. EInvalid (field "description") when
// the planner cannot plan it.
func (c *Client) Plan(ctx context.Context, description string) (*kiln.AppSpec, error) {
	var out kiln.AppSpec
	err := c.do(ctx, request{method: "POST", path: "/v1/plan",
		body: struct {
			Description string `json:"description"`
		}{description}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
