package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	kiln "github.com/kiln-build/kiln"
)

// TestEventMigrationBackfill migrates a database holding log lines from
// before the event streams to the current schema: each old line gets its
// owner and a gapless place in the owner's sequence, and new events
// continue both sequences.
func TestEventMigrationBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "kiln.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.provider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.writer.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	now := "2026-01-01T00:00:00.000000Z"
	exec("INSERT INTO users (id, email, email_key, role, created_at, updated_at) VALUES (1, 'a@x', 'a@x', 'admin', ?, ?), (2, 'b@x', 'b@x', 'user', ?, ?)", now, now, now, now)
	exec("INSERT INTO apps (id, owner_id, name, description, created_at, updated_at) VALUES (1, 1, 'a', 'a', ?, ?), (2, 2, 'b', 'b', ?, ?)", now, now, now, now)
	exec("INSERT INTO builds (id, app_id, owner_id, number, status, created_at, last_seq) VALUES (1, 1, 1, 1, 'succeeded', ?, 2), (2, 2, 2, 1, 'queued', ?, 1), (3, 1, 1, 2, 'queued', ?, 3)", now, now, now)
	for _, r := range [][2]int64{{1, 1}, {1, 2}, {2, 1}, {3, 1}, {3, 2}, {3, 3}} {
		exec("INSERT INTO build_events (build_id, seq, time, kind, stream, text) VALUES (?, ?, ?, 'log', 'system', 'x')", r[0], r[1], now)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ev := NewBuildEventService(db)
	got, err := ev.OwnerEvents(ctx, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := [][3]int64{{1, 1, 1}, {1, 2, 2}, {3, 1, 3}, {3, 2, 4}, {3, 3, 5}}
	if len(got) != len(want) {
		t.Fatalf("owner 1 has %d events, want %d", len(got), len(want))
	}
	for i, e := range got {
		if [3]int64{e.BuildID, e.Seq, e.UserSeq} != want[i] {
			t.Errorf("event %d = build %d seq %d user_seq %d, want %v", i, e.BuildID, e.Seq, e.UserSeq, want[i])
		}
	}
	if err := NewBuildWork(db).AppendLogs(ctx, 3, []*kiln.LogLine{{Text: "new"}}); err != nil {
		t.Fatal(err)
	}
	last, err := ev.OwnerEvents(ctx, 1, 5, 0)
	if err != nil || len(last) != 1 || last[0].Seq != 4 || last[0].UserSeq != 6 {
		t.Fatalf("a new event continues both sequences: %+v %v", last, err)
	}
	if n, _ := ev.LastUserSeq(ctx, 2); n != 1 {
		t.Errorf("owner 2's counter = %d, want 1", n)
	}
}
