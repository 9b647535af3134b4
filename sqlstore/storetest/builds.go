package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

func testBuilds(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Run("CreateBuild", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		app, first := MustCreateApp(t, e, u, "a todo list")
		b, err := e.Builds.CreateBuild(e.ctx(u), app.ID, kiln.BuildCreate{NoCache: true})
		require.NoError(t, err)
		require.Equal(t, 2, b.Number)
		require.True(t, b.NoCache)
		require.Equal(t, kiln.BuildQueued, b.Status)
		require.Equal(t, []int64{first.ID, b.ID}, e.Queue.IDs())
		got, err := e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, b, got, "round-trips exactly")
		found, err := e.Apps.FindAppByID(e.ctx(u), app.ID)
		require.NoError(t, err)
		require.Equal(t, b.ID, found.LatestBuild.ID)
	})

	t.Run("CreateBuildConcurrent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		app, _ := MustCreateApp(t, e, u, "a todo list")
		const n = 6
		numbers := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := e.Builds.CreateBuild(e.ctx(u), app.ID, kiln.BuildCreate{})
				if err != nil {
					t.Errorf("create build: %v", err)
					return
				}
				numbers[i] = b.Number
			}()
		}
		wg.Wait()
		slices.Sort(numbers)
		require.Equal(t, []int{2, 3, 4, 5, 6, 7}, numbers)
	})

	t.Run("FindBuilds", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		admin := MustCreateUser(t, e, "admin@example.com")
		u := MustCreateUser(t, e, "u@example.com")
		ctx := e.ctx(u)
		app1, b1 := MustCreateApp(t, e, u, "first app")
		app2, b2 := MustCreateApp(t, e, u, "second app")
		b3, err := e.Builds.CreateBuild(ctx, app1.ID, kiln.BuildCreate{})
		require.NoError(t, err)
		_, err = e.Builds.CancelBuild(ctx, b1.ID)
		require.NoError(t, err)
		MustCreateApp(t, e, admin, "admin app")

		ids := func(f kiln.BuildFilter) []int64 {
			t.Helper()
			var out []int64
			for range 10 {
				builds, next, err := e.Builds.FindBuilds(ctx, f)
				require.NoError(t, err)
				for _, b := range builds {
					out = append(out, b.ID)
				}
				if next == "" {
					return out
				}
				f.Cursor = next
			}
			t.Fatal("too many pages")
			return nil
		}
		require.Equal(t, []int64{b3.ID, b2.ID, b1.ID}, ids(kiln.BuildFilter{Page: kiln.Page{Limit: 1}}))
		require.Equal(t, []int64{b3.ID, b1.ID}, ids(kiln.BuildFilter{AppID: app1.ID}))
		require.Equal(t, []int64{b2.ID}, ids(kiln.BuildFilter{AppID: app2.ID}))
		require.Equal(t, []int64{b3.ID, b2.ID}, ids(kiln.BuildFilter{Status: kiln.BuildQueued, Page: kiln.Page{Limit: 1}}))
		require.Equal(t, []int64{b1.ID}, ids(kiln.BuildFilter{AppID: app1.ID, Status: kiln.BuildCanceled}))

		_, _, err = e.Builds.FindBuilds(ctx, kiln.BuildFilter{Status: "sleeping"})
		RequireField(t, err, "status")
		_, _, err = e.Builds.FindBuilds(ctx, kiln.BuildFilter{All: true})
		RequireCode(t, err, kiln.EForbidden)
		all, _, err := e.Builds.FindBuilds(e.ctx(admin), kiln.BuildFilter{All: true})
		require.NoError(t, err)
		require.Len(t, all, 4)
		ofApp, _, err := e.Builds.FindBuilds(e.ctx(admin), kiln.BuildFilter{AppID: app1.ID})
		require.NoError(t, err)
		require.Len(t, ofApp, 2, "an admin may list any app's builds")
	})

	t.Run("CancelBuild", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		bg := context.Background()
		u := MustCreateUser(t, e, "u@example.com")
		other := MustCreateUser(t, e, "other@example.com")
		app, queued := MustCreateApp(t, e, u, "a todo list")

		_, err := e.Builds.CancelBuild(e.ctx(other), queued.ID)
		RequireCode(t, err, kiln.ENotFound)

		got, err := e.Builds.CancelBuild(e.ctx(u), queued.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildCanceled, got.Status, "a queued build is canceled at once")
		require.True(t, got.CancelRequested)
		require.NotNil(t, got.FinishedAt)
		found, err := e.Builds.FindBuildByID(e.ctx(u), queued.ID)
		require.NoError(t, err)
		require.Equal(t, got, found)
		_, err = e.Builds.CancelBuild(e.ctx(u), queued.ID)
		RequireCode(t, err, kiln.EConflict)
		_, _, err = e.Work.ClaimBuild(bg, queued.ID, "late-worker", farFuture())
		RequireCode(t, err, kiln.EConflict)

		running, err := e.Builds.CreateBuild(e.ctx(u), app.ID, kiln.BuildCreate{})
		require.NoError(t, err)
		MustClaim(t, e, running.ID, "lease")
		require.NoError(t, e.Work.SetBuildStatus(bg, running.ID, "lease", kiln.BuildPlanning, "plan"))
		cancel, err := e.Work.Heartbeat(bg, running.ID, "lease")
		require.NoError(t, err)
		require.False(t, cancel)
		got, err = e.Builds.CancelBuild(e.ctx(u), running.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildPlanning, got.Status, "a running build is left to its worker")
		require.True(t, got.CancelRequested)
		cancel, err = e.Work.Heartbeat(bg, running.ID, "lease")
		require.NoError(t, err)
		require.True(t, cancel, "the worker learns of the cancel through its heartbeat")
		require.NoError(t, e.Work.FinishBuild(bg, running.ID, "lease", kiln.BuildCanceled, "canceled by the user"))
		_, err = e.Builds.CancelBuild(e.ctx(u), running.ID)
		RequireCode(t, err, kiln.EConflict)
	})

	t.Run("StepsLogsArtifacts", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		bg := context.Background()
		admin := MustCreateUser(t, e, "admin@example.com")
		u := MustCreateUser(t, e, "u@example.com")
		other := MustCreateUser(t, e, "other@example.com")
		_, b := MustCreateApp(t, e, u, "a todo list")
		// A build without steps yet: found, with no steps.
		gotB, none, err := e.Builds.FindBuildWithSteps(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, b.ID, gotB.ID)
		require.Empty(t, none)
		MustClaim(t, e, b.ID, "lease")
		s1, err := e.Work.StartStep(bg, b.ID, "plan")
		require.NoError(t, err)
		require.NoError(t, e.Work.FinishStep(bg, s1.ID, kiln.StepSucceeded, ""))
		s2, err := e.Work.StartStep(bg, b.ID, "vet")
		require.NoError(t, err)
		require.NoError(t, e.Work.AppendLogs(bg, b.ID, []*kiln.LogLine{{Stream: kiln.StreamStdout, Text: "ok"}}))
		art := &kiln.Artifact{BuildID: b.ID, Kind: kiln.ArtifactSourceTarGz, Name: "app.tar.gz", Size: 42, SHA256: "deadbeef", Location: "local:x"}
		require.NoError(t, e.Work.CreateArtifact(bg, art))
		require.NotZero(t, art.ID)

		steps, err := e.Builds.FindSteps(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Len(t, steps, 2)
		require.Equal(t, "plan", steps[0].Name)
		require.Equal(t, kiln.StepSucceeded, steps[0].Outcome)
		require.NotNil(t, steps[0].FinishedAt)
		require.Equal(t, s2, steps[1], "a running step round-trips exactly")
		gotB, withSteps, err := e.Builds.FindBuildWithSteps(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, steps, withSteps)
		wantB, err := e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, wantB, gotB, "the build read with its steps is the build read alone")
		require.False(t, gotB.UsedLLM)
		require.NoError(t, sqlstore.NewUsageStore(e.DB).RecordLLMCall(bg, &kiln.LLMCall{BuildID: b.ID, Step: "repair 1", Model: "m", PromptTokens: 1}))
		gotB, withSteps, err = e.Builds.FindBuildWithSteps(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.True(t, gotB.UsedLLM, "a build that called a model says so")
		require.Equal(t, steps, withSteps, "one row per step still")

		arts, err := e.Builds.FindArtifacts(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, []*kiln.Artifact{art}, arts)
		got, err := e.Builds.FindArtifactByID(e.ctx(u), art.ID)
		require.NoError(t, err)
		require.Equal(t, art, got)
		got, err = e.Builds.FindArtifactByID(e.ctx(admin), art.ID)
		require.NoError(t, err)
		require.Equal(t, art.ID, got.ID)

		counts, err := e.DB.CountBuildsByStatus(bg)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{string(b.Status): 1}, counts, "one build, claimed")

		// Another user sees none of it.
		octx := e.ctx(other)
		_, err = e.Builds.FindBuildByID(octx, b.ID)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Builds.FindSteps(octx, b.ID)
		RequireCode(t, err, kiln.ENotFound)
		_, _, err = e.Builds.FindBuildWithSteps(octx, b.ID)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Builds.FindLogs(octx, b.ID, 0, 0)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Builds.FindArtifacts(octx, b.ID)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Builds.FindArtifactByID(octx, art.ID)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Builds.FindArtifactByID(e.ctx(u), art.ID+1000)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Builds.FindLogs(context.Background(), b.ID, 0, 0)
		RequireCode(t, err, kiln.EUnauthorized)
		require.NoError(t, e.Work.CreateArtifact(bg, &kiln.Artifact{BuildID: b.ID, Kind: "sbom", Name: "sbom.json", Location: "l"}))
		RequireCode(t, e.Work.CreateArtifact(bg, &kiln.Artifact{BuildID: 99999, Kind: "sbom", Name: "x", Location: "l"}), kiln.ENotFound)
		RequireField(t, e.Work.CreateArtifact(bg, &kiln.Artifact{BuildID: b.ID, Kind: "sbom", Name: "", Location: "l"}), "name")
	})
}
