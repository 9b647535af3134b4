package kiln

import (
	"context"
	"io"
	"time"
)

// BuildStatus is where a build is in its life.
type BuildStatus string

// Build states: queued → planning → generating → validating ⇄ repairing →
// packaging → succeeded | failed | canceled.
const (
	BuildQueued     BuildStatus = "queued"
	BuildPlanning   BuildStatus = "planning"
	BuildGenerating BuildStatus = "generating"
	BuildValidating BuildStatus = "validating"
	BuildRepairing  BuildStatus = "repairing"
	BuildPackaging  BuildStatus = "packaging"
	BuildSucceeded  BuildStatus = "succeeded"
	BuildFailed     BuildStatus = "failed"
	BuildCanceled   BuildStatus = "canceled"
)

// BuildStatuses lists every status in pipeline order.
var BuildStatuses = []BuildStatus{
	BuildQueued, BuildPlanning, BuildGenerating, BuildValidating, BuildRepairing,
	BuildPackaging, BuildSucceeded, BuildFailed, BuildCanceled,
}

// Terminal reports whether the build has ended.
func (s BuildStatus) Terminal() bool {
	return s == BuildSucceeded || s == BuildFailed || s == BuildCanceled
}

// Running reports whether a worker is working on the build.
func (s BuildStatus) Running() bool { return s != BuildQueued && !s.Terminal() }

// Valid reports whether s is a known status.
func (s BuildStatus) Valid() bool {
	for _, v := range BuildStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Build is one run of the pipeline for an app. Number counts from 1 per app.
type Build struct {
	ID      int64       `json:"id"`
	AppID   int64       `json:"app_id"`
	OwnerID int64       `json:"owner_id"`
	Number  int         `json:"number"`
	Status  BuildStatus `json:"status"`
	Step    string      `json:"step,omitempty"` // the current or last step
	Error   string      `json:"error,omitempty"`
	Spec    *AppSpec    `json:"spec,omitempty"` // the spec the build used or planned
	NoCache bool        `json:"no_cache"`
	// CacheKey identifies what the build makes (spec, templates,
	// toolchain, model settings); CachedFrom is the earlier build whose
	// output it reused, when it was a cache hit.
	CacheKey        string     `json:"cache_key,omitempty"`
	CachedFrom      *int64     `json:"cached_from,omitempty"`
	CancelRequested bool       `json:"cancel_requested"`
	Attempt         int        `json:"attempt"` // how many times a worker started it
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	// UsedLLM reports whether the build made language-model calls. Only
	// FindBuildWithSteps sets it (so a build's page reads its usage only
	// when there is some); it is never serialized.
	UsedLLM bool `json:"-"`
}

// Duration returns how long the build has run, or ran.
func (b *Build) Duration(now time.Time) time.Duration {
	if b.StartedAt == nil {
		return 0
	}
	if b.FinishedAt != nil {
		return b.FinishedAt.Sub(*b.StartedAt)
	}
	return now.Sub(*b.StartedAt)
}

// StepOutcome is how a step ended.
type StepOutcome string

// Step outcomes.
const (
	StepRunning   StepOutcome = "running"
	StepSucceeded StepOutcome = "succeeded"
	StepFailed    StepOutcome = "failed"
	StepSkipped   StepOutcome = "skipped"
	StepCanceled  StepOutcome = "canceled"
)

// Step is one stage of a build (plan, render, vet, test, package …).
type Step struct {
	ID         int64       `json:"id"`
	BuildID    int64       `json:"build_id"`
	Name       string      `json:"name"`
	Outcome    StepOutcome `json:"outcome"`
	Error      string      `json:"error,omitempty"`
	StartedAt  time.Time   `json:"started_at"`
	FinishedAt *time.Time  `json:"finished_at,omitempty"`
}

// Log streams.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	StreamSystem = "system" // Kiln's own messages about the build
)

// LogLine is one line of a build's log. Seq increases by build and is
// shared with the build's other events, so it can resume a stream.
type LogLine struct {
	BuildID int64     `json:"build_id"`
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Stream  string    `json:"stream"`
	Text    string    `json:"text"`
}

// MaxLogLineLen caps one stored log line; longer lines are cut with a note.
const MaxLogLineLen = 8192

// Artifact kinds.
const (
	ArtifactSourceTarGz = "source.tar.gz"
	ArtifactSourceZip   = "source.zip"
	ArtifactOCIImage    = "oci-image"
	ArtifactSBOM        = "sbom"
	ArtifactChecksums   = "checksums"
	ArtifactProvenance  = "provenance"
	ArtifactReport      = "validation-report"
)

