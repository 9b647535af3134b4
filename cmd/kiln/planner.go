package main

import (
	"context"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
)

// rulesPlanner returns the offline planner.
//
// The rules planner (codegen/plan) has not landed yet. Until it does,
// planning from a description fails the build with a clear reason, and a
// build of an app whose spec was set with `kiln apps spec set` runs the
// whole pipeline.
func rulesPlanner() codegen.Planner { return pendingPlanner{} }

type pendingPlanner struct{}

func (pendingPlanner) Plan(context.Context, string) (*kiln.AppSpec, error) {
	return nil, kiln.Errorf(kiln.EInvalid, "the offline planner is not available in this version: set the app's spec with `kiln apps spec set APP FILE` (see docs/appspec.schema.json) and rebuild")
}
