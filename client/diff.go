package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/kiln-build/kiln"
)

// DiffBuilds returns the changes in the generated files from build against
// to build id (GET /v1/builds/{id}/diff?against=AGAINST). ENotFound when
// either build is absent or not the caller's; EConflict when one has no
// stored source archive.
func (c *Client) DiffBuilds(ctx context.Context, id, against int64) (*kiln.BuildDiff, error) {
	q := url.Values{"against": {strconv.FormatInt(against, 10)}}
	var out kiln.BuildDiff
	if err := c.do(ctx, request{method: "GET", path: buildPath(id) + "/diff", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
