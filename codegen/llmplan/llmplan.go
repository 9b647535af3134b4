// Package llmplan is the language-model planner: it asks a model for an
// AppSpec as a structured answer (JSON Schema, falling back to JSON mode
// and then to plain text on servers that support neither), checks the
// answer with the same validation as the rules planner's
// (kiln.ParseSpec), and re-asks with the validation errors a bounded
// number of times before it fails with a clear reason.
package llmplan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/llm"
	"github.com/kiln-build/kiln/templates"
)

// DefaultReasks is how many times Plan asks again after an unusable answer.
const DefaultReasks = 2

// maxDescriptionLen is the longest description, in bytes, sent to a model.
const maxDescriptionLen = 16 << 10

// maxEcho bounds how much of an unusable answer is sent back with a re-ask.
const maxEcho = 16 << 10

// Completer is what the planner needs of a model client; *llm.Client
// satisfies it.
type Completer interface {
	Complete(ctx context.Context, req llm.Request) (*llm.Response, error)
}

// Prompts renders a template set's prompt templates; *templates.Set
// satisfies it.
type Prompts interface {
	RenderPrompt(name string, vars any) (string, error)
}

// Planner plans with a language model. It implements codegen.Planner with
// the embedded go-api prompts, and PlanWithPrompts with a build's own
// template set. It is safe for concurrent use.
type Planner struct {
	Client Completer
	// Prompts are the default prompt templates (nil: the embedded go-api set).
	Prompts Prompts
	// Reasks is how many times to ask again after an answer that is not a
	// valid spec (0: DefaultReasks; negative: never).
	Reasks int

	mu     sync.Mutex
	format llm.Format // the best format the server accepted so far
	fmtSet bool
}

// PlanVars are the variables of the "plan" prompt.
type PlanVars struct {
	Description string
	FieldTypes  []string
	MaxEntities int
	MaxFields   int
	Features    []string
}

// FixVars are the variables of the "fix" prompt.
type FixVars struct {
	Problem string
	Expect  string
	Attempt int
}

// Name returns "llm", the planner's name in a build's provenance.
func (p *Planner) Name() string { return "llm" }

// Plan implements codegen.Planner with the planner's default prompts.
func (p *Planner) Plan(ctx context.Context, description string) (*kiln.AppSpec, error) {
	prompts := p.Prompts
	if prompts == nil {
		set, err := templates.Open("")
		if err != nil {
			return nil, err
		}
		prompts = set
	}
	return p.PlanWithPrompts(ctx, prompts, description)
}

// PlanWithSet implements codegen.SetPlanner: Plan with the prompts of set.
func (p *Planner) PlanWithSet(ctx context.Context, set *templates.Set, description string) (*kiln.AppSpec, error) {
	return p.PlanWithPrompts(ctx, set, description)
}

// PlanWithPrompts asks the model for the AppSpec the description asks for,
// with the "plan" and "fix" prompts of prompts. The spec it returns passes
// kiln.ParseSpec. It returns an EInvalid *kiln.Error when the description
// is empty or too long, or when the model says it names nothing an app
// could store; an EBuildFailed *kiln.Error when the model gives no valid
// spec within the allowed answers or the model call fails (bad key, unknown
// model, budget spent …); ctx's error when ctx ends.
func (p *Planner) PlanWithPrompts(ctx context.Context, prompts Prompts, description string) (*kiln.AppSpec, error) {
	description = strings.TrimSpace(description)
	switch {
	case description == "":
		return nil, kiln.FieldErrorf("description", "is empty: say what the app should store")
	case len(description) > maxDescriptionLen:
		return nil, kiln.FieldErrorf("description", "is longer than %d bytes", maxDescriptionLen)
	case !utf8.ValidString(description):
		return nil, kiln.FieldErrorf("description", "is not valid UTF-8")
	}
	types := make([]string, len(kiln.FieldTypes))
	for i, t := range kiln.FieldTypes {
		types[i] = string(t)
	}
	prompt, err := prompts.RenderPrompt("plan", PlanVars{
		Description: description, FieldTypes: types,
		MaxEntities: kiln.MaxEntities, MaxFields: kiln.MaxFields, Features: kiln.Features,
	})
	if err != nil {
		return nil, fmt.Errorf("llm planner: %w", err)
	}
	reasks := p.Reasks
	if reasks == 0 {
		reasks = DefaultReasks
	}
	reasks = max(reasks, 0)
	msgs := []llm.Message{{Role: llm.RoleUser, Content: prompt}}
	var problem string
	answers := 0
	for answers <= reasks {
		format := p.currentFormat()
		resp, err := p.Client.Complete(ctx, llm.Request{Messages: msgs, Format: format, Schema: responseSchema, SchemaName: "app_spec"})
		var le *llm.Error
		switch {
		case err != nil && errors.As(err, &le) && le.Kind == llm.KindFormat && format != llm.FormatText:
			p.downgrade(format)
			continue // the same question in a format the server takes
		case err != nil && errors.As(err, &le) && le.Kind == llm.KindResponse && resp != nil:
			// Cut off: the partial answer is a problem to re-ask about.
			problem = le.Message + "; give a shorter answer"
		case err != nil:
			return nil, llm.BuildError(err)
		default:
			var spec *kiln.AppSpec
			var refusal string
			spec, refusal, problem = parse(resp.Content)
			if refusal != "" {
				return nil, kiln.FieldErrorf("description", "the model could not plan an app from it: %s", refusal)
			}
			if spec != nil {
				return spec, nil
			}
		}
		answers++
		echo := ""
		if resp != nil {
			echo = llm.Truncate(resp.Content, maxEcho)
		}
		fix, err := prompts.RenderPrompt("fix", FixVars{Problem: problem, Expect: "one AppSpec JSON object", Attempt: answers + 1})
		if err != nil {
			return nil, fmt.Errorf("llm planner: %w", err)
		}
		msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: echo}, llm.Message{Role: llm.RoleUser, Content: fix})
	}
	return nil, kiln.Errorf(kiln.EBuildFailed, "llm planner: the model gave no valid app spec in %d answers; the last one: %s", answers, oneLine(problem, 500))
}

