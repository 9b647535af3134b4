package kiln

import (
	"context"
	"time"
)

// Limits on what users send.
const (
	MaxDescriptionLen = 10000
	MaxAppNameLen     = 64
)

// App is something a user asked Kiln to build. Spec is the current AppSpec:
// nil until the first build planned it, then edited by the user or replaced
// by later plans; each build keeps its own snapshot.
type App struct {
	ID          int64     `json:"id"`
	OwnerID     int64     `json:"owner_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Spec        *AppSpec  `json:"spec,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// LatestBuild is filled by list and get calls for display.
	LatestBuild *Build `json:"latest_build,omitempty"`
}

// AppCreate is the input of AppService.CreateApp.
type AppCreate struct {
	Name        string
	Description string
	NoCache     bool
	// Spec, when set, is the app's spec from the start: build #1 uses it
	// instead of planning the description (a plan the user previewed and
	// adjusted).
	Spec *AppSpec
}

// AppUpdate is the input of AppService.UpdateApp; nil fields stay.
type AppUpdate struct {
	Name        *string
	Description *string
}

// AppFilter selects apps. Admins see everyone's when All is set.
type AppFilter struct {
	All bool
	Page
}

// AppService manages the caller's apps. Every method acts for the user in
// ctx and returns ENotFound for another user's app (admins excepted).
type AppService interface {
	// CreateApp creates the app, its build #1 and the build's queue job in
	// one transaction. EInvalid for a bad name, description or spec (field
	// paths "spec.…"), EForbidden
	// when the user's email is unverified and verification is required.
	CreateApp(ctx context.Context, in AppCreate) (*App, *Build, error)

	// FindAppByID returns an app. ENotFound when absent or not the caller's.
	FindAppByID(ctx context.Context, id int64) (*App, error)

	// FindApps lists apps newest first and returns the next cursor ("" at
	// the end).
	FindApps(ctx context.Context, f AppFilter) ([]*App, string, error)

	// UpdateApp changes an app's name or description.
	UpdateApp(ctx context.Context, id int64, upd AppUpdate) (*App, error)

	// SetAppSpec replaces the app's current spec; the next build uses it.
	// EInvalid (with Fields) when the spec does not validate.
	SetAppSpec(ctx context.Context, id int64, spec *AppSpec) (*App, error)

	// DeleteApp deletes an app with its builds, logs and artifacts.
	// EConflict while one of its builds is running.
	DeleteApp(ctx context.Context, id int64) error
}
