package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

func testApps(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Run("CreateApp", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "a@example.com")
		app, b, err := e.Apps.CreateApp(e.ctx(u), kiln.AppCreate{
			Description: "  A todo list, with Tags & due-dates for my TEAM of five people  ",
			NoCache:     true,
		})
		require.NoError(t, err)
		require.Equal(t, "a-todo-list-with-tags", app.Name, "name derived from the description")
		require.Equal(t, "A todo list, with Tags & due-dates for my TEAM of five people", app.Description)
		require.Equal(t, u.ID, app.OwnerID)
		require.Nil(t, app.Spec)
		require.Equal(t, app.ID, b.AppID)
		require.Equal(t, 1, b.Number)
		require.Equal(t, kiln.BuildQueued, b.Status)
		require.True(t, b.NoCache)
		require.Equal(t, b, app.LatestBuild)
		require.Equal(t, []int64{b.ID}, e.Queue.IDs(), "the job is enqueued with the build")

		got, err := e.Apps.FindAppByID(e.ctx(u), app.ID)
		require.NoError(t, err)
		require.Equal(t, app, got, "round-trips exactly, with the latest build")

		named, _, err := e.Apps.CreateApp(e.ctx(u), kiln.AppCreate{Name: "Mein Büro", Description: "x"})
		require.NoError(t, err)
		require.Equal(t, "Mein Büro", named.Name)
		anon, _, err := e.Apps.CreateApp(e.ctx(u), kiln.AppCreate{Description: "!!! ???"})
		require.NoError(t, err)
		require.Equal(t, "app", anon.Name)
	})

	t.Run("CreateAppWithSpec", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "a@example.com")
		spec := validSpec("library")
		app, b, err := e.Apps.CreateApp(e.ctx(u), kiln.AppCreate{Description: "a library", Spec: spec})
		require.NoError(t, err)
		require.Equal(t, spec, app.Spec)
		require.Equal(t, spec, b.Spec, "build #1 builds the given spec instead of planning")
		got, err := e.Apps.FindAppByID(e.ctx(u), app.ID)
		require.NoError(t, err)
		require.Equal(t, spec, got.Spec)

		bad := validSpec("library")
		bad.Entities[0].Fields[0].Name = "Bad Name"
		_, _, err = e.Apps.CreateApp(e.ctx(u), kiln.AppCreate{Description: "a library", Spec: bad})
		RequireField(t, err, "spec.entities[0].fields[0].name")
		require.Equal(t, 1, e.count(t, "apps"), "nothing created for a bad spec")
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		ctx := e.ctx(MustCreateUser(t, e, "a@example.com"))
		for _, tc := range []struct {
			in    kiln.AppCreate
			field string
		}{
			{kiln.AppCreate{Description: ""}, "description"},
			{kiln.AppCreate{Description: " \n\t "}, "description"},
			{kiln.AppCreate{Description: strings.Repeat("é", kiln.MaxDescriptionLen+1)}, "description"},
			{kiln.AppCreate{Description: "bad \xff utf-8"}, "description"},
			{kiln.AppCreate{Description: "nul \x00 byte"}, "description"},
			{kiln.AppCreate{Description: "ok", Name: strings.Repeat("n", kiln.MaxAppNameLen+1)}, "name"},
			{kiln.AppCreate{Description: "ok", Name: "tab\there"}, "name"},
		} {
			_, _, err := e.Apps.CreateApp(ctx, tc.in)
			RequireField(t, err, tc.field)
		}
		_, _, err := e.Apps.CreateApp(ctx, kiln.AppCreate{Description: strings.Repeat("é", kiln.MaxDescriptionLen)})
		require.NoError(t, err, "the limit counts characters, not bytes")
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		_, _, err := e.Apps.CreateApp(context.Background(), kiln.AppCreate{Description: "x"})
		RequireCode(t, err, kiln.EUnauthorized)
		_, _, err = e.Apps.FindApps(context.Background(), kiln.AppFilter{})
		RequireCode(t, err, kiln.EUnauthorized)
	})

	t.Run("EnqueueFailureRollsBack", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "a@example.com")
		boom := errors.New("queue down")
		e.Queue.FailWith(boom)
		_, _, err := e.Apps.CreateApp(e.ctx(u), kiln.AppCreate{Description: "a todo list"})
		require.ErrorIs(t, err, boom)
		require.Zero(t, e.count(t, "apps"), "no app without its build's job")
		require.Zero(t, e.count(t, "builds"), "no build without its job")

		e.Queue.FailWith(nil)
		app, _ := MustCreateApp(t, e, u, "a todo list")
		e.Queue.FailWith(boom)
		_, err = e.Builds.CreateBuild(e.ctx(u), app.ID, kiln.BuildCreate{})
		require.ErrorIs(t, err, boom)
		require.Equal(t, 1, e.count(t, "builds"))

		e.DB.SetEnqueue(nil)
		_, err = e.Builds.CreateBuild(e.ctx(u), app.ID, kiln.BuildCreate{})
		require.Error(t, err, "no queue attached: refuse rather than leave a build without a job")
		require.Equal(t, 1, e.count(t, "builds"))
	})

	t.Run("ErrNotFoundOtherUser", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		admin := MustCreateUser(t, e, "admin@example.com")
		owner := MustCreateUser(t, e, "owner@example.com")
		other := MustCreateUser(t, e, "other@example.com")
		app, _ := MustCreateApp(t, e, owner, "a todo list")
		ctx := e.ctx(other)
		name := "mine"
		_, err := e.Apps.FindAppByID(ctx, app.ID)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Apps.UpdateApp(ctx, app.ID, kiln.AppUpdate{Name: &name})
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Apps.SetAppSpec(ctx, app.ID, validSpec("todo"))
		RequireCode(t, err, kiln.ENotFound)
		RequireCode(t, e.Apps.DeleteApp(ctx, app.ID), kiln.ENotFound)
		_, err = e.Builds.CreateBuild(ctx, app.ID, kiln.BuildCreate{})
		RequireCode(t, err, kiln.ENotFound)
		_, _, err = e.Builds.FindBuilds(ctx, kiln.BuildFilter{AppID: app.ID})
		RequireCode(t, err, kiln.ENotFound)
		apps, _, err := e.Apps.FindApps(ctx, kiln.AppFilter{})
		require.NoError(t, err)
		require.Empty(t, apps)

		got, err := e.Apps.FindAppByID(e.ctx(admin), app.ID)
		require.NoError(t, err, "admins see every app")
		require.Equal(t, app.ID, got.ID)
		_, err = e.Apps.FindAppByID(e.ctx(owner), 99999)
		RequireCode(t, err, kiln.ENotFound)
	})

	t.Run("FindAppsPagination", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		admin := MustCreateUser(t, e, "admin@example.com")
		u := MustCreateUser(t, e, "u@example.com")
		var want []int64
		for i := range 5 {
			app, _ := MustCreateApp(t, e, u, fmt.Sprintf("app number %d", i))
			want = append([]int64{app.ID}, want...)
		}
		MustCreateApp(t, e, admin, "the admin's own app")

		var got []int64
		var sizes []int
		page := kiln.Page{Limit: 2}
		for range 10 {
			apps, next, err := e.Apps.FindApps(e.ctx(u), kiln.AppFilter{Page: page})
			require.NoError(t, err)
			sizes = append(sizes, len(apps))
			for _, a := range apps {
				require.NotNil(t, a.LatestBuild, "lists carry the latest build")
				require.Equal(t, a.ID, a.LatestBuild.AppID)
				got = append(got, a.ID)
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		require.Equal(t, want, got, "newest first, every app once")
		require.Equal(t, []int{2, 2, 1}, sizes)

		apps, next, err := e.Apps.FindApps(e.ctx(u), kiln.AppFilter{Page: kiln.Page{Limit: 5}})
		require.NoError(t, err)
		require.Len(t, apps, 5)
		require.Empty(t, next, "no next page when the last page is exactly full")

		_, _, err = e.Apps.FindApps(e.ctx(u), kiln.AppFilter{Page: kiln.Page{Cursor: "not-a-cursor!"}})
		RequireField(t, err, "cursor")
		_, _, err = e.Apps.FindApps(e.ctx(u), kiln.AppFilter{All: true})
		RequireCode(t, err, kiln.EForbidden)
		all, _, err := e.Apps.FindApps(e.ctx(admin), kiln.AppFilter{All: true})
		require.NoError(t, err)
		require.Len(t, all, 6)
		own, _, err := e.Apps.FindApps(e.ctx(admin), kiln.AppFilter{})
		require.NoError(t, err)
		require.Len(t, own, 1)
	})

	t.Run("UpdateApp", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		app, _ := MustCreateApp(t, e, u, "a todo list")
		name, desc := "todos", "a better todo list"
		got, err := e.Apps.UpdateApp(e.ctx(u), app.ID, kiln.AppUpdate{Name: &name})
		require.NoError(t, err)
		require.Equal(t, "todos", got.Name)
		require.Equal(t, "a todo list", got.Description)
		got, err = e.Apps.UpdateApp(e.ctx(u), app.ID, kiln.AppUpdate{Description: &desc})
		require.NoError(t, err)
		require.Equal(t, "todos", got.Name)
		require.Equal(t, desc, got.Description)
		require.NotNil(t, got.LatestBuild)
		found, err := e.Apps.FindAppByID(e.ctx(u), app.ID)
		require.NoError(t, err)
		require.Equal(t, got, found)

		empty := " "
		_, err = e.Apps.UpdateApp(e.ctx(u), app.ID, kiln.AppUpdate{Name: &empty})
		RequireField(t, err, "name")
		_, err = e.Apps.UpdateApp(e.ctx(u), app.ID, kiln.AppUpdate{Description: &empty})
		RequireField(t, err, "description")
	})

	t.Run("SetAppSpec", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		app, _ := MustCreateApp(t, e, u, "a library")
		spec := validSpec("library")
		got, err := e.Apps.SetAppSpec(e.ctx(u), app.ID, spec)
		require.NoError(t, err)
		require.Equal(t, spec, got.Spec)
		found, err := e.Apps.FindAppByID(e.ctx(u), app.ID)
		require.NoError(t, err)
		require.Equal(t, spec, found.Spec, "the spec round-trips")
		require.Equal(t, spec.Hash(), found.Spec.Hash())

		b, err := e.Builds.CreateBuild(e.ctx(u), app.ID, kiln.BuildCreate{})
		require.NoError(t, err)
		require.Equal(t, spec, b.Spec, "a new build snapshots the current spec")

		bad := validSpec("library")
		bad.Entities[0].Fields[1].Type = "money"
		_, err = e.Apps.SetAppSpec(e.ctx(u), app.ID, bad)
		RequireField(t, err, "entities[0].fields[1].type")
		_, err = e.Apps.SetAppSpec(e.ctx(u), app.ID, nil)
		RequireCode(t, err, kiln.EInvalid)
		found, err = e.Apps.FindAppByID(e.ctx(u), app.ID)
		require.NoError(t, err)
		require.Equal(t, spec, found.Spec, "a refused spec changes nothing")
	})

	t.Run("DeleteApp", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		ctx := context.Background()
		u := MustCreateUser(t, e, "u@example.com")
		app, b := MustCreateApp(t, e, u, "a todo list")
		MustClaim(t, e, b.ID, "lease-1")
		require.NoError(t, e.Work.SetBuildStatus(ctx, b.ID, "lease-1", kiln.BuildGenerating, "render"))
		step, err := e.Work.StartStep(ctx, b.ID, "render")
		require.NoError(t, err)
		require.NoError(t, e.Work.AppendLogs(ctx, b.ID, []*kiln.LogLine{{Stream: kiln.StreamStdout, Text: "hello"}}))
		require.NoError(t, e.Work.CreateArtifact(ctx, &kiln.Artifact{BuildID: b.ID, Kind: kiln.ArtifactSourceZip, Name: "app.zip", Size: 3, SHA256: "abc", Location: "local:1"}))

		RequireCode(t, e.Apps.DeleteApp(e.ctx(u), app.ID), kiln.EConflict)

		require.NoError(t, e.Work.FinishStep(ctx, step.ID, kiln.StepSucceeded, ""))
		require.NoError(t, e.Work.FinishBuild(ctx, b.ID, "lease-1", kiln.BuildSucceeded, ""))
		keep, keepBuild := MustCreateApp(t, e, u, "another app")
		inUse, err := e.DB.BuildBlobsInUse(ctx, b.ID)
		require.NoError(t, err)
		require.True(t, inUse, "a live build's blobs are in use")
		// Build 2 reuses a blob stored under the folder of a build that is
		// about to disappear (as a cache hit does).
		gone, goneBuild := MustCreateApp(t, e, u, "a third app")
		require.NoError(t, e.Work.CreateArtifact(ctx, &kiln.Artifact{BuildID: keepBuild.ID, Kind: kiln.ArtifactSourceZip, Name: "app.zip", Size: 3, SHA256: "abc",
			Location: fmt.Sprintf("builds/%d/1/app.zip", goneBuild.ID)}))
		require.NoError(t, e.Apps.DeleteApp(e.ctx(u), app.ID))
		require.NoError(t, e.Apps.DeleteApp(e.ctx(u), gone.ID))
		inUse, err = e.DB.BuildBlobsInUse(ctx, b.ID)
		require.NoError(t, err)
		require.False(t, inUse, "a deleted build's blobs are not in use")
		inUse, err = e.DB.BuildBlobsInUse(ctx, goneBuild.ID)
		require.NoError(t, err)
		require.True(t, inUse, "a deleted build's blobs that another build reuses are in use")

		_, err = e.Apps.FindAppByID(e.ctx(u), app.ID)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Builds.FindBuildByID(e.ctx(u), b.ID)
		RequireCode(t, err, kiln.ENotFound)
		require.Equal(t, 1, e.count(t, "apps"))
		require.Equal(t, 1, e.count(t, "builds"), "only the other app's build is left")
		require.Zero(t, e.count(t, "build_steps"))
		require.Equal(t, 1, e.count(t, "artifacts"), "only the other app's artifact is left")
		var events int
		require.NoError(t, e.DB.Writer().QueryRowContext(ctx, "SELECT count(*) FROM build_events WHERE build_id = "+fmt.Sprint(b.ID)).Scan(&events))
		require.Zero(t, events)
		_, err = e.Apps.FindAppByID(e.ctx(u), keep.ID)
		require.NoError(t, err)
	})
}
