package main

import (
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/codegen/plan"
)

// rulesPlanner returns the offline, deterministic planner.
func rulesPlanner() codegen.Planner { return plan.Rules{} }
