package client

import (
	"context"
	"fmt"

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
