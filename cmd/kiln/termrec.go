package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
)

// maxShownLines is how many of a failed step's last output lines
// termRecorder prints.
const maxShownLines = 60

// termRecorder is the kiln.Recorder of a local run (kiln generate): it
// prints each step, its log lines and its outcome to a terminal, keeps the
// output of the running step to show when it fails, and keeps the spec and
// the validation report instead of storing them.
type termRecorder struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
	tail    []string // output lines of the running step, the last maxShownLines

	spec     *kiln.AppSpec
	report   *codegen.Report
	rendered bool // the render step succeeded, so the app is on disk
}

var _ kiln.Recorder = (*termRecorder)(nil)

func newTermRecorder(w io.Writer, verbose bool) *termRecorder {
	return &termRecorder{w: w, verbose: verbose}
}

func (r *termRecorder) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, format, args...)
}

// Step implements kiln.Recorder.
func (r *termRecorder) Step(ctx context.Context, name string, _ kiln.BuildStatus, fn func(ctx context.Context) error) error {
	r.mu.Lock()
	r.tail = r.tail[:0]
	fmt.Fprintf(r.w, "==> %s\n", name)
	r.mu.Unlock()
	start := time.Now()
	err := fn(ctx)
	d := roundDuration(time.Since(start))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		fmt.Fprintf(r.w, "    FAILED (%s)\n", d)
		if !r.verbose {
			for _, l := range r.tail {
				fmt.Fprintf(r.w, "    | %s\n", l)
			}
		}
		return err
	}
	if name == "render" {
		r.rendered = true
	}
	fmt.Fprintf(r.w, "    ok (%s)\n", d)
	return nil
}

// Logf implements kiln.Recorder.
func (r *termRecorder) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, l := range strings.Split(msg, "\n") {
		r.printf("    %s\n", printable(l))
	}
}

// Writer implements kiln.Recorder: lines are kept for a failure report and
// printed at once in verbose mode.
func (r *termRecorder) Writer(string) io.WriteCloser { return &termLineWriter{r: r} }

func (r *termRecorder) line(l string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l = printable(l)
	if r.verbose {
		fmt.Fprintf(r.w, "    | %s\n", l)
	}
	if len(r.tail) == maxShownLines {
		copy(r.tail, r.tail[1:])
		r.tail = r.tail[:maxShownLines-1]
	}
	r.tail = append(r.tail, l)
}

// SetSpec implements kiln.Recorder.
func (r *termRecorder) SetSpec(_ context.Context, spec *kiln.AppSpec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spec = spec
	return nil
}

// AddArtifact implements kiln.Recorder: a local run stores nothing, but it
// keeps the validation report to print it.
func (r *termRecorder) AddArtifact(_ context.Context, kind, name string, rd io.Reader) (*kiln.Artifact, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read artifact %s: %w", name, err)
	}
	if kind == kiln.ArtifactReport {
		var rep codegen.Report
		if err := json.Unmarshal(b, &rep); err == nil {
			r.mu.Lock()
			r.report = &rep
			r.mu.Unlock()
		}
	}
	sum := sha256.Sum256(b)
	return &kiln.Artifact{Kind: kind, Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// termLineWriter splits what a command writes into lines.
type termLineWriter struct {
	r   *termRecorder
	buf bytes.Buffer
}

func (w *termLineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		w.r.line(string(w.buf.Next(i + 1)[:i]))
	}
	return len(p), nil
}

func (w *termLineWriter) Close() error {
	if w.buf.Len() > 0 {
		w.r.line(w.buf.String())
		w.buf.Reset()
	}
	return nil
}

// printable replaces control characters (terminal escapes from generated
// code's output) with '?' and trims a trailing carriage return.
func printable(s string) string {
	s = strings.TrimRight(s, "\r")
	return strings.Map(func(c rune) rune {
		if c < 0x20 && c != '\t' || c == 0x7f || c >= 0x80 && c < 0xa0 {
			return '?'
		}
		return c
	}, s)
}
