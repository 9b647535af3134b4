package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/cli"
	"github.com/kiln-build/kiln/codegen"
)

// generateOptions are the flags of `kiln generate`.
type generateOptions struct {
	out        string
	specFile   string
	noValidate bool
	force      bool
	verbose    bool
	setName    string
}

func newGenerateCmd() *cobra.Command {
	var o generateOptions
	var sf *serverFlags
	cmd := &cobra.Command{
		Use:   `generate "DESCRIPTION" --out DIR`,
		Short: "Generate an app on this machine: plan, render, check (no server, no account)",
		Long: `Generate an app locally with the same pipeline the server runs, without a
server or an account: plan the description into an AppSpec (or read one with
--spec), render the template set into DIR, then run the checks (gofmt -l,
go vet, go build, go test) on the generated code and print their outcome.

The checks run sandboxed under bubblewrap like on the server, honoring the
sandbox setting (--sandbox, KILN_SANDBOX or kiln.yaml): "auto" runs them
unsandboxed, and says so, when bubblewrap does not work here; "required"
refuses; "none" never sandboxes. Modules are downloaded first, outside the
sandbox, with "go mod download", which runs no generated code. The Go build
cache the checks use lives in the user cache folder (~/.cache/kiln).

DIR must be empty or missing; --force writes the app's files over what DIR
holds (other files stay). The exit status is 0 when every check passed, 1
when planning, rendering or a check failed (the app stays in DIR so you can
look at it), 2 for a wrong command line.

--templates DIR renders with your own template set (see 'kiln templates').`,
		Example: `  kiln generate "a library API with books (title, author, year) and loans" --out library
  kiln generate --spec kiln.json --out library --force
  kiln generate "tasks with a title and a done flag" --out todo --no-validate
  kiln generate "expenses: amount, category, spent on" --out spend --templates ./my-set`,
		Annotations: map[string]string{cli.AnnotationLocal: "true"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cli.UsageErrorf(cmd, "%s: unexpected argument %q (quote the description)", cmd.CommandPath(), args[1])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenerate(cmd, sf, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "folder to write the app to (required)")
	f.StringVar(&o.specFile, "spec", "", "AppSpec JSON file to generate from instead of planning a description (- for stdin)")
	f.BoolVar(&o.noValidate, "no-validate", false, "render only; skip the checks")
	f.BoolVar(&o.force, "force", false, "write into a folder that is not empty")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print the output of every check, not only of a failed one")
	f.StringVar(&o.setName, "set", "", "template set to render (default go-api)")
	sf = &serverFlags{set: f}
	f.StringVar(&sf.file, "config", "", "config file (default ./kiln.yaml when present)")
	f.String("sandbox", "", "auto, required or none (default: the sandbox setting)")
	f.String("templates", "", "folder holding a template set, or sets by name, overriding the embedded ones")
	return cmd
}

// generateResult is what `kiln generate -o json|yaml` prints.
type generateResult struct {
	Out    string          `json:"out"`
	Spec   *kiln.AppSpec   `json:"spec"`
	Files  []string        `json:"files"`
	Report *codegen.Report `json:"report,omitempty"`
}

func runGenerate(cmd *cobra.Command, sf *serverFlags, o generateOptions, args []string) error {
	format, err := cli.OutputFormat(cmd)
	if err != nil {
		return err
	}
	description := ""
	if len(args) == 1 {
		description = strings.TrimSpace(args[0])
	}
	switch {
	case o.out == "":
		return cli.UsageErrorf(cmd, "%s: --out DIR is required", cmd.CommandPath())
	case description == "" && o.specFile == "":
		return cli.UsageErrorf(cmd, "%s: give a DESCRIPTION or --spec FILE", cmd.CommandPath())
	case description != "" && o.specFile != "":
		return cli.UsageErrorf(cmd, "%s: give a DESCRIPTION or --spec FILE, not both", cmd.CommandPath())
	}
	cfg, err := sf.load()
	if err != nil {
		return err
	}
	var spec *kiln.AppSpec
	if o.specFile != "" {
		if spec, err = readSpecFile(cmd.InOrStdin(), o.specFile); err != nil {
			return err
		}
	}
	dir, err := prepareOutDir(o.out, o.force)
	if err != nil {
		return err
	}
	planner, steps, err := llmSetup(cfg, slog.New(slog.DiscardHandler), nil, "")
	if err != nil {
		return err
	}
	pcfg := codegen.Config{
		AppDir:       dir,
		TemplateSet:  o.setName,
		TemplatesDir: cfg.Templates,
		Planner:      planner,
		LLM:          steps,
		Validate:     !o.noValidate,
	}
	if pcfg.Validate {
		if pcfg.Sandbox, err = sandboxConfig(cfg); err != nil {
			return err
		}
		pcfg.CacheDir = localCacheDir()
	}
	p, err := codegen.New(pcfg)
	if err != nil {
		return localError("", err)
	}

	// Progress goes to stdout for people; with -o json|yaml stdout carries
	// the final document, so progress goes to stderr.
	progress := cmd.OutOrStdout()
	if format != "table" {
		progress = cmd.ErrOrStderr()
	}
	rec := newTermRecorder(progress, o.verbose)
	b := &kiln.Build{Number: 1, Attempt: 1, Spec: spec}
	app := &kiln.App{Name: "local", Description: description}
	runErr := p.Run(cmd.Context(), b, app, rec)

	res := generateResult{Out: dir, Spec: rec.spec, Report: rec.report}
	if runErr == nil || rec.rendered {
		res.Files, _ = listFiles(dir)
	}
	if format != "table" {
		if err := cli.WriteDocument(cmd.OutOrStdout(), format, res); err != nil {
			return err
		}
	} else if runErr == nil {
		printGenerateSummary(progress, res, o.noValidate)
	}
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) {
			return errors.New("generate: interrupted")
		}
		err := localError("", runErr)
		if rec.rendered {
			err = fmt.Errorf("%w\nThe generated app is in %s.", err, dir)
		}
		return err
	}
	return nil
}

