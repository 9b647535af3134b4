package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/analytics/sketch"
)

// Summary answers an app owner's question about the app's events from the
// rollups of q's interval plus the raw events the rollups lack, read in one
// snapshot so every committed event counts exactly once. ENotFound unless
// the caller owns the app; EInvalid for a bad query.
func (s *EventStore) Summary(ctx context.Context, appID int64, q kiln.SummaryQuery) (*kiln.Summary, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkSummaryQuery(&q); err != nil {
		return nil, err
	}
	width := int64(q.Interval.Duration() / time.Second)
	from, to := q.From.Unix(), q.To.Unix()
	if q.To.Nanosecond() != 0 {
		to++ // the range ends after q.To's fraction of a second
	}
	from -= mod(from, width)
	if m := mod(to, width); m != 0 {
		to += width - m
	}
	if n := (to - from) / width; n > kiln.MaxSummaryPoints {
		return nil, kiln.Errorf(kiln.EInvalid, "the range holds %d %s buckets, more than %d: use a wider interval or a shorter range", n, q.Interval, kiln.MaxSummaryPoints)
	}

	buckets := map[int64]*rollup{}
	total := new(rollup)
	names := map[string]int64{}
	// add counts r for its name and merges it into its bucket when the
	// query wants that name.
	add := func(bucket int64, name string, r *rollup) {
		names[name] += r.count
		if q.Event != "" && name != q.Event {
			return
		}
		b := buckets[bucket]
		if b == nil {
			b = new(rollup)
			buckets[bucket] = b
		}
		b.merge(r)
	}

	err = s.snapshot(ctx, func(c conn) error {
		if err := s.db.ownApp(ctx, c, u, appID); err != nil {
			return err
		}
		var upTo int64
		if err := c.row(ctx, "SELECT rolled_up_to FROM analytics_state WHERE id = 1").Scan(&upTo); err != nil {
			return fmt.Errorf("read rollup state: %w", err)
		}
		const rollupRange = " FROM analytics_rollups WHERE app_id = ? AND granularity = ? AND bucket >= ? AND bucket < ?"
		args := []any{appID, width, from, to}
		rowNames := names // the rows count their names, unless counted here
		if q.Event != "" {
			// Only one name's sketches are needed: the others count, and
			// their counts add up in the database.
			if err := s.countNames(ctx, c, "SELECT name, sum(count)"+rollupRange+" GROUP BY name", args, names); err != nil {
				return err
			}
			rowNames = nil
			args = append(args, q.Event)
		}
		query := "SELECT bucket, name, " + rollupColumns + rollupRange
		if q.Event != "" {
			query += " AND name = ?"
		}
		rows, err := c.query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("read rollups: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := s.addRollupRow(rows, rowNames, buckets, &total.props); err != nil {
				return fmt.Errorf("read rollups: %w", err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read rollups: %w", err)
		}
		rows.Close()

		// The events the rollups do not include yet.
		tail, err := c.query(ctx, "SELECT ts, name, user_id, value, props FROM analytics_events"+
			// +app_id keeps SQLite on the id range instead of the (app_id, ts) index.
			" WHERE id > ? AND +app_id = ? AND ts >= ? AND ts < ?",
			upTo, appID, s.db.evTime(time.Unix(from, 0)), s.db.evTime(time.Unix(to, 0)))
		if err != nil {
			return fmt.Errorf("read recent events: %w", err)
		}
		defer tail.Close()
		for tail.Next() {
			var ts time.Time
			var name string
			var user sql.NullString
			var value *float64
			var props []byte
			if err := tail.Scan(evTimeScan{&ts}, &name, &user, &value, &props); err != nil {
				return fmt.Errorf("read recent events: %w", err)
			}
			m, err := decodeProps(props)
			if err != nil {
				return err
			}
			r := new(rollup)
			r.addEvent(value, user.String, m)
			sec := ts.Unix()
			add(sec-mod(sec, width), name, r)
		}
		if err := tail.Err(); err != nil {
			return fmt.Errorf("read recent events: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// The totals merge the buckets: fewer merges than one per row.
	for b := from; b < to; b += width {
		if r := buckets[b]; r != nil {
			total.merge(r)
		}
	}
	sum := &kiln.Summary{
		AppID: appID, From: time.Unix(from, 0).UTC(), To: time.Unix(to, 0).UTC(), Interval: q.Interval, Event: q.Event,
		Totals: total.stats(), Series: make([]kiln.Point, 0, (to-from)/width),
		TopEvents: []kiln.NameCount{}, TopProperties: []kiln.PropertyValues{},
	}
	for b := from; b < to; b += width {
		p := kiln.Point{Time: time.Unix(b, 0).UTC()}
		if r := buckets[b]; r != nil {
			p.Stats = r.stats()
		}
		sum.Series = append(sum.Series, p)
	}
	for name, n := range names {
		sum.TopEvents = append(sum.TopEvents, kiln.NameCount{Name: name, Count: n})
	}
	slices.SortFunc(sum.TopEvents, func(a, b kiln.NameCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	sum.TopEvents = sum.TopEvents[:min(q.Top, len(sum.TopEvents))]
	for _, k := range total.props.Keys() {
		v := total.props.Get(k)
		pv := kiln.PropertyValues{Key: k, Count: int64(v.Total), Other: int64(v.Other), Values: []kiln.ValueCount{}}
		for _, vc := range v.Top(q.Top) {
			pv.Values = append(pv.Values, kiln.ValueCount{Value: vc.Value, Count: int64(vc.Count)})
		}
		for _, vc := range v.Top(len(v.Counts))[len(pv.Values):] {
			pv.Other += int64(vc.Count)
		}
		sum.TopProperties = append(sum.TopProperties, pv)
	}
	slices.SortFunc(sum.TopProperties, func(a, b kiln.PropertyValues) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	return sum, nil
}

// addRollupRow merges one row of rollupColumns (after its bucket and
// name) into its bucket, straight from the stored bytes: the values and
// users sketches into the bucket, the property counts into props (a
// summary reports property values over the whole range only). Its count
// goes into names unless that is nil.
func (s *EventStore) addRollupRow(rows *sql.Rows, names map[string]int64, buckets map[int64]*rollup, props *sketch.Props) error {
	var bucket int64
	var name string
	var r rollup
	var minV, maxV *float64
	var values, users, propsRaw sql.RawBytes
	if err := rows.Scan(&bucket, &name, &r.count, &r.valueCount, &r.sum, &minV, &maxV, &values, &users, &propsRaw); err != nil {
		return err
	}
	if names != nil {
		names[name] += r.count
	}
	if minV != nil && maxV != nil { // NULL exactly when valueCount is 0
		r.min, r.max = *minV, *maxV
	}
	b := buckets[bucket]
	if b == nil {
		b = new(rollup)
		buckets[bucket] = b
	}
	b.mergeScalars(&r)
	var d sketch.DDSketch
	if err := d.UnmarshalBinary(values); err != nil {
		return fmt.Errorf("decode value sketch: %w", err)
	}
	b.values.Merge(&d)
	if err := b.users.MergeBinary(users); err != nil {
		return fmt.Errorf("decode user sketch: %w", err)
	}
	if err := props.MergeBinary(propsRaw); err != nil {
		return fmt.Errorf("decode property counts: %w", err)
	}
	return nil
}

// countNames adds the event counts per name that query returns to names.
func (s *EventStore) countNames(ctx context.Context, c conn, query string, args []any, names map[string]int64) error {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("count events by name: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return fmt.Errorf("count events by name: %w", err)
		}
		names[name] += n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count events by name: %w", err)
	}
	return nil
}

// checkSummaryQuery validates q and fills its defaults.
func checkSummaryQuery(q *kiln.SummaryQuery) error {
	if q.Interval == "" {
		q.Interval = kiln.IntervalHour
	}
	if q.Interval.Duration() == 0 {
		return kiln.FieldErrorf("interval", "must be minute, hour or day, got %q", q.Interval)
	}
	if q.From.IsZero() || q.To.IsZero() {
		return kiln.FieldErrorf("from", "from and to are required")
	}
	if !q.From.Before(q.To) {
		return kiln.FieldErrorf("to", "must be after from")
	}
	if q.Top == 0 {
		q.Top = 10
	}
	if q.Top < 1 || q.Top > 100 {
		return kiln.FieldErrorf("top", "must be between 1 and 100")
	}
	if q.Event != "" {
		if err := checkInputText("event", q.Event, kiln.MaxEventNameLen, false); err != nil {
			return err
		}
		if strings.TrimSpace(q.Event) != q.Event {
			return kiln.FieldErrorf("event", "must not start or end with spaces")
		}
	}
	return nil
}

// snapshot runs fn in a read-only transaction that sees one consistent
// state of the database.
func (s *EventStore) snapshot(ctx context.Context, fn func(c conn) error) error {
	opts := &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	if s.db.dialect == DialectSQLite {
		opts = nil // a SQLite transaction reads one snapshot; the reader connections are query-only
	}
	tx, err := s.db.reader.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	return fn(conn{db: s.db, q: tx, tx: tx})
}
