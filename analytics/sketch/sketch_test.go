package sketch_test

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/kiln-build/kiln/analytics/sketch"
)

// exactQuantile is the value at rank q*(n-1) of the sorted values, the
// rank DDSketch.Quantile estimates.
func exactQuantile(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}

func TestDDSketchAccuracy(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		vals := rapid.SliceOfN(rapid.OneOf(
			rapid.Float64Range(-1e6, 1e6),
			rapid.Float64Range(0.001, 10),
			rapid.Just(0.0),
		), 1, 2000).Draw(t, "values")
		split := rapid.IntRange(0, len(vals)).Draw(t, "split")
		var whole, a, b sketch.DDSketch
		for i, v := range vals {
			whole.Add(v)
			if i < split {
				a.Add(v)
			} else {
				b.Add(v)
			}
		}
		a.Merge(&b)
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.99, 1} {
			want := exactQuantile(sorted, q)
			for name, s := range map[string]*sketch.DDSketch{"whole": &whole, "merged": &a} {
				got := s.Quantile(q)
				if math.Abs(got-want) > sketch.Accuracy*math.Abs(want)+1e-9 {
					t.Fatalf("%s q=%v: got %v, want %v within 1%%", name, q, got, want)
				}
			}
		}
		if whole.Count() != uint64(len(vals)) || a.Count() != uint64(len(vals)) {
			t.Fatalf("count %d/%d, want %d", whole.Count(), a.Count(), len(vals))
		}
		enc, _ := a.MarshalBinary()
		var dec sketch.DDSketch
		if err := dec.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if dec.Quantile(0.5) != a.Quantile(0.5) || dec.Count() != a.Count() {
			t.Fatal("decoded sketch differs")
		}
	})
}

func TestDDSketchWideRange(t *testing.T) {
	t.Parallel()
	var s sketch.DDSketch
	// Magnitudes from 1e-6 to 1e12 fit in the bin budget; the smallest
	// collapse first if it is exceeded.
	for e := -6.0; e <= 12; e += 0.01 {
		s.Add(math.Pow(10, e))
	}
	if got := s.Quantile(1); math.Abs(got-1e12)/1e12 > sketch.Accuracy {
		t.Fatalf("max %v", got)
	}
	var empty sketch.DDSketch
	if !math.IsNaN(empty.Quantile(0.5)) {
		t.Fatal("empty sketch quantile is not NaN")
	}
	empty.Add(math.NaN())
	empty.Add(math.Inf(1))
	if empty.Count() != 0 {
		t.Fatal("NaN and Inf are counted")
	}
}

func TestHLL(t *testing.T) {
	t.Parallel()
	t.Run("ExactWhileSmall", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			users := rapid.SliceOfN(rapid.StringMatching(`u[0-9]{1,3}`), 0, 600).Draw(t, "users")
			split := rapid.IntRange(0, len(users)).Draw(t, "split")
			var a, b, whole sketch.HLL
			distinct := map[string]bool{}
			for i, u := range users {
				distinct[u] = true
				whole.Add(u)
				if i < split {
					a.Add(u)
				} else {
					b.Add(u)
				}
			}
			a.Merge(&b)
			if len(distinct) <= 512 && (a.Count() != uint64(len(distinct)) || whole.Count() != uint64(len(distinct))) {
				t.Fatalf("count %d / %d, want exactly %d", a.Count(), whole.Count(), len(distinct))
			}
			enc, _ := a.MarshalBinary()
			var dec sketch.HLL
			if err := dec.UnmarshalBinary(enc); err != nil || dec.Count() != a.Count() {
				t.Fatalf("decode: %v, %d vs %d", err, dec.Count(), a.Count())
			}
		})
	})
	t.Run("EstimateWhenLarge", func(t *testing.T) {
		for _, n := range []int{600, 5000, 100000, 1000000} {
			var whole sketch.HLL
			parts := make([]sketch.HLL, 7)
			for i := range n {
				u := fmt.Sprintf("user-%d", i)
				whole.Add(u)
				parts[i%7].Add(u)
				parts[(i+3)%7].Add(u) // duplicates across parts do not count twice
			}
			var merged sketch.HLL
			for i := range parts {
				merged.Merge(&parts[i])
			}
			for name, h := range map[string]*sketch.HLL{"whole": &whole, "merged": &merged} {
				got := float64(h.Count())
				if rel := math.Abs(got-float64(n)) / float64(n); rel > 0.05 {
					t.Errorf("%s n=%d: estimate %v is %.1f%% off", name, n, got, rel*100)
				}
			}
			if whole.Count() != merged.Count() {
				t.Errorf("n=%d: merged %d != whole %d", n, merged.Count(), whole.Count())
			}
			enc, _ := merged.MarshalBinary()
			if len(enc) > 4200 {
				t.Errorf("dense encoding is %d bytes", len(enc))
			}
		}
	})
}

func TestProps(t *testing.T) {
	t.Parallel()
	t.Run("ExactWhileFew", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			n := rapid.IntRange(0, 500).Draw(t, "n")
			var a, b, whole sketch.Props
			want := map[string]map[string]uint64{}
			for i := range n {
				k := rapid.SampledFrom([]string{"route", "method", "status"}).Draw(t, "key")
				v := rapid.StringMatching(`[a-d]{1,2}`).Draw(t, "value") // at most 20 distinct
				if want[k] == nil {
					want[k] = map[string]uint64{}
				}
				want[k][v]++
				whole.Add(k, v)
				if i%2 == 0 {
					a.Add(k, v)
				} else {
					b.Add(k, v)
				}
			}
			a.Merge(&b)
			enc, _ := a.MarshalBinary()
			var dec sketch.Props
			if err := dec.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			for _, p := range []*sketch.Props{&whole, &a, &dec} {
				if len(p.Keys()) != len(want) {
					t.Fatalf("keys %v, want %v", p.Keys(), want)
				}
				for k, vals := range want {
					got := p.Get(k)
					var total uint64
					for v, c := range vals {
						total += c
						if got.Counts[v] != c {
							t.Fatalf("%s=%s: %d, want %d", k, v, got.Counts[v], c)
						}
					}
					if got.Total != total || got.Other != 0 {
						t.Fatalf("%s: total %d other %d, want %d 0", k, got.Total, got.Other, total)
					}
				}
			}
		})
	})
	t.Run("BoundedWhenMany", func(t *testing.T) {
		var p sketch.Props
		for i := range 10000 {
			p.Add("path", fmt.Sprintf("/items/%d", i))
			p.Add("route", "GET /items/{id}")
		}
		for i := range 100 {
			p.Add(fmt.Sprintf("key%d", i), "x")
		}
		if got := len(p.Get("path").Counts); got > sketch.PropValues {
			t.Fatalf("%d values kept", got)
		}
		v := p.Get("path")
		var kept uint64
		for _, c := range v.Counts {
			kept += c
		}
		if v.Total != 10000 || kept+v.Other != 10000 {
			t.Fatalf("total %d, kept %d + other %d", v.Total, kept, v.Other)
		}
		if top := p.Get("route").Top(1); top[0].Count != 10000 {
			t.Fatalf("route %+v", top)
		}
		if len(p.Keys()) != sketch.PropKeys || p.DroppedKeys != 100-(sketch.PropKeys-2) {
			t.Fatalf("%d keys, %d dropped", len(p.Keys()), p.DroppedKeys)
		}
	})
}

// FuzzDecode feeds arbitrary bytes to the decoders: they fail cleanly,
// never panic, and what they accept encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	var d sketch.DDSketch
	d.Add(3)
	d.Add(-2)
	var h sketch.HLL
	h.Add("a")
	var p sketch.Props
	p.Add("k", "v")
	for _, m := range []interface{ MarshalBinary() ([]byte, error) }{&d, &h, &p} {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d sketch.DDSketch
		if d.UnmarshalBinary(b) == nil {
			d.Quantile(0.5)
		}
		var h sketch.HLL
		if h.UnmarshalBinary(b) == nil {
			h.Count()
		}
		var p sketch.Props
		if p.UnmarshalBinary(b) == nil {
			p.Keys()
		}
		// Merging an encoding into a summary that has data never panics,
		// and accepts what decoding accepts.
		var h2 sketch.HLL
		h2.Add("x")
		if err := h2.MergeBinary(b); (err == nil) != (h.UnmarshalBinary(b) == nil) {
			t.Fatalf("HLL MergeBinary: %v", err)
		}
		var p2 sketch.Props
		p2.Add("k", "v")
		_ = p2.MergeBinary(b)
	})
}

// TestMergeBinary: merging an encoded summary gives what decoding it and
// merging gives, byte for byte.
func TestMergeBinary(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		props := func(name string) *sketch.Props {
			var p sketch.Props
			n := rapid.IntRange(0, 300).Draw(t, name+"N")
			keys := rapid.IntRange(1, 40).Draw(t, name+"Keys")
			values := rapid.IntRange(1, 60).Draw(t, name+"Values")
			for range n {
				p.Add(fmt.Sprintf("k%d", rapid.IntRange(0, keys-1).Draw(t, name+"K")), fmt.Sprintf("v%d", rapid.IntRange(0, values-1).Draw(t, name+"V")))
			}
			return &p
		}
		users := func(name string) *sketch.HLL {
			var h sketch.HLL
			for range rapid.IntRange(0, 2000).Draw(t, name+"Users") {
				h.Add(fmt.Sprintf("u%d", rapid.IntRange(0, 5000).Draw(t, name+"U")))
			}
			return &h
		}
		pa, pb := props("a"), props("b")
		encA, _ := pa.MarshalBinary()
		encB, _ := pb.MarshalBinary()
		var viaMerge, viaBinary sketch.Props
		if err := viaMerge.UnmarshalBinary(encA); err != nil {
			t.Fatal(err)
		}
		viaMerge.Merge(pb)
		if err := viaBinary.UnmarshalBinary(encA); err != nil {
			t.Fatal(err)
		}
		if err := viaBinary.MergeBinary(encB); err != nil {
			t.Fatal(err)
		}
		m1, _ := viaMerge.MarshalBinary()
		m2, _ := viaBinary.MarshalBinary()
		if !slices.Equal(m1, m2) {
			t.Fatalf("props: MergeBinary differs from Merge")
		}

		ha, hb := users("a"), users("b")
		encA, _ = ha.MarshalBinary()
		encB, _ = hb.MarshalBinary()
		var hMerge, hBinary sketch.HLL
		_ = hMerge.UnmarshalBinary(encA)
		hMerge.Merge(hb)
		_ = hBinary.UnmarshalBinary(encA)
		if err := hBinary.MergeBinary(encB); err != nil {
			t.Fatal(err)
		}
		m1, _ = hMerge.MarshalBinary()
		m2, _ = hBinary.MarshalBinary()
		if !slices.Equal(m1, m2) {
			t.Fatalf("users: MergeBinary differs from Merge")
		}
	})
}
