package sqlstore

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/analytics/sketch"
)

// maxRolledValueLen bounds a property value kept in a rollup, in bytes.
const maxRolledValueLen = 100

// granularities are the rollup bucket widths, in seconds.
var granularities = []int64{60, 3600, 86400}

// rollupKey names one rollup row.
type rollupKey struct {
	app         int64
	granularity int64
	bucket      int64
	name        string
}

// rollup is the summary of a set of events: what one rollup row stores,
// and what summaries merge.
type rollup struct {
	count      int64
	valueCount int64
	sum        float64
	min, max   float64 // valid when valueCount > 0
	values     sketch.DDSketch
	users      sketch.HLL
	props      sketch.Props
}

// addEvent folds one event in. props is the event's decoded properties.
func (r *rollup) addEvent(value *float64, userID string, props map[string]any) {
	r.count++
	if value != nil {
		v := *value
		if r.valueCount == 0 || v < r.min {
			r.min = v
		}
		if r.valueCount == 0 || v > r.max {
			r.max = v
		}
		r.valueCount++
		r.sum += v
		r.values.Add(v)
	}
	if userID != "" {
		r.users.Add(userID)
	}
	for k, v := range props {
		r.props.Add(k, propString(v))
	}
}

// propString is how a property value is counted: strings cut to
// maxRolledValueLen bytes, numbers in their shortest form, booleans as
// true and false.
func propString(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) <= maxRolledValueLen {
			return v
		}
		cut := maxRolledValueLen
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return v[:cut]
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// merge folds o into r.
func (r *rollup) merge(o *rollup) {
	r.mergeScalars(o)
	r.values.Merge(&o.values)
	r.users.Merge(&o.users)
	r.props.Merge(&o.props)
}

// mergeScalars folds o's count, sum, min and max into r.
func (r *rollup) mergeScalars(o *rollup) {
	if o.valueCount > 0 {
		if r.valueCount == 0 || o.min < r.min {
			r.min = o.min
		}
		if r.valueCount == 0 || o.max > r.max {
			r.max = o.max
		}
	}
	r.count += o.count
	r.valueCount += o.valueCount
	r.sum += o.sum
}

// stats reports r for a summary.
func (r *rollup) stats() kiln.Stats {
	s := kiln.Stats{Count: r.count, Users: int64(r.users.Count()), Values: r.valueCount, Sum: r.sum}
	if r.valueCount > 0 {
		clamp := func(v float64) *float64 {
			v = math.Min(math.Max(v, r.min), r.max) // the sketch's bin value may pass the true extremes
			return &v
		}
		s.Min, s.Max = ptr(r.min), ptr(r.max)
		s.P50, s.P90, s.P99 = clamp(r.values.Quantile(0.5)), clamp(r.values.Quantile(0.9)), clamp(r.values.Quantile(0.99))
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// encoded returns the sketch columns.
func (r *rollup) encoded() (values, users, props []byte, err error) {
	if values, err = r.values.MarshalBinary(); err != nil {
		return nil, nil, nil, err
	}
	if users, err = r.users.MarshalBinary(); err != nil {
		return nil, nil, nil, err
	}
	if props, err = r.props.MarshalBinary(); err != nil {
		return nil, nil, nil, err
	}
	return values, users, props, nil
}

// rollupColumns are the columns scanRollup reads, after the key.
const rollupColumns = "count, value_count, value_sum, value_min, value_max, sketch, users, props"

// scanRollup reads rollupColumns, with extra destinations first.
func scanRollup(rs rowScanner, extra ...any) (*rollup, error) {
	r := new(rollup)
	var minV, maxV *float64
	var values, users, props []byte
	dest := append(extra, &r.count, &r.valueCount, &r.sum, &minV, &maxV, &values, &users, &props)
	if err := rs.Scan(dest...); err != nil {
		return nil, err
	}
	if minV != nil {
		r.min = *minV
	}
	if maxV != nil {
		r.max = *maxV
	}
	if err := r.values.UnmarshalBinary(values); err != nil {
		return nil, fmt.Errorf("decode value sketch: %w", err)
	}
	if err := r.users.UnmarshalBinary(users); err != nil {
		return nil, fmt.Errorf("decode user sketch: %w", err)
	}
	if err := r.props.UnmarshalBinary(props); err != nil {
		return nil, fmt.Errorf("decode property counts: %w", err)
	}
	return r, nil
}

// decodeProps parses a stored properties column (NULL, text or bytes).
func decodeProps(raw []byte) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode event properties: %w", err)
	}
	return m, nil
}
