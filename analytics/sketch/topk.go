package sketch

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
)

// Bounds of a Props summary.
const (
	// PropKeys is how many property keys one summary tracks; events
	// rarely carry more, and more are counted in DroppedKeys.
	PropKeys = 32
	// PropValues is how many values per key are kept with their counts;
	// the rest are summed in the key's Other count.
	PropValues = 32
)

// Props counts the values of each property key. It keeps every value
// exactly while a key has at most PropValues distinct ones; past that,
// merging keeps the PropValues most frequent and adds the rest to Other,
// so counts of frequent values stay exact or slightly low. The zero value
// is empty and ready to use.
type Props struct {
	keys map[string]*Values
	// DroppedKeys counts property occurrences under keys past PropKeys.
	DroppedKeys uint64
}

// Values is the count of one property key's values.
type Values struct {
	Total  uint64 // events carrying the key
	Other  uint64 // of Total, those whose value is not in Counts
	Counts map[string]uint64
}

// ValueCount is one value with its count.
type ValueCount struct {
	Value string
	Count uint64
}

func (p *Props) key(k string) *Values {
	if p.keys == nil {
		p.keys = map[string]*Values{}
	}
	v := p.keys[k]
	if v == nil {
		if len(p.keys) >= PropKeys {
			return nil
		}
		v = &Values{Counts: map[string]uint64{}}
		p.keys[k] = v
	}
	return v
}

// Add counts one occurrence of value under key.
func (p *Props) Add(key, value string) { p.addN(key, value, 1) }

func (p *Props) addN(key, value string, n uint64) {
	v := p.key(key)
	if v == nil {
		p.DroppedKeys += n
		return
	}
	v.Total += n
	if _, ok := v.Counts[value]; ok || len(v.Counts) < PropValues {
		v.Counts[value] += n
		return
	}
	v.Counts[value] += n
	v.trim()
}

// trim keeps the PropValues most frequent values.
func (v *Values) trim() {
	if len(v.Counts) <= PropValues {
		return
	}
	top := v.Top(len(v.Counts))
	for _, vc := range top[PropValues:] {
		v.Other += vc.Count
		delete(v.Counts, vc.Value)
	}
}

// Top returns up to n values, most frequent first, ties by value.
func (v *Values) Top(n int) []ValueCount {
	out := make([]ValueCount, 0, len(v.Counts))
	for val, c := range v.Counts {
		out = append(out, ValueCount{val, c})
	}
	slices.SortFunc(out, func(a, b ValueCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	return out[:min(n, len(out))]
}

// Keys returns the tracked keys sorted by name.
func (p *Props) Keys() []string {
	keys := make([]string, 0, len(p.keys))
	for k := range p.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Get returns a key's values, or nil.
func (p *Props) Get(key string) *Values { return p.keys[key] }

// Merge adds o's counts to p.
func (p *Props) Merge(o *Props) {
	if o == nil {
		return
	}
	p.DroppedKeys += o.DroppedKeys
	for _, k := range o.Keys() {
		ov := o.keys[k]
		v := p.key(k)
		if v == nil {
			p.DroppedKeys += ov.Total
			continue
		}
		v.Total += ov.Total
		v.Other += ov.Other
		for val, c := range ov.Counts {
			v.Counts[val] += c
		}
		v.trim()
	}
}

// MarshalBinary encodes p deterministically: keys and values sorted.
func (p *Props) MarshalBinary() ([]byte, error) {
	b := []byte{topKVersion}
	b = binary.AppendUvarint(b, p.DroppedKeys)
	b = binary.AppendUvarint(b, uint64(len(p.keys)))
	for _, k := range p.Keys() {
		v := p.keys[k]
		b = appendString(b, k)
		b = binary.AppendUvarint(b, v.Total)
		b = binary.AppendUvarint(b, v.Other)
		vals := make([]string, 0, len(v.Counts))
		for val := range v.Counts {
			vals = append(vals, val)
		}
		slices.Sort(vals)
		b = binary.AppendUvarint(b, uint64(len(vals)))
		for _, val := range vals {
			b = appendString(b, val)
			b = binary.AppendUvarint(b, v.Counts[val])
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// MergeBinary merges what MarshalBinary wrote into p, as UnmarshalBinary
// and Merge would, without building the other summary's maps. On an error
// p may hold part of the data.
func (p *Props) MergeBinary(data []byte) error {
	r := reader{b: data}
	if r.byte() != topKVersion {
		return errCorrupt
	}
	p.DroppedKeys += r.uvarint()
	nk := r.uvarint()
	if r.err != nil || nk > PropKeys {
		return errCorrupt
	}
	var prev []byte
	for i := range nk {
		k := r.stringBytes()
		total, other := r.uvarint(), r.uvarint()
		nv := r.uvarint()
		if r.err != nil || nv > PropValues || i > 0 && bytes.Compare(k, prev) <= 0 {
			return errCorrupt // keys are sorted, as Merge visits them
		}
		var v *Values
		if v = p.keys[string(k)]; v == nil {
			v = p.key(string(k))
		}
		prev = k
		if v == nil {
			p.DroppedKeys += total
			for range nv {
				r.stringBytes()
				r.uvarint()
			}
			continue
		}
		v.Total += total
		v.Other += other
		for range nv {
			val := r.stringBytes()
			n := r.uvarint()
			if r.err != nil {
				return errCorrupt
			}
			if c, ok := v.Counts[string(val)]; ok {
				v.Counts[string(val)] = c + n
			} else {
				v.Counts[string(val)] = n
			}
		}
		v.trim()
	}
	if r.err != nil || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, replacing p.
func (p *Props) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	if r.byte() != topKVersion {
		return errCorrupt
	}
	*p = Props{DroppedKeys: r.uvarint()}
	nk := r.uvarint()
	if r.err != nil || nk > PropKeys {
		return errCorrupt
	}
	if nk > 0 {
		p.keys = make(map[string]*Values, nk)
	}
	for range nk {
		k := r.string()
		v := &Values{Total: r.uvarint(), Other: r.uvarint()}
		nv := r.uvarint()
		if r.err != nil || nv > PropValues {
			return errCorrupt
		}
		v.Counts = make(map[string]uint64, nv)
		for range nv {
			val := r.string()
			v.Counts[val] = r.uvarint()
		}
		p.keys[k] = v
	}
	if r.err != nil || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}
