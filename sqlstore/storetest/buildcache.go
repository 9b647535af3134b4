package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

// MustFinishedBuild claims the build, sets its cache key, stores one
// artifact under the build's blob folder and ends it with status.
func MustFinishedBuild(tb testing.TB, e *Env, b *kiln.Build, key string, status kiln.BuildStatus) *kiln.Artifact {
	tb.Helper()
	bg := context.Background()
	MustClaim(tb, e, b.ID, "w")
	require.NoError(tb, e.Work.SetBuildCacheKey(bg, b.ID, "w", key))
	a := &kiln.Artifact{BuildID: b.ID, Kind: kiln.ArtifactSourceTarGz, Name: "app-source.tar.gz", Size: 3,
		SHA256: strings.Repeat("ab", 32), Location: fmt.Sprintf("builds/%d/1/app-source.tar.gz", b.ID)}
	require.NoError(tb, e.Work.CreateArtifact(bg, a))
	require.NoError(tb, e.Work.FinishBuild(bg, b.ID, "w", status, ""))
	return a
}

func testBuildCache(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	bg := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		app1, b1 := MustCreateApp(t, e, u, "a todo list")
		orig := MustFinishedBuild(t, e, b1, "k1", kiln.BuildSucceeded)

		got, err := e.Work.FindCachedBuild(bg, u.ID, "k1")
		require.NoError(t, err)
		require.Equal(t, b1.ID, got.ID)
		require.Equal(t, "k1", got.CacheKey)
		require.Nil(t, got.CachedFrom)
		// The worker lists the cached build's artifacts, blob locations
		// included, to check their blobs before reusing them.
		own, err := e.Work.FindBuildArtifacts(bg, b1.ID)
		require.NoError(t, err)
		require.Len(t, own, 1)
		require.Equal(t, orig.ID, own[0].ID)
		require.Equal(t, orig.Location, own[0].Location)
		require.Equal(t, orig.Size, own[0].Size)
		none, err := e.Work.FindBuildArtifacts(bg, 99999)
		require.NoError(t, err)
		require.Empty(t, none)

		// Another app of the same owner with the same key reuses b1's
		// artifacts: new rows pointing at the same blobs.
		app2, b2 := MustCreateApp(t, e, u, "a todo list again")
		MustClaim(t, e, b2.ID, "w")
		require.NoError(t, e.Work.SetBuildCacheKey(bg, b2.ID, "w", "k1"))
		arts, err := e.Work.ReuseArtifacts(bg, b2.ID, "w", b1.ID)
		require.NoError(t, err)
		require.Len(t, arts, 1)
		require.Equal(t, b2.ID, arts[0].BuildID)
		require.NotEqual(t, orig.ID, arts[0].ID)
		require.Equal(t, orig.Location, arts[0].Location)
		require.Equal(t, orig.SHA256, arts[0].SHA256)
		require.Equal(t, orig.Name, arts[0].Name)
		// Again, as a retried attempt would: still one copy.
		arts, err = e.Work.ReuseArtifacts(bg, b2.ID, "w", b1.ID)
		require.NoError(t, err)
		require.Len(t, arts, 1)
		require.NoError(t, e.Work.FinishBuild(bg, b2.ID, "w", kiln.BuildSucceeded, ""))

		listed, err := e.Builds.FindArtifacts(e.ctx(u), b2.ID)
		require.NoError(t, err)
		require.Len(t, listed, 1)
		require.Equal(t, orig.Location, listed[0].Location)
		seen, err := e.Builds.FindBuildByID(e.ctx(u), b2.ID)
		require.NoError(t, err)
		require.NotNil(t, seen.CachedFrom)
		require.Equal(t, b1.ID, *seen.CachedFrom)
		require.Equal(t, "k1", seen.CacheKey)

		// The watchers of b2 saw the artifact, once per copy.
		evs, err := sqlstore.NewBuildEventService(e.DB).BuildEvents(bg, b2.ID, 0, 1000)
		require.NoError(t, err)
		var artifactEvents int
		for _, ev := range evs {
			if ev.Kind == kiln.EventArtifact {
				artifactEvents++
			}
		}
		require.Equal(t, 2, artifactEvents)

		// The newest succeeded build wins.
		got, err = e.Work.FindCachedBuild(bg, u.ID, "k1")
		require.NoError(t, err)
		require.Equal(t, b2.ID, got.ID)

		// Deleting the first app keeps its blobs while b2 points at them;
		// deleting the second frees them.
		require.NoError(t, e.Apps.DeleteApp(e.ctx(u), app1.ID))
		inUse, err := e.DB.BuildBlobsInUse(bg, b1.ID)
		require.NoError(t, err)
		require.True(t, inUse, "blobs of a deleted build that a cached build reuses")
		seen, err = e.Builds.FindBuildByID(e.ctx(u), b2.ID)
		require.NoError(t, err)
		require.Nil(t, seen.CachedFrom, "cached_from of a deleted build is cleared")
		require.NoError(t, e.Apps.DeleteApp(e.ctx(u), app2.ID))
		inUse, err = e.DB.BuildBlobsInUse(bg, b1.ID)
		require.NoError(t, err)
		require.False(t, inUse)
		_, err = e.Work.FindCachedBuild(bg, u.ID, "k1")
		RequireCode(t, err, kiln.ENotFound)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		v := MustCreateUser(t, e, "v@example.com")
		_, failed := MustCreateApp(t, e, u, "a todo list")
		MustFinishedBuild(t, e, failed, "k-failed", kiln.BuildFailed)
		_, canceled := MustCreateApp(t, e, u, "a todo list")
		MustFinishedBuild(t, e, canceled, "k-canceled", kiln.BuildCanceled)
		_, ok := MustCreateApp(t, e, u, "a todo list")
		MustFinishedBuild(t, e, ok, "k-ok", kiln.BuildSucceeded)
		_, running := MustCreateApp(t, e, u, "a todo list")
		MustClaim(t, e, running.ID, "w")
		require.NoError(t, e.Work.SetBuildCacheKey(bg, running.ID, "w", "k-running"))

		for _, c := range []struct {
			what  string
			owner int64
			key   string
		}{
			{"a failed build", u.ID, "k-failed"},
			{"a canceled build", u.ID, "k-canceled"},
			{"a running build", u.ID, "k-running"},
			{"another owner's build", v.ID, "k-ok"},
			{"an unknown key", u.ID, "k-none"},
			{"an empty key", u.ID, ""},
		} {
			_, err := e.Work.FindCachedBuild(bg, c.owner, c.key)
			if kiln.ErrorCode(err) != kiln.ENotFound {
				t.Errorf("%s is found in the cache: %v", c.what, err)
			}
		}
		_, err := e.Work.ReuseArtifacts(bg, running.ID, "w", 99999)
		RequireCode(t, err, kiln.ENotFound)
	})

	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		v := MustCreateUser(t, e, "v@example.com")
		_, failed := MustCreateApp(t, e, u, "a todo list")
		MustFinishedBuild(t, e, failed, "k", kiln.BuildFailed)
		_, ok := MustCreateApp(t, e, u, "a todo list")
		MustFinishedBuild(t, e, ok, "k", kiln.BuildSucceeded)
		_, b := MustCreateApp(t, e, u, "a todo list")
		MustClaim(t, e, b.ID, "w")
		_, theirs := MustCreateApp(t, e, v, "a todo list")
		MustClaim(t, e, theirs.ID, "w")

		_, err := e.Work.ReuseArtifacts(bg, b.ID, "w", failed.ID)
		RequireCode(t, err, kiln.EConflict) // a failed build is never reused
		_, err = e.Work.ReuseArtifacts(bg, b.ID, "w", b.ID)
		RequireCode(t, err, kiln.EConflict)
		_, err = e.Work.ReuseArtifacts(bg, theirs.ID, "w", ok.ID)
		RequireCode(t, err, kiln.EConflict) // not across owners
		_, err = e.Work.ReuseArtifacts(bg, b.ID, "stolen", ok.ID)
		RequireCode(t, err, kiln.EConflict)
		RequireCode(t, e.Work.SetBuildCacheKey(bg, b.ID, "stolen", "k"), kiln.EConflict)
		RequireCode(t, e.Work.SetBuildCacheKey(bg, 99999, "w", "k"), kiln.ENotFound)
		RequireCode(t, e.Work.SetBuildCacheKey(bg, b.ID, "w", strings.Repeat("k", 129)), kiln.EInvalid)

		// Nothing was copied by the refused attempts.
		arts, err := e.Builds.FindArtifacts(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Empty(t, arts)
		seen, err := e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Nil(t, seen.CachedFrom)
	})
}
