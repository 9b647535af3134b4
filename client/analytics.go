package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kiln-build/kiln"
)

func ingestKeysPath(appID int64) string { return fmt.Sprintf("/v1/apps/%d/ingest-keys", appID) }

// CreateIngestKey creates an ingest key for an app (POST
// /v1/apps/{id}/ingest-keys) and returns it with its secret, which the
// server never shows again. ENotFound unless the caller owns the app.
func (c *Client) CreateIngestKey(ctx context.Context, appID int64, in kiln.IngestKeyCreate) (*kiln.IngestKey, string, error) {
	var out struct {
		Key    *kiln.IngestKey `json:"key"`
		Secret string          `json:"secret"`
	}
	err := c.do(ctx, request{method: "POST", path: ingestKeysPath(appID),
		body: struct {
			Name      string `json:"name,omitempty"`
			RateLimit int    `json:"rate_limit,omitempty"`
		}{in.Name, in.RateLimit}}, &out)
	if err != nil {
		return nil, "", err
	}
	return out.Key, out.Secret, nil
}

// ListIngestKeys lists an app's ingest keys, oldest first, without their
// secrets (GET /v1/apps/{id}/ingest-keys).
func (c *Client) ListIngestKeys(ctx context.Context, appID int64) ([]*kiln.IngestKey, error) {
	var out struct {
		Items []*kiln.IngestKey `json:"items"`
	}
	if err := c.do(ctx, request{method: "GET", path: ingestKeysPath(appID)}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// RotateIngestKey gives a key a new secret and returns it (POST
// /v1/apps/{id}/ingest-keys/{key_id}/rotate); the old secret is refused
// from then on.
func (c *Client) RotateIngestKey(ctx context.Context, appID, keyID int64) (*kiln.IngestKey, string, error) {
	var out struct {
		Key    *kiln.IngestKey `json:"key"`
		Secret string          `json:"secret"`
	}
	err := c.do(ctx, request{method: "POST", path: fmt.Sprintf("%s/%d/rotate", ingestKeysPath(appID), keyID)}, &out)
	if err != nil {
		return nil, "", err
	}
	return out.Key, out.Secret, nil
}

// RevokeIngestKey deletes a key (DELETE /v1/apps/{id}/ingest-keys/{key_id});
// its secret is refused at once.
func (c *Client) RevokeIngestKey(ctx context.Context, appID, keyID int64) error {
	return c.do(ctx, request{method: "DELETE", path: fmt.Sprintf("%s/%d", ingestKeysPath(appID), keyID)}, nil)
}

// Ingest sends a batch of events with an app's ingest key (POST
// /v1/ingest): body is a JSON array or NDJSON of at most MaxIngestEvents
// events, gzip-compressed when gzipped is set. It returns once the server
// has committed the accepted events. The caller's own credentials are not
// sent. EUnauthorized for a bad key, ETooLarge, ERateLimited (RetryAfter
// set), EInvalid when no event is valid.
func (c *Client) Ingest(ctx context.Context, key string, body []byte, gzipped bool) (*kiln.IngestResult, error) {
	var out kiln.IngestResult
	err := c.do(ctx, request{method: "POST", path: "/v1/ingest", anon: true, opts: []CallOption{func(r *http.Request) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", "application/x-ndjson")
		if gzipped {
			r.Header.Set("Content-Encoding", "gzip")
		}
		r.Header.Set("Authorization", "Bearer "+key)
	}}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AnalyticsSummary returns a summary of an app's events (GET
// /v1/apps/{id}/analytics/summary). Zero times take the server's defaults
// (the 24 hours before now). ENotFound unless the caller owns the app.
func (c *Client) AnalyticsSummary(ctx context.Context, appID int64, q kiln.SummaryQuery) (*kiln.Summary, error) {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339Nano))
	}
	if q.Interval != "" {
		v.Set("interval", string(q.Interval))
	}
	if q.Event != "" {
		v.Set("event", q.Event)
	}
	if q.Top != 0 {
		v.Set("top", strconv.Itoa(q.Top))
	}
	var out kiln.Summary
	if err := c.do(ctx, request{method: "GET", path: fmt.Sprintf("/v1/apps/%d/analytics/summary", appID), query: v}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
