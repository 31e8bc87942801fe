package graph

import (
	"errors"
	"math/bits"
	"strconv"
)

// MilliSat is an amount in millisatoshis, the unit of every amount in
// payengine.
type MilliSat uint64

// ErrOverflow is returned when an amount computation does not fit in 64 bits.
var ErrOverflow = errors.New("graph: amount overflow")

// String formats the amount the way Core Lightning prints it ("123msat").
func (m MilliSat) String() string { return strconv.FormatUint(uint64(m), 10) + "msat" }

// Add returns m+o, or ErrOverflow.
func (m MilliSat) Add(o MilliSat) (MilliSat, error) {
	s, carry := bits.Add64(uint64(m), uint64(o), 0)
	if carry != 0 {
		return 0, ErrOverflow
	}
	return MilliSat(s), nil
}

// Fee returns the fee a channel with this base and proportional rate charges
// to forward amt: base + floor(amt*ppm/1e6), as BOLT 7 and CLN's
// amount_msat_fee compute it. It returns ErrOverflow if the result does not
// fit in 64 bits; amounts from the network can be anything.
func Fee(amt MilliSat, baseMsat, ppm uint32) (MilliSat, error) {
	hi, lo := bits.Mul64(uint64(amt), uint64(ppm))
	if hi >= 1_000_000 {
		return 0, ErrOverflow
	}
	prop, _ := bits.Div64(hi, lo, 1_000_000)
	return MilliSat(prop).Add(MilliSat(baseMsat))
}
