package api

import (
	"context"

	kiln "github.com/kiln-build/kiln"
)

// buildUsage returns a build's language-model usage, or nil when the
// server records none.
func (s *Server) buildUsage(ctx context.Context, buildID int64) (*kiln.BuildUsage, error) {
	if s.cfg.Usage == nil {
		return nil, nil
	}
	return s.cfg.Usage.FindBuildUsage(ctx, buildID)
}