// Artifact is a file a build produced, kept in the blob store at Location.
type Artifact struct {
	ID        int64     `json:"id"`
	BuildID   int64     `json:"build_id"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Location  string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// BuildFilter selects builds. AppID 0 means any of the caller's apps.
type BuildFilter struct {
	AppID  int64
	Status BuildStatus
	All    bool // admins: everyone's
	Page
}

// BuildCreate is the input of BuildService.CreateBuild.
type BuildCreate struct {
	NoCache bool
}

// BuildService is the user-facing side of builds. Every method acts for the
// user in ctx and returns ENotFound for another user's build or app.
type BuildService interface {
	// CreateBuild queues a new build of the app from its current spec, with
	// its queue job in the same transaction.
	CreateBuild(ctx context.Context, appID int64, in BuildCreate) (*Build, error)

	// FindBuildByID returns a build.
	FindBuildByID(ctx context.Context, id int64) (*Build, error)

	// FindBuilds lists builds newest first with the next cursor.
	FindBuilds(ctx context.Context, f BuildFilter) ([]*Build, string, error)

	// CancelBuild asks a build to stop. A queued build is canceled at
	// once; a running one within seconds, by its worker. EConflict when
	// the build has already ended.
	CancelBuild(ctx context.Context, id int64) (*Build, error)

	// FindSteps returns the build's steps in order.
	FindSteps(ctx context.Context, buildID int64) ([]*Step, error)

	// FindBuildWithSteps returns a build and its steps in order, read
	// together (one consistent view, one round trip). ENotFound when the
	// build is not the caller's.
	FindBuildWithSteps(ctx context.Context, id int64) (*Build, []*Step, error)

	// FindLogs returns up to limit log lines with Seq > after.
	FindLogs(ctx context.Context, buildID, after int64, limit int) ([]*LogLine, error)

	// FindArtifacts returns the build's artifacts.
	FindArtifacts(ctx context.Context, buildID int64) ([]*Artifact, error)

	// FindArtifactByID returns one artifact.
	FindArtifactByID(ctx context.Context, id int64) (*Artifact, error)
}

// Pipeline turns a build's app into checked, packaged artifacts. The build
// job runs it once per attempt; it reports progress through rec and must
// return promptly when ctx is canceled. A returned *Error with EBuildFailed
// (or EInvalid) fails the build without retry; any other error is treated as
// an infrastructure failure and retried.
type Pipeline interface {
	Run(ctx context.Context, b *Build, app *App, rec Recorder) error
}

// Recorder is how a running pipeline reports what it does. It is safe for
// concurrent use.
type Recorder interface {
	// Step runs fn as a named step: it sets the build's status (when
	// status is not ""), records the step's start, end and outcome, and
	// returns fn's error.
	Step(ctx context.Context, name string, status BuildStatus, fn func(ctx context.Context) error) error

	// Logf appends a system line to the build log.
	Logf(format string, args ...any)

	// Writer returns a writer that appends each line written to it to the
	// build log on the given stream. Close flushes a partial last line.
	Writer(stream string) io.WriteCloser

	// SetSpec records the spec the build planned or used.
	SetSpec(ctx context.Context, spec *AppSpec) error

	// AddArtifact stores r as an artifact of the build.
	AddArtifact(ctx context.Context, kind, name string, r io.Reader) (*Artifact, error)
}

// BuildWork is the worker's side of builds. It acts for the system, not a
// user, and guards every change with the lease the claim returned so a
// worker that lost its build (to a rescue after missed heartbeats) cannot
// write over the new owner.
type BuildWork interface {
	// ClaimBuild gives the build to a worker under lease: it succeeds when
	// the build is queued, or running with a heartbeat older than
	// staleBefore. It sets the lease and heartbeat, counts the attempt and
	// returns the build and its app. EConflict when the build has ended or
	// another worker holds it; ENotFound when it does not exist.
	ClaimBuild(ctx context.Context, id int64, lease string, staleBefore time.Time) (*Build, *App, error)

	// Heartbeat refreshes the lease and reports whether a user asked to
	// cancel. EConflict when the lease was lost.
	Heartbeat(ctx context.Context, id int64, lease string) (cancelRequested bool, err error)

	// SetBuildStatus records the build's status and current step.
	SetBuildStatus(ctx context.Context, id int64, lease string, status BuildStatus, step string) error

	// SetBuildSpec records the spec the build uses and makes it the app's
	// current spec.
	SetBuildSpec(ctx context.Context, id int64, lease string, spec *AppSpec) error

	// StartStep records that a step started.
	StartStep(ctx context.Context, buildID int64, name string) (*Step, error)

	// FinishStep records how a step ended.
	FinishStep(ctx context.Context, stepID int64, outcome StepOutcome, errMsg string) error

	// AppendLogs stores lines in order, assigning each its Seq.
	AppendLogs(ctx context.Context, buildID int64, lines []*LogLine) error

	// CreateArtifact records an artifact already written to the blob store.
	CreateArtifact(ctx context.Context, a *Artifact) error

	// FinishBuild ends the build with a terminal status and error text and
	// releases the lease.
	FinishBuild(ctx context.Context, id int64, lease string, status BuildStatus, errMsg string) error

	// ReleaseBuild gives a build back to the queue after an infrastructure
	// failure, so the queue's retry can claim it again.
	ReleaseBuild(ctx context.Context, id int64, lease string, reason string) error

	// SetBuildCacheKey records the key of what the build makes, under
	// which a later build can find it once it succeeded. EInvalid for a
	// key longer than 128 bytes, EConflict when the lease was lost.
	SetBuildCacheKey(ctx context.Context, id int64, lease, key string) error

	// FindCachedBuild returns the owner's newest succeeded build with the
	// cache key. ENotFound when there is none: failed, canceled and
	// running builds and other owners' builds never count.
	FindCachedBuild(ctx context.Context, ownerID int64, key string) (*Build, error)

	// FindBuildArtifacts returns the artifacts of a build in the order
	// they were made, for checking an earlier build's blobs before reusing
	// them; none for a build that has none.
	FindBuildArtifacts(ctx context.Context, buildID int64) ([]*Artifact, error)

	// ReuseArtifacts records the artifacts of build from (which must have
	// succeeded and belong to the same owner) as the build's own, pointing
	// at the same blobs, sets the build's CachedFrom and returns the new
	// artifacts. EConflict when the lease was lost or from cannot be
	// reused, ENotFound when from does not exist.
	ReuseArtifacts(ctx context.Context, id int64, lease string, from int64) ([]*Artifact, error)

	// RescueStaleBuilds finds running builds whose heartbeat is older than
	// staleBefore (their worker died). Those with fewer than maxAttempts
	// attempts are queued again with a new job; the others fail with a
	// reason. It returns the ids of both groups.
	RescueStaleBuilds(ctx context.Context, staleBefore time.Time, maxAttempts int) (requeued, failed []int64, err error)
}
