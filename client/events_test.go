package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/client/clienttest"
)

func TestFollowBuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ResumesAcrossReconnects", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.StreamChunk = 2 // every connection ends after two events
		c, _ := MustLogin(t, srv, "ada@example.com")
		_, b, err := c.CreateApp(ctx, kiln.AppCreate{Description: "todo list", Name: "todo"})
		require.NoError(t, err)
		var seqs []int64
		var lines []string
		reconnects := 0
		end, err := c.FollowBuild(ctx, b.ID, client.StreamOptions{OnReconnect: func(error) { reconnects++ }}, func(e *kiln.BuildEvent) error {
			seqs = append(seqs, e.Seq)
			if l := e.LogLine(); l != nil {
				lines = append(lines, l.Text)
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, kiln.BuildSucceeded, end.End.Status)
		assert.Equal(t, []string{"planning todo", "go vet ./...", "go test ./...", "packaged source.tar.gz"}, lines)
		for i, s := range seqs {
			require.Equal(t, int64(i+1), s, "every event once, in order: %v", seqs)
		}
		assert.Equal(t, (len(seqs)-1)/2, reconnects)

		// From the end of an ended build: nothing to deliver, the end still
		// comes back, read from the build.
		end, err = c.FollowBuild(ctx, b.ID, client.StreamOptions{After: seqs[len(seqs)-1]}, func(e *kiln.BuildEvent) error {
			t.Errorf("unexpected event %+v", e)
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, kiln.BuildSucceeded, end.End.Status)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		ada, _ := MustLogin(t, srv, "ada@example.com")
		bob, _ := MustLogin(t, srv, "bob@example.com")
		_, b, err := ada.CreateApp(ctx, kiln.AppCreate{Description: "todo", Name: "todo"})
		require.NoError(t, err)
		_, err = bob.FollowBuild(ctx, b.ID, client.StreamOptions{OnReconnect: func(err error) { t.Errorf("retried %v", err) }},
			func(*kiln.BuildEvent) error { return nil })
		assert.Equal(t, kiln.ENotFound, kiln.ErrorCode(err))
	})

	t.Run("CallbackErrorStops", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		c, _ := MustLogin(t, srv, "ada@example.com")
		_, b, err := c.CreateApp(ctx, kiln.AppCreate{Description: "todo", Name: "todo"})
		require.NoError(t, err)
		stop := errors.New("enough")
		_, err = c.FollowBuild(ctx, b.ID, client.StreamOptions{}, func(*kiln.BuildEvent) error { return stop })
		assert.ErrorIs(t, err, stop)
	})

	t.Run("FollowEventsAndTicket", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		c, _ := MustLogin(t, srv, "ada@example.com")
		_, b1, err := c.CreateApp(ctx, kiln.AppCreate{Description: "first", Name: "one"})
		require.NoError(t, err)
		_, b2, err := c.CreateApp(ctx, kiln.AppCreate{Description: "second", Name: "two"})
		require.NoError(t, err)
		done := errors.New("done")
		var got []int64
		err = c.FollowEvents(ctx, client.StreamOptions{After: 0}, func(e *kiln.BuildEvent) error {
			got = append(got, e.BuildID)
			assert.Equal(t, int64(len(got)), e.UserSeq)
			if len(got) == 2 {
				return done
			}
			return nil
		})
		assert.ErrorIs(t, err, done)
		assert.Equal(t, []int64{b1.ID, b2.ID}, got)

		tk, err := c.CreateStreamTicket(ctx)
		require.NoError(t, err)
		assert.NotEmpty(t, tk.Ticket)
	})
}

// TestFollowBuildReconnects checks the stream's resilience against a
// server that fails, idles and then serves.
func TestFollowBuildReconnects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sse := func(w http.ResponseWriter, events string) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, events)
	}
	const endEvent = "id: 2\ndata: {\"build_id\":7,\"seq\":2,\"kind\":\"end\",\"end\":{\"status\":\"failed\",\"error\":\"boom\"}}\n\nevent: close\ndata: {\"code\":1000,\"reason\":\"build ended\"}\n\n"

	t.Run("UnavailableThenIdleThenServes", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		var lastEventID atomic.Value
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch calls.Add(1) {
			case 1:
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"status":503,"code":"unavailable","detail":"restarting"}`)
			case 2:
				sse(w, "id: 1\ndata: {\"build_id\":7,\"seq\":1,\"kind\":\"log\",\"log\":{\"stream\":\"stdout\",\"text\":\"hi\"}}\n\n")
				w.(http.Flusher).Flush()
				<-r.Context().Done() // then silence: the client must notice
			default:
				lastEventID.Store(r.Header.Get("Last-Event-ID") + " after=" + r.URL.Query().Get("after"))
				sse(w, "id: 1\ndata: {\"build_id\":7,\"seq\":1,\"kind\":\"log\",\"log\":{\"text\":\"dup\"}}\n\n"+endEvent)
			}
		}))
		defer ts.Close()
		c := client.New(ts.URL, client.WithToken("t"))
		var texts []string
		var reasons []string
		end, err := c.FollowBuild(ctx, 7, client.StreamOptions{IdleTimeout: 200 * time.Millisecond, OnReconnect: func(err error) {
			reasons = append(reasons, err.Error())
		}}, func(e *kiln.BuildEvent) error {
			if e.Log != nil {
				texts = append(texts, e.Log.Text)
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, kiln.BuildFailed, end.End.Status)
		assert.Equal(t, "boom", end.End.Error)
		assert.Equal(t, []string{"hi"}, texts, "the repeated event is dropped")
		require.Len(t, reasons, 2)
		assert.Contains(t, reasons[0], "restarting")
		assert.Contains(t, reasons[1], "no data for 200ms")
		assert.Equal(t, "1 after=1", lastEventID.Load())
	})

	t.Run("GivesUp", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}))
		defer ts.Close()
		c := client.New(ts.URL, client.WithToken("t"))
		_, err := c.FollowBuild(ctx, 7, client.StreamOptions{RetryFor: 300 * time.Millisecond}, func(*kiln.BuildEvent) error { return nil })
		require.Error(t, err)
		assert.Contains(t, err.Error(), "gave up reconnecting")
	})

	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sse(w, ": ping\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}))
		defer ts.Close()
		c := client.New(ts.URL, client.WithToken("t"))
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := c.FollowBuild(ctx, 7, client.StreamOptions{}, func(*kiln.BuildEvent) error { return nil })
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}