func printGenerateSummary(w io.Writer, res generateResult, noValidate bool) {
	s := res.Spec
	names := make([]string, len(s.Entities))
	for i, e := range s.Entities {
		names[i] = e.Name
	}
	fmt.Fprintf(w, "\nApp %q: %d entities (%s), %d files in %s\n", s.Name, len(s.Entities), strings.Join(names, ", "), len(res.Files), res.Out)
	switch {
	case noValidate:
		fmt.Fprintln(w, "Checks skipped (--no-validate).")
	case res.Report != nil:
		checks := make([]string, len(res.Report.Checks))
		for i, c := range res.Report.Checks {
			checks[i] = c.Name
		}
		how := "sandboxed with bubblewrap"
		if !res.Report.Sandboxed {
			how = "UNSANDBOXED"
		}
		fmt.Fprintf(w, "Checks passed: %s (%s).\n", strings.Join(checks, ", "), how)
	}
	rel := res.Out
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, res.Out); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	if slices.Contains(res.Files, "main.go") {
		fmt.Fprintf(w, "Run it:  cd %s && go run .\n", rel)
	}
	if slices.Contains(res.Files, "README.md") {
		fmt.Fprintf(w, "Read:    %s\n", filepath.Join(rel, "README.md"))
	}
}

// readSpecFile reads and strictly parses an AppSpec file ("-" is stdin);
// errors name the file and the path inside it.
func readSpecFile(stdin io.Reader, name string) (*kiln.AppSpec, error) {
	var r io.Reader
	if name == "-" {
		r, name = stdin, "(stdin)"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read spec: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, kiln.MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read spec %s: %w", name, err)
	}
	spec, err := kiln.ParseSpec(data)
	if err != nil {
		return nil, localError("spec "+name, err)
	}
	return spec, nil
}

// prepareOutDir returns the absolute path of the output folder, creating
// it, after checking that it is empty (or force is set).
func prepareOutDir(out string, force bool) (string, error) {
	dir, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("--out: %w", err)
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("--out: %w", err)
	case !st.IsDir():
		return "", fmt.Errorf("--out %s: exists and is not a folder", out)
	default:
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", fmt.Errorf("--out: %w", err)
		}
		if len(entries) > 0 && !force {
			return "", fmt.Errorf("--out %s: the folder is not empty; choose another or pass --force to write over it", out)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("--out: %w", err)
	}
	return dir, nil
}

// localCacheDir is where local checks keep their Go build cache: not the
// user's own GOCACHE, which generated code must not be able to write to.
func localCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "kiln")
	}
	return filepath.Join(os.TempDir(), "kiln-cache")
}

// listFiles returns the files under dir, slash-separated and sorted.
func listFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

// localError presents an error of a local command: a *kiln.Error as its
// message with one line per field problem, prefixed when prefix is set;
// any other error as it is.
func localError(prefix string, err error) error {
	var ke *kiln.Error
	if !errors.As(err, &ke) {
		if prefix != "" {
			return fmt.Errorf("%s: %w", prefix, err)
		}
		return err
	}
	var b strings.Builder
	if prefix != "" {
		b.WriteString(prefix + ": ")
	}
	b.WriteString(ke.Message)
	if len(ke.Fields) > 1 {
		for _, f := range ke.Fields {
			fmt.Fprintf(&b, "\n  %s: %s", f.Path, f.Message)
		}
	}
	return &presentedError{msg: b.String(), err: err}
}

type presentedError struct {
	msg string
	err error
}

func (e *presentedError) Error() string { return e.msg }
func (e *presentedError) Unwrap() error { return e.err }

// roundDuration rounds d for people.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
