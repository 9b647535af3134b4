package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
)

func (r *runner) analyticsCmd() *cobra.Command {
	return r.group("analytics", "See how your generated apps are used",
		`Generated apps send events to Kiln when they run with KILN_INGEST_URL and
KILN_APP_KEY set (see 'kiln apps keys'). These commands summarize them and
send events by hand.`,
		r.analyticsSummaryCmd(), r.analyticsSendCmd())
}

// parseSince reads --since: a duration such as 90m, 24h or 7d.
func parseSince(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n <= 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("invalid --since %q: want a duration such as 90m, 24h or 7d", s)
}

// autoInterval picks a bucket width that gives a readable number of rows.
func autoInterval(d time.Duration) kiln.Interval {
	switch {
	case d <= 3*time.Hour:
		return kiln.IntervalMinute
	case d <= 14*24*time.Hour:
		return kiln.IntervalHour
	}
	return kiln.IntervalDay
}

func (r *runner) analyticsSummaryCmd() *cobra.Command {
	var since, interval, event string
	var top int
	cmd := r.leaf(command{
		use:   "summary APP",
		short: "Summarize an app's analytics events",
		long: `Print the app's events over the last --since (default 24h) as a table with a
bar chart of the counts: events, distinct users and percentiles of the
events' values per bucket, then the top events and the most frequent
property values. The bucket width follows the range (minutes up to 3h,
hours up to 14 days, days beyond) unless --interval says otherwise.
--event keeps one event name. Percentiles are within 1%; distinct users
are exact up to 512 and within a few percent beyond.`,
		example: `  kiln analytics summary library
  kiln analytics summary library --since 7d --event request
  kiln analytics summary 12 --since 2h --interval minute -o json`,
		ops:  []string{"GET /v1/apps/{id}/analytics/summary", "GET /v1/apps"},
		args: []string{"APP"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			d, err := parseSince(since)
			if err != nil {
				return &UsageError{Msg: err.Error(), Command: cmd.CommandPath()}
			}
			iv := kiln.Interval(interval)
			if interval == "" {
				iv = autoInterval(d)
			} else if iv.Duration() == 0 {
				return usageErrorf(cmd, "invalid --interval %q: want minute, hour or day", interval)
			}
			if top < 0 || top > 100 {
				return usageErrorf(cmd, "--top must be between 1 and 100")
			}
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			now := r.now()
			sum, err := s.AnalyticsSummary(ctx, id, kiln.SummaryQuery{From: now.Add(-d), To: now, Interval: iv, Event: event, Top: top})
			if err != nil {
				return err
			}
			return r.emit(cmd, sum, func(w io.Writer) { printSummary(w, sum) })
		},
	})
	cmd.Flags().StringVar(&since, "since", "24h", "how far back: 90m, 24h, 7d …")
	cmd.Flags().StringVar(&interval, "interval", "", "bucket width: minute, hour or day (default: by --since)")
	cmd.Flags().StringVar(&event, "event", "", "only this event name")
	cmd.Flags().IntVar(&top, "top", 0, "how many top events and property values (default 10)")
	return cmd
}

