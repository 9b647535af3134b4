// Package sketch holds the mergeable summaries that analytics rollups
// keep: DDSketch for percentiles of event values, HyperLogLog for unique
// users and a bounded top-K counter for property values. Each encodes to a
// compact, versioned byte form that is stored in the database, and each
// merges exactly as if all the inputs had been added to one sketch.
package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Accuracy is the DDSketch relative accuracy: a quantile estimate is
// within 1% of a value that really is at that rank.
const Accuracy = 0.01

// maxBins bounds a DDSketch's bins per sign; past it the bins nearest zero
// collapse into one, so only the smallest magnitudes lose accuracy. With
// 1% accuracy, 2048 bins span magnitudes from 1 to 1e17.
const maxBins = 2048

// maxOffset bounds a decoded store's first index: every finite float64
// above minIndexable has an index within it.
const maxOffset = 1 << 17

// minIndexable is the smallest magnitude given its own bin; smaller ones
// count as zero.
const minIndexable = 1e-9

var (
	gamma       = (1 + Accuracy) / (1 - Accuracy)
	logGamma    = math.Log(gamma)
	errCorrupt  = errors.New("sketch: corrupt encoding")
	ddVersion   = byte(1)
	hllVersion  = byte(1)
	topKVersion = byte(1)
)

// DDSketch estimates quantiles of a stream of numbers with relative
// accuracy (Masson, Rim and Lee, VLDB 2019). The zero value is an empty
// sketch ready to use.
type DDSketch struct {
	pos, neg store
	zero     uint64
}

// store maps bin indexes to counts, densely from offset.
type store struct {
	offset int32
	counts []uint64
}

func (s *store) add(i int32, n uint64) {
	if len(s.counts) == 0 {
		s.offset = i
		s.counts = []uint64{n}
		return
	}
	switch {
	case i < s.offset:
		grow := int(s.offset - i)
		s.counts = append(make([]uint64, grow, grow+len(s.counts)), s.counts...)
		s.offset = i
	case int(i-s.offset) >= len(s.counts):
		s.counts = append(s.counts, make([]uint64, int(i-s.offset)-len(s.counts)+1)...)
	}
	s.counts[i-s.offset] += n
	s.collapse()
}

// collapse folds the lowest bins (values nearest zero) into one while the
// store has more than maxBins.
func (s *store) collapse() {
	if len(s.counts) <= maxBins {
		return
	}
	extra := len(s.counts) - maxBins
	var sum uint64
	for _, c := range s.counts[:extra+1] {
		sum += c
	}
	s.counts = append([]uint64{sum}, s.counts[extra+1:]...)
	s.offset += int32(extra)
}

// merge adds o's counts: the same as adding each of o's non-empty bins
// from the lowest up, with one allocation at most.
func (s *store) merge(o *store) {
	first, last := -1, -1
	for i, c := range o.counts {
		if c > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return
	}
	oc, ooff := o.counts[first:last+1], o.offset+int32(first)
	if len(s.counts) == 0 {
		s.offset, s.counts = ooff, slices.Clone(oc)
		s.collapse()
		return
	}
	lo := min(s.offset, ooff)
	hi := max(s.offset+int32(len(s.counts)), ooff+int32(len(oc)))
	if lo < s.offset || hi > s.offset+int32(len(s.counts)) {
		counts := make([]uint64, hi-lo)
		copy(counts[s.offset-lo:], s.counts)
		s.offset, s.counts = lo, counts
	}
	at := s.counts[ooff-s.offset:]
	for i, c := range oc {
		at[i] += c
	}
	s.collapse()
}

func (s *store) total() uint64 {
	var n uint64
	for _, c := range s.counts {
		n += c
	}
	return n
}

func index(v float64) int32 { return int32(math.Ceil(math.Log(v) / logGamma)) }

func binValue(i int32) float64 { return 2 * math.Pow(gamma, float64(i)) / (gamma + 1) }

// Add records v. NaN and infinities are ignored: events carry finite
// values only.
func (d *DDSketch) Add(v float64) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
	case v > minIndexable:
		d.pos.add(index(v), 1)
	case v < -minIndexable:
		d.neg.add(index(-v), 1)
	default:
		d.zero++
	}
}

// Count returns how many values were added.
func (d *DDSketch) Count() uint64 { return d.pos.total() + d.neg.total() + d.zero }

// Merge adds o's values to d.
func (d *DDSketch) Merge(o *DDSketch) {
	if o == nil {
		return
	}
	d.pos.merge(&o.pos)
	d.neg.merge(&o.neg)
	d.zero += o.zero
}

// Quantile returns the estimate of the q-quantile (0 ≤ q ≤ 1), or NaN for
// an empty sketch.
func (d *DDSketch) Quantile(q float64) float64 {
	n := d.Count()
	if n == 0 || q < 0 || q > 1 {
		return math.NaN()
	}
	rank := uint64(q * float64(n-1))
	var seen uint64
	// Negative values, most negative (highest index) first.
	for i := len(d.neg.counts) - 1; i >= 0; i-- {
		seen += d.neg.counts[i]
		if seen > rank {
			return -binValue(d.neg.offset + int32(i))
		}
	}
	seen += d.zero
	if seen > rank {
		return 0
	}
	for i, c := range d.pos.counts {
		seen += c
		if seen > rank {
			return binValue(d.pos.offset + int32(i))
		}
	}
	return binValue(d.pos.offset + int32(len(d.pos.counts)-1))
}

// MarshalBinary encodes the sketch: a version byte, the zero count, then
// each store as its offset, length and counts, all as varints.
func (d *DDSketch) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 16+2*(len(d.pos.counts)+len(d.neg.counts)))
	b = append(b, ddVersion)
	b = binary.AppendUvarint(b, d.zero)
	for _, s := range []*store{&d.pos, &d.neg} {
		b = binary.AppendVarint(b, int64(s.offset))
		b = binary.AppendUvarint(b, uint64(len(s.counts)))
		for _, c := range s.counts {
			b = binary.AppendUvarint(b, c)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, replacing d.
func (d *DDSketch) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	if r.byte() != ddVersion {
		return fmt.Errorf("sketch: unknown DDSketch encoding version")
	}
	*d = DDSketch{zero: r.uvarint()}
	for _, s := range []*store{&d.pos, &d.neg} {
		off := r.varint()
		n := r.uvarint()
		if r.err != nil || n > maxBins || off < -maxOffset || off > maxOffset {
			return errCorrupt
		}
		s.offset = int32(off)
		if n > 0 {
			s.counts = make([]uint64, n)
		}
		for i := range s.counts {
			s.counts[i] = r.uvarint()
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}

// reader decodes varints, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.err = errCorrupt
		r.b = nil
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// maxString bounds a decoded string's length.
const maxString = 1 << 16

// stringBytes is string without the copy: the bytes are valid as long as
// the input is.
func (r *reader) stringBytes() []byte {
	n := r.uvarint()
	if n > maxString {
		r.err = errCorrupt
		r.b = nil
		return nil
	}
	return r.bytes(int(n))
}

func (r *reader) string() string { return string(r.stringBytes()) }
