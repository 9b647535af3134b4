package portal

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// inprocTransport is an http.RoundTripper that serves requests with an
// http.Handler in the same process: the portal calls the REST API through
// package client without a network hop. The handler runs in its own
// goroutine and writes the body into a pipe, so large downloads stream
// instead of being buffered.
type inprocTransport struct {
	h http.Handler
}

type remoteAddrKey struct{}

// withRemoteAddr makes in-process API calls made with ctx appear to come
// from the browser's address (the API rate-limits logins by it).
func withRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

// errHandlerAborted is what a reader of the body sees when the handler
// aborted the response (panic(http.ErrAbortHandler)), e.g. because an
// artifact failed its checksum while streaming.
var errHandlerAborted = errors.New("the API aborted the response")

// RoundTrip implements http.RoundTripper.
func (t inprocTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	r := req.Clone(ctx)
	r.RemoteAddr = "127.0.0.1:0"
	if a, ok := ctx.Value(remoteAddrKey{}).(string); ok && a != "" {
		r.RemoteAddr = a
	}
	r.RequestURI = r.URL.RequestURI()
	if r.Body == nil {
		r.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeResponse{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				// The API's middleware recovers everything except an
				// abort, which means "cut the body short".
				w.start(http.StatusInternalServerError)
				_ = pw.CloseWithError(errHandlerAborted)
				return
			}
			w.start(http.StatusOK)
			_ = pw.Close()
		}()
		t.h.ServeHTTP(w, r)
	}()
	select {
	case <-w.ready:
	case <-ctx.Done():
		_ = pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	resp := &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          pr,
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		resp.ContentLength = n
	}
	return resp, nil
}

// pipeResponse is the http.ResponseWriter the handler writes to.
type pipeResponse struct {
	header http.Header
	pw     *io.PipeWriter

	once   sync.Once
	ready  chan struct{}
	status int
	sent   http.Header // the header as it was when the status was sent
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) start(status int) {
	w.once.Do(func() {
		w.status = status
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeResponse) WriteHeader(status int) {
	if status >= 100 && status < 200 {
		return // informational answers are not passed on
	}
	w.start(status)
}

func (w *pipeResponse) Write(b []byte) (int, error) {
	w.start(http.StatusOK)
	return w.pw.Write(b)
}

// Flush implements http.Flusher; writes reach the reader as they happen.
func (w *pipeResponse) Flush() {}
