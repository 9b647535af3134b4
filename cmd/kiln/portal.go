package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/portal"
	"github.com/kiln-build/kiln/sqlstore"
)

// startPortal returns the server's handler: the web portal at / beside the
// API, which the portal calls in-process. It also starts pruning expired
// portal sessions.
func (m *Main) startPortal(ctx context.Context, baseURL string) (http.Handler, error) {
	sessions := sqlstore.NewWebSessionStore(m.DB)
	p, err := portal.New(portal.Config{
		API: m.Server, Sessions: sessions, BaseURL: baseURL, Logger: m.Logger,
		// The dev mailbox exists only with the log sender.
		Dev: m.Config.Dev && m.Mailer != nil,
	})
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if _, err := sessions.DeleteExpiredWebSessions(ctx, time.Now()); err != nil && ctx.Err() == nil {
				m.Logger.Warn("prune portal sessions", slog.Any("error", err))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p.Handler(), nil
}

// previewPlanner is the planner behind POST /v1/plan: the one builds use
// (rules offline, or the configured model), so a previewed plan is what a
// build of the description would plan. Model calls made for previews are
// not charged to a build's token budget; with llm.cache on they share the
// builds' answer cache, so a build of a previewed description plans from it.
func (m *Main) previewPlanner() (api.Planner, error) {
	p, steps, err := llmSetup(m.Config, m.Logger, nil, filepath.Join(m.Config.DataDir, "cache", "llm"))
	if err != nil {
		return nil, err
	}
	if steps != nil {
		return meteredPlanner{inner: p, usage: sqlstore.NewUsageStore(m.DB), build: steps.BuildTokens, month: steps.MonthTokens}, nil
	}
	return p, nil
}
