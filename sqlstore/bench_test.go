package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

// benchBuild returns a user context and one of its builds on db.
func benchBuild(b *testing.B, db *sqlstore.DB) (context.Context, *kiln.Build) {
	b.Helper()
	ctx := context.Background()
	db.SetEnqueue(func(context.Context, *sql.Tx, int64) error { return nil })
	u := &kiln.User{Email: "bench@example.com", EmailVerified: true}
	require.NoError(b, sqlstore.NewAuthStore(db).CreateUser(ctx, u))
	uctx := kiln.NewContextWithUser(ctx, u)
	_, build, err := sqlstore.NewAppService(db).CreateApp(uctx, kiln.AppCreate{Description: "bench"})
	require.NoError(b, err)
	return uctx, build
}

func benchDBs(b *testing.B, run func(b *testing.B, db *sqlstore.DB)) {
	b.Run("sqlite", func(b *testing.B) { run(b, MustOpenSQLite(b, sqlstore.Options{})) })
	b.Run("postgres", func(b *testing.B) { run(b, MustOpenPostgres(b, sqlstore.Options{})) })
}

func BenchmarkFindBuildByID(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *sqlstore.DB) {
		ctx, build := benchBuild(b, db)
		svc := sqlstore.NewBuildService(db)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := svc.FindBuildByID(ctx, build.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkAppendLogs(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *sqlstore.DB) {
		_, build := benchBuild(b, db)
		work := sqlstore.NewBuildWork(db)
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			lines := make([]*kiln.LogLine, 10)
			for j := range lines {
				lines[j] = &kiln.LogLine{Stream: kiln.StreamStdout, Text: fmt.Sprintf("line %d of batch %d", j, i)}
			}
			if err := work.AppendLogs(ctx, build.ID, lines); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
