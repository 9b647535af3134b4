package codegen

import (
	"context"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/edit"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/templates"
)

// Assistant changes a rendered app with a language model, in the edit
// format of package edit. codegen/assist implements it.
type Assistant interface {
	// Customize asks the model to add what the description asks for that
	// the template set does not express (business rules, computed fields,
	// extra endpoints). It returns what the attempt did; an error only
	// when the model cannot be used at all (bad key, budget spent …).
	Customize(ctx context.Context, in AssistInput) (*Attempt, error)
	// Repair asks the model to fix the app after a check failed.
	Repair(ctx context.Context, in AssistInput, f Failure) (*Attempt, error)
}

// AssistInput is the app an Assistant works on.
type AssistInput struct {
	Step        string // "customize", "repair 1" …
	Description string
	Spec        *kiln.AppSpec
	Set         *templates.Set // its prompts are used
	Dir         string         // the app on disk
	// Files are the app's files; applied edits update them and Dir.
	Files    render.Files
	ModCache string // new go.mod requirements must already be here
	Rec      kiln.Recorder
	// Attempt counts repairs from 1 (0 for customize); MaxAttempts is the
	// bound; Previous are the earlier attempts of this build.
	Attempt     int
	MaxAttempts int
	Previous    []*Attempt
}

// Failure is a failed check, as a repair sees it.
type Failure struct {
	Check   string // gofmt, vet, build, test
	Command string // go vet ./...
	// Message is the build error the failure would end the build with.
	Message string
	// Output is the check's output, trimmed for the model.
	Output string
	// Signature identifies the error independently of line numbers and
	// timings, to notice the same error coming back.
	Signature string
	// TimedOut is true when the check ran out of time rather than failed.
	TimedOut bool
}

// Attempt is what one customize or repair attempt did, as the validation
// report lists it.
type Attempt struct {
	Step string `json:"step"`
	// Check and Error say what failed for a repair: the check and the
	// first lines of its output.
	Check string `json:"check,omitempty"`
	Error string `json:"error,omitempty"`
	// Summary is the model's own SUMMARY line.
	Summary string        `json:"summary,omitempty"`
	Changes []edit.Change `json:"changes"`
	// Rejected lists the problems of answers that were refused (and
	// re-asked); Answers counts the model's answers.
	Rejected []edit.Rejection `json:"rejected,omitempty"`
	Answers  int              `json:"answers"`
	Tokens   int64            `json:"tokens"`
	// Outcome: "applied", "no changes", "gave up: …"; for repairs the
	// checks' result is added after they rerun ("checks passed", "vet
	// failed").
	Outcome string `json:"outcome"`
}

// LLMReport is the language-model part of the validation report.
type LLMReport struct {
	Model    string     `json:"model"`
	Attempts []*Attempt `json:"attempts"`
	// Stopped says why repairs ended: the checks passed, the same error
	// came back, the attempts or the token budget ran out …
	Stopped string          `json:"stopped,omitempty"`
	Usage   kiln.TokenUsage `json:"usage"`
}
