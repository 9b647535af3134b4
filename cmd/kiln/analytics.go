package main

import (
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/sqlstore"
)

// wireAnalytics gives the API the analytics services.
func (m *Main) wireAnalytics(cfg *api.Config) {
	cfg.IngestKeys = sqlstore.NewIngestKeyService(m.DB)
}
