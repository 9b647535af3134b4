package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	kiln "github.com/kiln-build/kiln"
)

const maxModelNameLen = 200

// UsageStore implements kiln.UsageStore: the worker's record of
// language-model calls.
type UsageStore struct {
	db *DB
}

var _ kiln.UsageStore = (*UsageStore)(nil)

// NewUsageStore returns the worker's usage store over db.
func NewUsageStore(db *DB) kiln.UsageStore { return &UsageStore{db: db} }

// RecordLLMCall stores one call of a build; the owner is the build's owner
// whatever c says. A call with no build (BuildID 0: a plan preview) belongs
// to c.OwnerID and counts toward that user's month like a build's. It sets
// c.ID, c.OwnerID and, when zero, c.CreatedAt. EInvalid for negative token
// counts or a missing step or model, ENotFound when the build (or, with no
// build, the user) does not exist.
func (s *UsageStore) RecordLLMCall(ctx context.Context, c *kiln.LLMCall) error {
	switch {
	case c.BuildID == 0 && c.OwnerID <= 0:
		return kiln.FieldErrorf("owner_id", "is required for a call outside a build")
	case c.Step == "" || len(c.Step) > maxStepNameLen:
		return kiln.FieldErrorf("step", "must be 1 to %d bytes", maxStepNameLen)
	case c.Model == "":
		return kiln.FieldErrorf("model", "is required")
	case c.PromptTokens < 0 || c.CompletionTokens < 0:
		return kiln.FieldErrorf("tokens", "must not be negative")
	case c.CostUSD < 0 || math.IsNaN(c.CostUSD) || math.IsInf(c.CostUSD, 0):
		return kiln.FieldErrorf("cost_usd", "must be a non-negative number")
	}
	db := s.db
	if c.CreatedAt.IsZero() {
		c.CreatedAt = db.nowUTC()
	}
	c.CreatedAt = normTime(c.CreatedAt)
	if c.BuildID == 0 {
		err := db.write().row(ctx, `INSERT INTO llm_calls (build_id, owner_id, step, model, prompt_tokens, completion_tokens, cost_usd, created_at)
			SELECT NULL, id, ?, ?, ?, ?, ?, ? FROM users WHERE id = ?
			RETURNING id`,
			cleanText(c.Step, maxStepNameLen), cleanText(c.Model, maxModelNameLen), c.PromptTokens, c.CompletionTokens,
			c.CostUSD, db.ts(c.CreatedAt), c.OwnerID).Scan(&c.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return kiln.Errorf(kiln.ENotFound, "user %d not found", c.OwnerID)
		} else if err != nil {
			return fmt.Errorf("record llm call: %w", err)
		}
		return nil
	}
	err := db.write().row(ctx, `INSERT INTO llm_calls (build_id, owner_id, step, model, prompt_tokens, completion_tokens, cost_usd, created_at)
		SELECT id, owner_id, ?, ?, ?, ?, ?, ? FROM builds WHERE id = ?
		RETURNING id, owner_id`,
		cleanText(c.Step, maxStepNameLen), cleanText(c.Model, maxModelNameLen), c.PromptTokens, c.CompletionTokens,
		c.CostUSD, db.ts(c.CreatedAt), c.BuildID).Scan(&c.ID, &c.OwnerID)
	if errors.Is(err, sql.ErrNoRows) {
		return errBuildNotFound(c.BuildID)
	} else if err != nil {
		return fmt.Errorf("record llm call: %w", err)
	}
	return nil
}

// SumUserTokens returns the tokens the user's builds and plan previews
// used since t.
func (s *UsageStore) SumUserTokens(ctx context.Context, ownerID int64, since time.Time) (int64, error) {
	u, err := s.db.sumUsage(ctx, ownerID, since)
	return u.TotalTokens, err
}

// UsageService implements kiln.UsageService.
type UsageService struct {
	db *DB
}

var _ kiln.UsageService = (*UsageService)(nil)

// NewUsageService returns the usage service over db.
func NewUsageService(db *DB) kiln.UsageService { return &UsageService{db: db} }

// FindBuildUsage returns a build's usage per step and model, in the order
// the steps first called the model. ENotFound when the build is not the
// caller's.
func (s *UsageService) FindBuildUsage(ctx context.Context, buildID int64) (*kiln.BuildUsage, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	// One query answers both whether the build is the caller's (no row)
	// and its usage (one row per step and model; one row of NULLs when it
	// made no calls): GET /v1/builds/{id} runs this on every poll.
	cond, args := ownerClause(u, "b.owner_id")
	rows, err := s.db.read().query(ctx, `SELECT l.step, l.model, COUNT(l.id), COALESCE(SUM(l.prompt_tokens), 0),
		COALESCE(SUM(l.completion_tokens), 0), COALESCE(SUM(l.cost_usd), 0)
		FROM builds b LEFT JOIN llm_calls l ON l.build_id = b.id
		WHERE b.id = ? AND `+cond+` GROUP BY l.step, l.model ORDER BY MIN(l.id)`, append([]any{buildID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("find build usage: %w", err)
	}
	defer rows.Close()
	out := &kiln.BuildUsage{Steps: []kiln.StepUsage{}}
	found := false
	for rows.Next() {
		found = true
		var st kiln.StepUsage
		var step, model sql.NullString
		if err := rows.Scan(&step, &model, &st.Calls, &st.PromptTokens, &st.CompletionTokens, &st.CostUSD); err != nil {
			return nil, fmt.Errorf("find build usage: %w", err)
		}
		if !step.Valid {
			continue // the build made no calls
		}
		st.Step, st.Model = step.String, model.String
		st.TotalTokens = st.PromptTokens + st.CompletionTokens
		out.Steps = append(out.Steps, st)
		out.Total.Calls += st.Calls
		out.Total.PromptTokens += st.PromptTokens
		out.Total.CompletionTokens += st.CompletionTokens
		out.Total.TotalTokens += st.TotalTokens
		out.Total.CostUSD += st.CostUSD
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find build usage: %w", err)
	}
	if !found {
		return nil, errBuildNotFound(buildID)
	}
	return out, nil
}

// SumUsage returns what the caller's builds and plan previews used since t.
func (s *UsageService) SumUsage(ctx context.Context, since time.Time) (kiln.TokenUsage, error) {
	u, err := actor(ctx)
	if err != nil {
		return kiln.TokenUsage{}, err
	}
	return s.db.sumUsage(ctx, u.ID, since)
}

// sumUsage returns what the owner's builds and plan previews used since t.
func (db *DB) sumUsage(ctx context.Context, ownerID int64, since time.Time) (kiln.TokenUsage, error) {
	var out kiln.TokenUsage
	err := db.read().row(ctx, `SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0)
		FROM llm_calls WHERE owner_id = ? AND created_at >= ?`, ownerID, db.ts(since)).
		Scan(&out.Calls, &out.PromptTokens, &out.CompletionTokens, &out.CostUSD)
	if err != nil {
		return kiln.TokenUsage{}, fmt.Errorf("sum llm usage: %w", err)
	}
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	return out, nil
}
