package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

func testIdempotency(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		other := MustCreateUser(t, e, "o@example.com")
		r := &kiln.IdempotencyRecord{UserID: u.ID, Key: "k1", RequestHash: "h", Status: 201, Body: []byte(`{"id":1}`)}
		require.NoError(t, e.Idem.CreateIdempotencyRecord(ctx, r))
		require.False(t, r.CreatedAt.IsZero())
		got, err := e.Idem.FindIdempotencyRecord(ctx, u.ID, "k1")
		require.NoError(t, err)
		require.Equal(t, r, got)

		RequireCode(t, e.Idem.CreateIdempotencyRecord(ctx, &kiln.IdempotencyRecord{UserID: u.ID, Key: "k1", RequestHash: "x", Status: 201}), kiln.EConflict)
		_, err = e.Idem.FindIdempotencyRecord(ctx, other.ID, "k1")
		RequireCode(t, err, kiln.ENotFound) // keys are per user
		require.NoError(t, e.Idem.CreateIdempotencyRecord(ctx, &kiln.IdempotencyRecord{UserID: other.ID, Key: "k1", RequestHash: "x", Status: 201}))
		_, err = e.Idem.FindIdempotencyRecord(ctx, u.ID, "bad\xff\x00")
		RequireField(t, err, "idempotency_key")
	})

	t.Run("DeleteBefore", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		now := time.Now()
		old := &kiln.IdempotencyRecord{UserID: u.ID, Key: "old", RequestHash: "h", Status: 200, CreatedAt: now.Add(-48 * time.Hour)}
		recent := &kiln.IdempotencyRecord{UserID: u.ID, Key: "new", RequestHash: "h", Status: 200, CreatedAt: now}
		require.NoError(t, e.Idem.CreateIdempotencyRecord(ctx, old))
		require.NoError(t, e.Idem.CreateIdempotencyRecord(ctx, recent))
		require.NoError(t, e.Idem.DeleteIdempotencyRecordsBefore(ctx, now.Add(-24*time.Hour)))
		_, err := e.Idem.FindIdempotencyRecord(ctx, u.ID, "old")
		RequireCode(t, err, kiln.ENotFound)
		got, err := e.Idem.FindIdempotencyRecord(ctx, u.ID, "new")
		require.NoError(t, err)
		require.Equal(t, []byte{}, got.Body)
	})
}
