package worker_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kiln-build/kiln/worker"
)

type fakeFolders struct {
	children map[string]time.Time
	deleted  []string
}

func (f *fakeFolders) Children(_ context.Context, dir string) (map[string]time.Time, error) {
	if dir != "builds" {
		return nil, errors.New("unexpected dir " + dir)
	}
	return f.children, nil
}

func (f *fakeFolders) DeleteAll(_ context.Context, dir string) error {
	f.deleted = append(f.deleted, dir)
	return nil
}

func TestSweepBuildBlobs(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	old := now.Add(-2 * time.Hour)
	f := &fakeFolders{children: map[string]time.Time{
		"1":      old,                      // live build
		"2":      old,                      // deleted build: swept
		"3":      now.Add(-time.Minute),    // deleted, but too recent
		"4":      old,                      // lookup fails: kept
		"5":      old,                      // deleted build whose blobs another build reuses
		"tmp":    old,                      // not a build folder
		"-7":     old,                      // not a build id
		"000009": old.Add(-24 * time.Hour), // deleted build, odd but numeric name
	}}
	live := map[int64]bool{1: true, 5: true}
	removed, err := worker.SweepBuildBlobs(context.Background(), worker.SweepConfig{
		Blobs: f,
		InUse: func(_ context.Context, id int64) (bool, error) {
			if id == 4 {
				return false, errors.New("database down")
			}
			return live[id], nil
		},
		Grace: time.Hour,
		Now:   func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(f.deleted)
	if want := []string{"builds/000009", "builds/2"}; !slices.Equal(f.deleted, want) || removed != 2 {
		t.Fatalf("deleted %v (%d), want %v", f.deleted, removed, want)
	}
}
