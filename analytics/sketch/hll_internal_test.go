package sketch

import (
	"testing"

	"pgregory.net/rapid"
)

// TestRegisterOps checks the eight-at-a-time register operations against
// one register at a time.
func TestRegisterOps(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		a := rapid.SliceOfN(rapid.Uint8Range(0, maxRank), hllM, hllM).Draw(t, "a")
		b := rapid.SliceOfN(rapid.Uint8Range(0, maxRank), hllM, hllM).Draw(t, "b")
		want := make([]uint8, hllM)
		for i := range want {
			want[i] = max(a[i], b[i])
		}
		got := append([]uint8(nil), a...)
		maxRegs(got, b)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("register %d: max(%d, %d) = %d", i, a[i], b[i], got[i])
			}
		}
		if !regsValid(a) {
			t.Fatal("valid registers refused")
		}
		bad := append([]uint8(nil), a...)
		i := rapid.IntRange(0, hllM-1).Draw(t, "i")
		bad[i] = rapid.Uint8Range(maxRank+1, 255).Draw(t, "bad")
		if regsValid(bad) {
			t.Fatalf("register %d = %d accepted", i, bad[i])
		}
	})
}

// TestStoreMerge checks a DDSketch store's merge against adding the other
// store's bins one at a time, with stores wide enough to collapse.
func TestStoreMerge(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		draw := func(name string) store {
			var s store
			n := rapid.IntRange(0, 50).Draw(t, name+"Adds")
			for range n {
				i := rapid.Int32Range(-3000, 3000).Draw(t, name+"Index")
				s.add(i, rapid.Uint64Range(0, 5).Draw(t, name+"Count"))
			}
			return s
		}
		a, b := draw("a"), draw("b")
		want := store{offset: a.offset, counts: append([]uint64(nil), a.counts...)}
		for i, c := range b.counts {
			if c > 0 {
				want.add(b.offset+int32(i), c)
			}
		}
		got := store{offset: a.offset, counts: append([]uint64(nil), a.counts...)}
		got.merge(&b)
		if len(want.counts) == 0 && len(got.counts) == 0 {
			return
		}
		if got.offset != want.offset || len(got.counts) != len(want.counts) {
			t.Fatalf("merged offset %d, %d bins; want %d, %d", got.offset, len(got.counts), want.offset, len(want.counts))
		}
		for i := range want.counts {
			if got.counts[i] != want.counts[i] {
				t.Fatalf("bin %d: %d, want %d", i, got.counts[i], want.counts[i])
			}
		}
	})
}
