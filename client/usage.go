package client

import (
	"context"
	"fmt"

	"github.com/kiln-build/kiln"
)

// BuildDetail is a build with its steps and, when the server records it,
// the language-model usage of its steps.
type BuildDetail struct {
	Build    *kiln.Build      `json:"build"`
	Steps    []*kiln.Step     `json:"steps"`
	LLMUsage *kiln.BuildUsage `json:"llm_usage,omitempty"`
}

// GetBuildDetail returns a build with its steps and token usage (GET
// /v1/builds/{id}). ENotFound when absent or not the caller's.
func (c *Client) GetBuildDetail(ctx context.Context, id int64) (*BuildDetail, error) {
	var out BuildDetail
	if err := c.do(ctx, request{method: "GET", path: buildPath(id)}, &out); err != nil {
		return nil, err
	}
	if out.Build == nil {
		return nil, fmt.Errorf("GET %s: response has no build", buildPath(id))
	}
	return &out, nil
}
