package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

type ingestKeyCreateInput struct {
	ID   int64 `path:"id" minimum:"1" doc:"App id."`
	Body *struct {
		Name      string `json:"name,omitempty" maxLength:"64" doc:"A label for the key (default \"default\")."`
		RateLimit int    `json:"rate_limit,omitempty" minimum:"0" maximum:"1000000" doc:"Events per second the key may send; 0 or absent means the server's default."`
	} `required:"false"`
}

type ingestKeyPath struct {
	ID    int64 `path:"id" minimum:"1" doc:"App id."`
	KeyID int64 `path:"key_id" minimum:"1" doc:"Ingest key id."`
}

// IngestKeySecret is a key with its secret, answered once at creation and
// at each rotation.
type IngestKeySecret struct {
	Key    *kiln.IngestKey `json:"key"`
	Secret string          `json:"secret" doc:"The secret, shown only now: the app sends it as Authorization: Bearer <secret> (or X-Kiln-App-Key) to POST /v1/ingest."`
}

type ingestKeySecretOutput struct{ Body IngestKeySecret }

type ingestKeyListOutput struct {
	Body struct {
		Items []*kiln.IngestKey `json:"items"`
	}
}

func (s *Server) registerIngestKeys() {
	o := op("create-ingest-key", http.MethodPost, "/v1/apps/{id}/ingest-keys", "Create an ingest key for an app", "analytics", true)
	o.DefaultStatus = http.StatusCreated
	o.Description = "Creates a key the app sends analytics events with. The secret is in this answer only; Kiln keeps its hash. Only the app's owner manages its keys."
	huma.Register(s.api, o, func(ctx context.Context, in *ingestKeyCreateInput) (*ingestKeySecretOutput, error) {
		var kc kiln.IngestKeyCreate
		if in.Body != nil {
			kc = kiln.IngestKeyCreate{Name: in.Body.Name, RateLimit: in.Body.RateLimit}
		}
		k, secret, err := s.ingestKeys().CreateIngestKey(ctx, in.ID, kc)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &ingestKeySecretOutput{Body: IngestKeySecret{Key: k, Secret: secret}}, nil
	})

	huma.Register(s.api, op("list-ingest-keys", http.MethodGet, "/v1/apps/{id}/ingest-keys", "List an app's ingest keys", "analytics", true),
		func(ctx context.Context, in *IDPath) (*ingestKeyListOutput, error) {
			keys, err := s.ingestKeys().FindIngestKeys(ctx, in.ID)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			out := &ingestKeyListOutput{}
			out.Body.Items = nonNil(keys)
			return out, nil
		})

	o = op("rotate-ingest-key", http.MethodPost, "/v1/apps/{id}/ingest-keys/{key_id}/rotate", "Give an ingest key a new secret", "analytics", true)
	o.Description = "The old secret is refused from the moment this answers; the new one is in this answer only."
	huma.Register(s.api, o, func(ctx context.Context, in *ingestKeyPath) (*ingestKeySecretOutput, error) {
		k, secret, err := s.ingestKeys().RotateIngestKey(ctx, in.ID, in.KeyID)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &ingestKeySecretOutput{Body: IngestKeySecret{Key: k, Secret: secret}}, nil
	})

	o = op("revoke-ingest-key", http.MethodDelete, "/v1/apps/{id}/ingest-keys/{key_id}", "Revoke an ingest key", "analytics", true)
	o.DefaultStatus = http.StatusNoContent
	o.Description = "Deletes the key; its secret is refused at once."
	huma.Register(s.api, o, func(ctx context.Context, in *ingestKeyPath) (*struct{}, error) {
		if err := s.ingestKeys().RevokeIngestKey(ctx, in.ID, in.KeyID); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return nil, nil
	})
}

// ingestKeys returns the configured service, or one that answers
// "unavailable" so a server built without analytics still describes it.
func (s *Server) ingestKeys() kiln.IngestKeyService {
	if s.cfg.IngestKeys != nil {
		return s.cfg.IngestKeys
	}
	return noIngestKeys{}
}

type noIngestKeys struct{}

func errNoAnalytics() error {
	return kiln.Errorf(kiln.EUnavailable, "analytics is not enabled on this server")
}

func (noIngestKeys) CreateIngestKey(context.Context, int64, kiln.IngestKeyCreate) (*kiln.IngestKey, string, error) {
	return nil, "", errNoAnalytics()
}
func (noIngestKeys) FindIngestKeys(context.Context, int64) ([]*kiln.IngestKey, error) {
	return nil, errNoAnalytics()
}
func (noIngestKeys) RotateIngestKey(context.Context, int64, int64) (*kiln.IngestKey, string, error) {
	return nil, "", errNoAnalytics()
}
func (noIngestKeys) RevokeIngestKey(context.Context, int64, int64) error { return errNoAnalytics() }
func (noIngestKeys) AuthenticateIngestKey(context.Context, string) (*kiln.IngestKey, error) {
	return nil, errNoAnalytics()
}
