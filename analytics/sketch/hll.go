package sketch

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/bits"
	"slices"
)

// HyperLogLog precision: 2^12 registers, a standard error of about 1.6%.
const (
	hllP = 12
	hllM = 1 << hllP
	// sparseMax is how many distinct hashes an HLL keeps exactly before it
	// switches to registers: the point where the list would outgrow them.
	sparseMax = hllM / 8
)

// HLL counts distinct strings. Up to sparseMax distinct values it keeps
// their 64-bit hashes and counts exactly; past that it is a HyperLogLog
// (Flajolet et al. 2007) with 4096 registers. The zero value is empty and
// ready to use.
type HLL struct {
	sparse []uint64 // sorted distinct hashes, while regs is nil
	regs   []uint8
}

// Hash returns the stable 64-bit hash HLL uses for s: FNV-1a mixed with
// the SplitMix64 finalizer so every bit is usable.
func Hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Add records s.
func (h *HLL) Add(s string) { h.AddHash(Hash(s)) }

// AddHash records a value by its Hash.
func (h *HLL) AddHash(x uint64) {
	if h.regs != nil {
		h.setReg(x)
		return
	}
	i, found := slices.BinarySearch(h.sparse, x)
	if found {
		return
	}
	h.sparse = slices.Insert(h.sparse, i, x)
	if len(h.sparse) > sparseMax {
		h.toDense()
	}
}

func (h *HLL) setReg(x uint64) {
	idx := x >> (64 - hllP)
	rank := uint8(bits.LeadingZeros64(x<<hllP|1<<(hllP-1)) + 1)
	if rank > h.regs[idx] {
		h.regs[idx] = rank
	}
}

func (h *HLL) toDense() {
	h.regs = make([]uint8, hllM)
	for _, x := range h.sparse {
		h.setReg(x)
	}
	h.sparse = nil
}

// Merge adds o's values to h.
func (h *HLL) Merge(o *HLL) {
	if o == nil {
		return
	}
	if o.regs != nil {
		h.mergeDense(o.regs)
		return
	}
	if h.regs != nil {
		for _, x := range o.sparse {
			h.setReg(x)
		}
		return
	}
	// Both sparse: a sorted union.
	out := make([]uint64, 0, len(h.sparse)+len(o.sparse))
	a, b := h.sparse, o.sparse
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case a[0] > b[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	out = append(append(out, a...), b...)
	h.sparse = out
	if len(h.sparse) > sparseMax {
		h.toDense()
	}
}

// maxRank is the largest register value: the rank of a hash whose
// 64-hllP remaining bits are all zero.
const maxRank = 64 - hllP + 1

// pow2neg[r] is 2^-r, for the registers' sum in Count.
var pow2neg = func() (t [64]float64) {
	for r := range t {
		t[r] = math.Ldexp(1, -r)
	}
	return t
}()

// Registers are at most maxRank (53) and so use 7 bits: eight of them in
// a uint64 compare at once (SWAR), without a carry crossing bytes.
const (
	lowBytes  = 0x0101010101010101
	highBits  = 0x8080808080808080
	rankLimit = (0x80 - (maxRank + 1)) * lowBytes // adds up to 0x80 in a byte above maxRank
)

// maxRegs sets each of dst's registers to the larger of it and src's.
// Both hold hllM valid registers.
func maxRegs(dst, src []uint8) {
	_ = dst[hllM-1]
	_ = src[hllM-1]
	for i := 0; i < hllM; i += 8 {
		a := binary.LittleEndian.Uint64(dst[i:])
		b := binary.LittleEndian.Uint64(src[i:])
		// The high bit of each byte stays set where a >= b.
		ge := ((a | highBits) - b) & highBits
		mask := (ge >> 7) * 0xff
		binary.LittleEndian.PutUint64(dst[i:], a&mask|b&^mask)
	}
}

// regsValid reports whether every register is at most maxRank.
func regsValid(regs []uint8) bool {
	for i := 0; i+8 <= len(regs); i += 8 {
		x := binary.LittleEndian.Uint64(regs[i:])
		if x&highBits != 0 || (x+rankLimit)&highBits != 0 {
			return false
		}
	}
	return true
}

// Count returns the number of distinct values: exact up to 512, an
// estimate within a few percent past that.
func (h *HLL) Count() uint64 {
	if h.regs == nil {
		return uint64(len(h.sparse))
	}
	var sum float64
	zeros := 0
	for _, r := range h.regs {
		sum += pow2neg[r&63]
		if r == 0 {
			zeros++
		}
	}
	m := float64(hllM)
	alpha := 0.7213 / (1 + 1.079/m)
	est := alpha * m * m / sum
	if est <= 2.5*m && zeros > 0 {
		est = m * math.Log(m/float64(zeros)) // linear counting for small sets
	}
	return uint64(est + 0.5)
}

// MarshalBinary encodes h: a version byte, then 0 and the sorted hashes
// as varint deltas (exact form), or 1 and the 4096 registers.
func (h *HLL) MarshalBinary() ([]byte, error) {
	if h.regs != nil {
		b := make([]byte, 0, 2+hllM)
		b = append(b, hllVersion, 1)
		return append(b, h.regs...), nil
	}
	b := make([]byte, 0, 4+len(h.sparse)*9)
	b = append(b, hllVersion, 0)
	b = binary.AppendUvarint(b, uint64(len(h.sparse)))
	var prev uint64
	for _, x := range h.sparse {
		b = binary.AppendUvarint(b, x-prev)
		prev = x
	}
	return b, nil
}

// MergeBinary merges what MarshalBinary wrote into h, as UnmarshalBinary
// and Merge would, without copying dense registers first.
func (h *HLL) MergeBinary(b []byte) error {
	if len(b) != 2+hllM || b[0] != hllVersion || b[1] != 1 {
		var o HLL
		if err := o.UnmarshalBinary(b); err != nil {
			return err
		}
		h.Merge(&o)
		return nil
	}
	regs := b[2:]
	if !regsValid(regs) {
		return errCorrupt
	}
	h.mergeDense(regs)
	return nil
}

// mergeDense merges dense registers into h: a copy of them when h is
// empty, else the larger of each pair.
func (h *HLL) mergeDense(regs []uint8) {
	if h.regs == nil && len(h.sparse) == 0 {
		h.regs = slices.Clone(regs)
		return
	}
	if h.regs == nil {
		h.toDense()
	}
	maxRegs(h.regs, regs)
}

// UnmarshalBinary decodes what MarshalBinary wrote, replacing h.
func (h *HLL) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	if r.byte() != hllVersion {
		return errCorrupt
	}
	*h = HLL{}
	switch r.byte() {
	case 0:
		n := r.uvarint()
		if r.err != nil || n > sparseMax {
			return errCorrupt
		}
		h.sparse = make([]uint64, 0, n)
		var prev uint64
		for range n {
			x := prev + r.uvarint()
			if len(h.sparse) > 0 && x <= prev {
				return errCorrupt
			}
			h.sparse = append(h.sparse, x)
			prev = x
		}
	case 1:
		h.regs = slices.Clone(r.bytes(hllM))
		if len(h.regs) != hllM || !regsValid(h.regs) {
			return errCorrupt
		}
	default:
		return errCorrupt
	}
	if r.err != nil || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}
