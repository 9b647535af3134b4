package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-build/kiln"
)

// GetBuild returns a build and its steps in order (GET /v1/builds/{id}).
// ENotFound when absent or not the caller's.
func (c *Client) GetBuild(ctx context.Context, id int64) (*kiln.Build, []*kiln.Step, error) {
	var out struct {
		Build *kiln.Build  `json:"build"`
		Steps []*kiln.Step `json:"steps"`
	}
	if err := c.do(ctx, request{method: "GET", path: buildPath(id)}, &out); err != nil {
		return nil, nil, err
	}
	if out.Build == nil {
		return nil, nil, fmt.Errorf("GET %s: response has no build", buildPath(id))
	}
	return out.Build, out.Steps, nil
}

// CancelBuild asks a build to stop (POST /v1/builds/{id}/cancel) and returns
// it. EConflict when it has already ended.
func (c *Client) CancelBuild(ctx context.Context, id int64) (*kiln.Build, error) {
	var out kiln.Build
	if err := c.do(ctx, request{method: "POST", path: buildPath(id) + "/cancel"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LogPage is one page of a build's log.
type LogPage struct {
	Items []*kiln.LogLine `json:"items"`
	// NextAfter is the sequence number to pass as after for the next page.
	NextAfter int64 `json:"next_after"`
	// BuildStatus is the build's status when the page was read.
	BuildStatus kiln.BuildStatus `json:"build_status"`
}

// Logs returns up to limit log lines with Seq > after (GET
// /v1/builds/{id}/logs); limit 0 lets the server choose.
func (c *Client) Logs(ctx context.Context, buildID, after int64, limit int) (*LogPage, error) {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out LogPage
	if err := c.do(ctx, request{method: "GET", path: buildPath(buildID) + "/logs", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FollowOptions tunes FollowLogs.
type FollowOptions struct {
	After    int64         // start after this sequence number
	Interval time.Duration // poll interval when no new lines came; default 300 ms
	Limit    int           // lines per request; default 500
	// Retries is how many consecutive transient failures (server
	// unreachable, 5xx) are retried before giving up; default 5.
	Retries int
}

// FollowLogs polls a build's log and calls fn for every line in order until
// the build has ended and no lines remain, then returns its final status.
// It stops with fn's error, or ctx's when ctx ends.
func (c *Client) FollowLogs(ctx context.Context, buildID int64, o FollowOptions, fn func(*kiln.LogLine) error) (kiln.BuildStatus, error) {
	if o.Interval <= 0 {
		o.Interval = 300 * time.Millisecond
	}
	if o.Limit <= 0 {
		o.Limit = 500
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	after, failures := o.After, 0
	for {
		page, err := c.Logs(ctx, buildID, after, o.Limit)
		if err != nil {
			if !transient(err) || failures >= o.Retries {
				return "", err
			}
			failures++
			if err := sleep(ctx, o.Interval*time.Duration(1<<failures)); err != nil {
				return "", err
			}
			continue
		}
		failures = 0
		for _, l := range page.Items {
			if l.Seq <= after {
				continue // never print a line twice, whatever the server sends
			}
			if err := fn(l); err != nil {
				return "", err
			}
			after = l.Seq
		}
		if page.NextAfter > after {
			after = page.NextAfter
		}
		// Lines may land between the server reading the log and the
		// status, so stop only after a terminal page with no lines.
		if page.BuildStatus.Terminal() && len(page.Items) == 0 {
			return page.BuildStatus, nil
		}
		if len(page.Items) < o.Limit && !page.BuildStatus.Terminal() {
			if err := sleep(ctx, o.Interval); err != nil {
				return "", err
			}
		}
	}
}

func transient(err error) bool {
	var ce *Error
	if !errors.As(err, &ce) {
		return false
	}
	return ce.Code == kiln.EUnavailable || ce.Status >= 500
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ListArtifacts lists a build's artifacts (GET /v1/builds/{id}/artifacts).
func (c *Client) ListArtifacts(ctx context.Context, buildID int64) ([]*kiln.Artifact, error) {
	var out struct {
		Items []*kiln.Artifact `json:"items"`
	}
	if err := c.do(ctx, request{method: "GET", path: buildPath(buildID) + "/artifacts"}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Download describes a downloaded artifact.
type Download struct {
	Filename string // from Content-Disposition, reduced to a safe base name ("" when none)
	Size     int64  // bytes written
	SHA256   string // hex digest, verified against X-Checksum-Sha256
}

// ErrChecksum is wrapped by DownloadArtifact when the bytes do not match
// the checksum the server announced.
var ErrChecksum = errors.New("checksum mismatch")

// DownloadArtifact streams an artifact's bytes to w (GET
// /v1/artifacts/{id}/content) and verifies them against the
// X-Checksum-Sha256 header. On a checksum mismatch, a missing checksum or a
// short body it returns an error after w has received bytes: write to a
// temporary file and discard it on error.
func (c *Client) DownloadArtifact(ctx context.Context, id int64, w io.Writer) (*Download, error) {
	path := fmt.Sprintf("/v1/artifacts/%d/content", id)
	resp, err := c.send(ctx, request{method: "GET", path: path})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	want, err := parseChecksum(resp.Header.Get("X-Checksum-Sha256"))
	if err != nil {
		return nil, fmt.Errorf("download artifact %d: %w", id, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return nil, fmt.Errorf("download artifact %d: %w", id, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, fmt.Errorf("download artifact %d: got %d of %d bytes", id, n, resp.ContentLength)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != want {
		return nil, fmt.Errorf("download artifact %d: %w: server announced sha256 %s, received %s", id, ErrChecksum, want, got)
	}
	d := &Download{Size: n, SHA256: got}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		d.Filename = SafeFilename(params["filename"])
	}
	return d, nil
}

// parseChecksum accepts a SHA-256 digest in hex (optionally "sha256:"
// prefixed) or base64 and returns it as lowercase hex.
func parseChecksum(v string) (string, error) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(strings.TrimPrefix(v, "sha256:"), "sha256=")
	if v == "" {
		return "", errors.New("server sent no X-Checksum-Sha256")
	}
	if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
		return strings.ToLower(v), nil
	}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) == sha256.Size {
		return hex.EncodeToString(b), nil
	}
	return "", fmt.Errorf("malformed X-Checksum-Sha256 %q", clean(v))
}

// SafeFilename reduces a server-suggested file name to a base name that
// cannot leave the directory it is written to: no path separators, no
// control characters, not "." or "..". It returns "" when nothing is left.
func SafeFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(clean(name))
	name = strings.TrimLeft(name, ".")
	if len(name) > 200 {
		name = strings.ToValidUTF8(name[:200], "")
	}
	if name == "" || strings.ContainsAny(name, ":*?\"<>|") {
		return ""
	}
	return name
}

// ArtifactStream is an artifact's content as it arrives (OpenArtifact),
// with what the server announced about it. Reading it to the end checks
// the bytes: the Read that reaches the end returns an error wrapping
// ErrChecksum when they differ from the announced SHA-256, or
// io.ErrUnexpectedEOF when fewer than Size bytes came.
type ArtifactStream struct {
	io.ReadCloser
	Filename string // from Content-Disposition, reduced by SafeFilename ("" when none)
	Size     int64  // from Content-Length; -1 when not announced
	SHA256   string // hex digest from X-Checksum-Sha256
}

// OpenArtifact starts downloading an artifact (GET
// /v1/artifacts/{id}/content) for a caller that passes the bytes on as they
// come, such as a proxy. The caller must Close the stream.
func (c *Client) OpenArtifact(ctx context.Context, id int64) (*ArtifactStream, error) {
	path := fmt.Sprintf("/v1/artifacts/%d/content", id)
	resp, err := c.send(ctx, request{method: "GET", path: path})
	if err != nil {
		return nil, err
	}
	want, err := parseChecksum(resp.Header.Get("X-Checksum-Sha256"))
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("open artifact %d: %w", id, err)
	}
	as := &ArtifactStream{Size: resp.ContentLength, SHA256: want}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		as.Filename = SafeFilename(params["filename"])
	}
	as.ReadCloser = &verifyingReader{rc: resp.Body, h: sha256.New(), want: want, size: resp.ContentLength, id: id}
	return as, nil
}

// verifyingReader hashes what it reads and checks it at the end.
type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	n    int64
	want string
	size int64
	id   int64
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if v.size >= 0 && v.n != v.size {
			return n, fmt.Errorf("artifact %d: got %d of %d bytes: %w", v.id, v.n, v.size, io.ErrUnexpectedEOF)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("artifact %d: %w: server announced sha256 %s, received %s", v.id, ErrChecksum, v.want, got)
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }
