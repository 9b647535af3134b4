package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/analytics"
)

// Ingester stores the events of an ingest request; analytics.Ingester
// implements it.
type Ingester interface {
	Ingest(ctx context.Context, secret string, body []byte, contentEncoding string) (*kiln.IngestResult, error)
}

type ingestInput struct {
	Authorization   string `header:"Authorization" doc:"Bearer and the app's ingest key (kiln_ik_…)."`
	AppKey          string `header:"X-Kiln-App-Key" doc:"The ingest key, as an alternative to Authorization."`
	ContentEncoding string `header:"Content-Encoding" doc:"gzip, or absent for an uncompressed body."`
	RawBody         []byte `contentType:"application/json"`
}

type ingestOutput struct {
	Body *kiln.IngestResult
}

type summaryInput struct {
	ID       int64  `path:"id" minimum:"1" doc:"App id."`
	From     string `query:"from" doc:"Start of the range, RFC 3339 (default: 24 hours before to). Floored to the interval."`
	To       string `query:"to" doc:"End of the range, RFC 3339, exclusive (default: now). Rounded up to the interval."`
	Interval string `query:"interval" enum:"minute,hour,day," doc:"Bucket width (default hour)."`
	Event    string `query:"event" maxLength:"100" doc:"Only this event name (top events still list every name)."`
	Top      int    `query:"top" minimum:"0" maximum:"100" doc:"How many top events and values per property (default 10)."`
}

type summaryOutput struct{ Body *kiln.Summary }

func (s *Server) registerAnalytics() {
	s.api.OpenAPI().Components.SecuritySchemes["ingestKey"] = &huma.SecurityScheme{
		Type: "http", Scheme: "bearer", Description: "An app's ingest key (kiln_ik_…), also accepted in X-Kiln-App-Key.",
	}
	o := op("ingest-events", http.MethodPost, "/v1/ingest", "Send an app's analytics events", "analytics", false)
	o.Security = []map[string][]string{{"ingestKey": {}}}
	o.DefaultStatus = http.StatusAccepted
	o.MaxBodyBytes = kiln.MaxIngestBytes + 1
	o.SkipValidateBody = true // the body is read by the ingester: JSON, NDJSON or gzip
	o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/x-ndjson": {Schema: &huma.Schema{Type: "string", Format: "binary"}},
	}}
	o.Description = "A JSON array of events or NDJSON (one event per line), optionally gzip-compressed, " +
		"up to 1,000 events and 1 MiB (also after decompression). An event: " +
		"`{\"name\", \"timestamp\" (RFC 3339), \"user_id\"?, \"session_id\"?, \"value\"? (number), \"properties\"? (flat: string, number or boolean values)}`. " +
		"202 means the accepted events are committed to storage; refused events are listed by index with the reasons. " +
		"When no event is valid the answer is 422 naming each problem; 401 for a bad key, 413 for a body too large, 429 past the key's rate limit."
	huma.Register(s.api, o, func(ctx context.Context, in *ingestInput) (*ingestOutput, error) {
		secret := strings.TrimSpace(in.AppKey)
		if secret == "" {
			if scheme, tok, ok := strings.Cut(in.Authorization, " "); ok && strings.EqualFold(scheme, "bearer") {
				secret = strings.TrimSpace(tok)
			}
		}
		if s.cfg.Ingester == nil {
			return nil, s.err.problem(ctx, errNoAnalytics())
		}
		res, err := s.cfg.Ingester.Ingest(ctx, secret, in.RawBody, in.ContentEncoding)
		if err != nil {
			return nil, s.ingestProblem(ctx, err)
		}
		return &ingestOutput{Body: res}, nil
	})

	huma.Register(s.api, op("get-analytics-summary", http.MethodGet, "/v1/apps/{id}/analytics/summary", "Summarize an app's analytics events", "analytics", true),
		func(ctx context.Context, in *summaryInput) (*summaryOutput, error) {
			q := kiln.SummaryQuery{Interval: kiln.Interval(in.Interval), Event: in.Event, Top: in.Top}
			var err error
			q.To = time.Now()
			if in.To != "" {
				if q.To, err = time.Parse(time.RFC3339Nano, in.To); err != nil {
					return nil, s.err.problem(ctx, kiln.FieldErrorf("query.to", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"))
				}
			}
			q.From = q.To.Add(-24 * time.Hour)
			if in.From != "" {
				if q.From, err = time.Parse(time.RFC3339Nano, in.From); err != nil {
					return nil, s.err.problem(ctx, kiln.FieldErrorf("query.from", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"))
				}
			}
			if s.cfg.Analytics == nil {
				return nil, s.err.problem(ctx, errNoAnalytics())
			}
			sum, err := s.cfg.Analytics.Summary(ctx, in.ID, q)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			return &summaryOutput{Body: sum}, nil
		})
}

// ingestProblem is problem for ingest errors: a malformed body is 400 and
// the refused events of an all-invalid batch keep their body[i] location.
func (s *Server) ingestProblem(ctx context.Context, err error) error {
	var me *analytics.MalformedError
	if errors.As(err, &me) {
		p := newProblem(http.StatusBadRequest, CodeMalformed, me.Msg)
		p.RequestID = RequestIDFromContext(ctx)
		return p
	}
	var ke *kiln.Error
	if errors.As(err, &ke) && ke.Code == kiln.EInvalid && len(ke.Fields) > 0 {
		p := newProblem(http.StatusUnprocessableEntity, kiln.EInvalid, ke.Message)
		p.RequestID = RequestIDFromContext(ctx)
		for _, f := range ke.Fields {
			p.Errors = append(p.Errors, &huma.ErrorDetail{Location: f.Path, Message: f.Message})
		}
		return p
	}
	if kiln.ErrorCode(err) == kiln.EUnauthorized {
		p := s.err.problem(ctx, err).(*Problem)
		p.headers = map[string]string{"WWW-Authenticate": `Bearer realm="kiln-ingest"`}
		return p
	}
	return s.err.problem(ctx, err)
}
