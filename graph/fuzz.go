package graph

import (
	"encoding/binary"
	"math"

	"github.com/dchest/siphash"
)

// Seed keys the fuzz hash. The same seed gives every channel the same fuzz,
// so a route request is reproducible; Core Lightning v0.7 draws a fresh one
// per call, which callers can do by passing a random seed. A snapshot keeps
// every channel's hash for the zero seed, its default, so queries with it
// hash nothing and get the tightest search bounds.
type Seed [16]byte

// fuzzScale returns the factor Core Lightning's fuzz_fee multiplies a
// channel's fee by: 1 + fuzz*(2*h/2^64 - 1), h = siphash24(seed, scid), so
// it is fixed per channel for one seed and spread uniformly over
// [1-fuzz, 1+fuzz]. The scid is hashed as its 8 little-endian bytes, as CLN
// hashes its in-memory struct.
func fuzzScale(seed *Seed, scid SCID, fuzz float64) float64 {
	return scaleOf(fuzzHash(seed, scid), fuzz)
}

// fuzzHash is siphash24(seed, scid) as a float64, the form the scale uses.
func fuzzHash(seed *Seed, scid SCID) float64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(scid))
	k0 := binary.LittleEndian.Uint64(seed[:8])
	k1 := binary.LittleEndian.Uint64(seed[8:])
	return float64(siphash.Hash(k0, k1, b[:]))
}

// scaleOf turns a channel's hash into its fee factor.
func scaleOf(h, fuzz float64) float64 {
	// Same operation order as the C expression, so results match bit for bit.
	return 1.0 + 2.0*fuzz*h/math.MaxUint64 - fuzz
}

// applyFuzz scales a fee as CLN's fuzz_fee does (truncating the product);
// ok is false when the result would not fit in 64 bits.
func applyFuzz(fee MilliSat, scale float64) (MilliSat, bool) {
	if scale == 1.0 {
		return fee, true
	}
	f := float64(fee) * scale // scale is in [0, 2]: fuzz is at most 100%
	if f >= math.MaxUint64 {
		return 0, false
	}
	return MilliSat(f), true
}