// num renders a count with thousands separators.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + num(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// val renders an optional value compactly.
func val(v *float64) string {
	if v == nil {
		return "-"
	}
	if math.Abs(*v) >= 1e6 || (*v != 0 && math.Abs(*v) < 0.01) {
		return strconv.FormatFloat(*v, 'g', 3, 64)
	}
	if s := strconv.FormatFloat(*v, 'f', -1, 64); len(s) <= 8 {
		return s
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

// bar draws a horizontal bar of n out of most in up to width cells, with
// eighth-cell precision.
func bar(n, most int64, width int) string {
	if most <= 0 || n <= 0 {
		return ""
	}
	eighths := int(math.Round(float64(n) / float64(most) * float64(width*8)))
	eighths = max(eighths, 1)
	full, part := eighths/8, eighths%8
	s := strings.Repeat("█", full)
	if part > 0 {
		s += string([]rune("▏▎▍▌▋▊▉")[part-1])
	}
	return s
}

// sparkline draws the counts as one line of block characters.
func sparkline(points []kiln.Point) string {
	var most int64
	for _, p := range points {
		most = max(most, p.Count)
	}
	blocks := []rune(" ▁▂▃▄▅▆▇█")
	var b strings.Builder
	for _, p := range points {
		i := 0
		if most > 0 && p.Count > 0 {
			i = max(1, int(math.Round(float64(p.Count)/float64(most)*8)))
		}
		b.WriteRune(blocks[i])
	}
	return b.String()
}

func printSummary(w io.Writer, s *kiln.Summary) {
	layout := "2006-01-02 15:04"
	if s.Interval == kiln.IntervalDay {
		layout = "2006-01-02"
	}
	what := "all events"
	if s.Event != "" {
		what = "event " + strconv.Quote(safe(s.Event))
	}
	fmt.Fprintf(w, "App %d, %s, %s → %s UTC by %s\n", s.AppID, what, s.From.UTC().Format(layout), s.To.UTC().Format(layout), s.Interval)
	t := s.Totals
	fmt.Fprintf(w, "Total: %s events, %s users", num(t.Count), num(t.Users))
	if t.Values > 0 {
		fmt.Fprintf(w, "; value p50 %s, p90 %s, p99 %s (min %s, max %s, %s values)", val(t.P50), val(t.P90), val(t.P99), val(t.Min), val(t.Max), num(t.Values))
	}
	fmt.Fprintln(w)
	if len(s.Series) <= 200 {
		fmt.Fprintf(w, "%s\n\n", sparkline(s.Series))
	}
	var most int64
	for _, p := range s.Series {
		most = max(most, p.Count)
	}
	series := s.Series
	for len(series) > 1 && series[0].Count == 0 {
		series = series[1:]
	}
	if skipped := len(s.Series) - len(series); skipped > 0 {
		fmt.Fprintf(w, "(%d empty %s buckets before the first event)\n", skipped, s.Interval)
	}
	row(w, "TIME", "EVENTS", "USERS", "P50", "P90", "P99", "")
	for _, p := range series {
		row(w, p.Time.UTC().Format(layout), num(p.Count), num(p.Users), val(p.P50), val(p.P90), val(p.P99), bar(p.Count, most, 30))
	}
	if len(s.TopEvents) > 0 {
		fmt.Fprintln(w)
		row(w, "TOP EVENTS", "COUNT")
		for _, e := range s.TopEvents {
			row(w, cell(e.Name), num(e.Count))
		}
	}
	if len(s.TopProperties) > 0 {
		fmt.Fprintln(w)
		row(w, "PROPERTY", "VALUE", "COUNT")
		for _, p := range s.TopProperties {
			for i, v := range p.Values {
				key := ""
				if i == 0 {
					key = cell(p.Key)
				}
				row(w, key, truncate(cell(v.Value), 60), num(v.Count))
			}
			if p.Other > 0 {
				row(w, "", "(other)", num(p.Other))
			}
		}
	}
}

func (r *runner) analyticsSendCmd() *cobra.Command {
	var key string
	cmd := r.leaf(command{
		use:   "send [FILE]",
		short: "Send analytics events with an app's ingest key",
		long: `Send the events in FILE (or stdin without FILE or with -), a JSON array or
NDJSON, to the server as the app would, with its ingest key from --key or
KILN_APP_KEY. Events go in gzip-compressed batches of up to 1,000. It prints
how many were accepted and why any were refused, numbering events from 0
across the whole input; the exit status is 1 when any was refused.`,
		example: `  kiln analytics send events.ndjson --key kiln_ik_…
  echo '{"name":"deploy","timestamp":"2026-01-02T15:04:05Z"}' | KILN_APP_KEY=kiln_ik_… kiln analytics send`,
		ops: []string{"POST /v1/ingest"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf(cmd, "%s: unexpected argument %q", cmd.CommandPath(), args[1])
			}
			if key == "" {
				key = r.getenv("KILN_APP_KEY")
			}
			if !strings.HasPrefix(key, kiln.IngestKeyPrefix) {
				return usageErrorf(cmd, "give the app's ingest key (%s…) with --key or KILN_APP_KEY", kiln.IngestKeyPrefix)
			}
			name := "-"
			if len(args) == 1 {
				name = args[0]
			}
			events, err := readEvents(cmd, name)
			if err != nil {
				return err
			}
			s, err := r.connect(cmd)
			if err != nil {
				return err
			}
			var accepted int
			var rejected []kiln.EventRejection
			for start := 0; start < len(events); start += kiln.MaxIngestEvents {
				batch := events[start:min(start+kiln.MaxIngestEvents, len(events))]
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				for _, e := range batch {
					_, _ = zw.Write(e)
					_, _ = zw.Write([]byte{'\n'})
				}
				if err := zw.Close(); err != nil {
					return fmt.Errorf("compress events: %w", err)
				}
				res, err := s.Ingest(ctx, key, buf.Bytes(), true)
				if err != nil {
					return fmt.Errorf("events %d to %d: %w", start, start+len(batch)-1, friendly(err))
				}
				accepted += res.Accepted
				for _, rj := range res.Rejected {
					rj.Index += start
					rejected = append(rejected, rj)
				}
			}
			out := map[string]any{"accepted": accepted, "rejected": rejected}
			if rejected == nil {
				out["rejected"] = []kiln.EventRejection{}
			}
			err = r.emit(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "Sent %d events: %d accepted, %d refused.\n", len(events), accepted, len(rejected))
				for _, rj := range rejected {
					fmt.Fprintf(w, "  event %d: %s\n", rj.Index, safe(strings.Join(rj.Errors, "; ")))
				}
			})
			if err == nil && len(rejected) > 0 {
				err = fmt.Errorf("%d of %d events were refused", len(rejected), len(events))
			}
			return err
		},
	})
	cmd.Args = cobra.ArbitraryArgs
	cmd.Flags().StringVar(&key, "key", "", "the app's ingest key (default $KILN_APP_KEY)")
	return cmd
}

// maxSendBytes bounds what 'analytics send' reads.
const maxSendBytes = 256 << 20

// readEvents reads a JSON array or NDJSON into one raw value per event.
func readEvents(cmd *cobra.Command, name string) ([]json.RawMessage, error) {
	var rd io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		defer f.Close()
		rd = f
	}
	data, err := io.ReadAll(io.LimitReader(rd, maxSendBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if len(data) > maxSendBytes {
		return nil, fmt.Errorf("read events: more than %d bytes", maxSendBytes)
	}
	var events []json.RawMessage
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &events); err != nil {
			return nil, fmt.Errorf("read events %s: %w", name, err)
		}
	} else {
		for line := range bytes.Lines(data) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				events = append(events, json.RawMessage(line))
			}
		}
	}
	if len(events) == 0 {
		return nil, errors.New("no events to send")
	}
	return events, nil
}