func (p *Planner) currentFormat() llm.Format {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.fmtSet {
		return llm.FormatJSONSchema
	}
	return p.format
}

// downgrade remembers that the server refused format: JSON Schema → JSON
// mode → plain text, validated all the same.
func (p *Planner) downgrade(from llm.Format) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := llm.FormatText
	if from == llm.FormatJSONSchema {
		next = llm.FormatJSONObject
	}
	if !p.fmtSet || next < p.format {
		p.format, p.fmtSet = next, true
	}
}

// parse reads a model's answer. It returns the spec when the answer is a
// valid AppSpec, the model's reason when it answered {"error": "…"}, and
// otherwise what is wrong, in words a model can act on.
func parse(answer string) (spec *kiln.AppSpec, refusal, problem string) {
	body := []byte(stripFence(answer))
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err == nil && len(probe) == 1 {
		if raw, ok := probe["error"]; ok {
			var msg string
			if json.Unmarshal(raw, &msg) == nil && strings.TrimSpace(msg) != "" {
				return nil, oneLine(msg, 300), ""
			}
		}
	}
	spec, err := kiln.ParseSpec(body)
	if err != nil {
		return nil, "", describe(err)
	}
	if !slices.Contains(spec.Features, kiln.FeatureUI) {
		// The rules planner always asks for the web UI; so does this one.
		spec.Features = append(spec.Features, kiln.FeatureUI)
		slices.Sort(spec.Features)
		if err := spec.Validate(); err != nil {
			return nil, "", describe(err)
		}
	}
	return spec, "", ""
}

// describe lists a validation error's problems, one per line.
func describe(err error) string {
	var ke *kiln.Error
	if !errors.As(err, &ke) || len(ke.Fields) == 0 {
		return kiln.ErrorMessage(err)
	}
	var b strings.Builder
	b.WriteString("The AppSpec is not valid:")
	for i, f := range ke.Fields {
		if i == 30 {
			fmt.Fprintf(&b, "\n- … and %d more", len(ke.Fields)-i)
			break
		}
		fmt.Fprintf(&b, "\n- %s: %s", f.Path, f.Message)
	}
	return b.String()
}

// stripFence removes a Markdown code fence around the answer, which models
// answering in plain text often add.
func stripFence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") {
		return s
	}
	s = strings.TrimPrefix(s, "```")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:] // the info string ("json")
	}
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "```")
	return strings.TrimSpace(s)
}

// oneLine makes text one line of at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = llm.Truncate(s, n)
		s = strings.TrimSuffix(s, "\n[… cut]") + "…"
	}
	return s
}

// responseSchema is the structured answer asked for: an AppSpec (the
// schema of docs/appspec.schema.json) or {"error": "…"} when the
// description names nothing to store.
var responseSchema = func() json.RawMessage {
	var spec map[string]any
	if err := json.Unmarshal(kiln.AppSpecSchema(), &spec); err != nil {
		panic("llmplan: the embedded AppSpec schema is not JSON: " + err.Error())
	}
	defs := spec["$defs"]
	delete(spec, "$defs")
	delete(spec, "$schema")
	delete(spec, "$id")
	out := map[string]any{
		"$defs": defs,
		"anyOf": []any{spec, map[string]any{
			"type":                 "object",
			"additionalProperties": false,
			"required":             []string{"error"},
			"properties":           map[string]any{"error": map[string]any{"type": "string", "description": "Why the description names nothing an app could store."}},
		}},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic("llmplan: encode the response schema: " + err.Error())
	}
	return json.RawMessage(bytes.TrimSpace(buf.Bytes()))
}()

// ResponseSchema returns the JSON Schema the planner asks the model to
// answer with.
func ResponseSchema() json.RawMessage { return slices.Clone(responseSchema) }
