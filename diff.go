package kiln

// BuildDiff is what changed in the generated files from one build to
// another: the files that differ and a unified diff of them.
type BuildDiff struct {
	// BuildID is the build the diff leads to (the "+" side).
	BuildID int64 `json:"build_id"`
	// Against is the build the diff starts from (the "-" side).
	Against int64 `json:"against"`
	// Files lists the files that differ, sorted by path; empty when the
	// builds generated identical files.
	Files []FileDiff `json:"files"`
	// Diff is a unified diff (git style, paths a/… and b/…, 3 lines of
	// context) of every changed text file; "" when nothing changed.
	Diff string `json:"diff"`
	// Truncated is set when Diff was cut at its size limit; Files is
	// complete even then.
	Truncated bool `json:"truncated,omitempty"`
}

// File changes in a BuildDiff.
const (
	FileAdded    = "added"
	FileRemoved  = "removed"
	FileModified = "modified"
)

// FileDiff is one changed file of a BuildDiff.
type FileDiff struct {
	Path    string `json:"path"`
	Change  string `json:"change" enum:"added,removed,modified"`
	Added   int    `json:"added" doc:"Lines added."`
	Removed int    `json:"removed" doc:"Lines removed."`
	Binary  bool   `json:"binary,omitempty" doc:"Not text: the diff only says that it differs."`
}
