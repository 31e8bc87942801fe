package rpc

import (
	"math/bits"
	"strings"

	"github.com/payengine/payengine/graph"
)

// msatPerBTC is 10^11: a bitcoin is 10^8 satoshis of 1000 millisatoshis.
const msatPerBTC = 100_000_000_000

// ParseAmount parses an amount as Core Lightning's param_msat takes it
// (spec section 1, v0.7.3 parse_amount_msat): "N" and "Nmsat" are
// millisatoshis, "Nsat" satoshis, "N.Dbtc" bitcoin with 1 to 11 decimals
// (btc needs the point). The result is exact: no sign, no exponent, no
// fraction of a millisatoshi, nothing that overflows 64 bits of msat; such
// inputs report false. "1.5sat", which the docs allow and the code refuses,
// is refused.
func ParseAmount(s string) (graph.MilliSat, bool) {
	switch {
	case strings.HasSuffix(s, "msat"):
		return digits(s[:len(s)-4])
	case strings.HasSuffix(s, "sat"):
		v, ok := digits(s[:len(s)-3])
		if !ok {
			return 0, false
		}
		hi, lo := bits.Mul64(uint64(v), 1000)
		return graph.MilliSat(lo), hi == 0
	case strings.HasSuffix(s, "btc"):
		whole, frac, found := strings.Cut(s[:len(s)-3], ".")
		if !found || len(frac) == 0 || len(frac) > 11 {
			return 0, false
		}
		w, ok1 := digits(whole)
		f, ok2 := digits(frac + strings.Repeat("0", 11-len(frac)))
		if !ok1 || !ok2 {
			return 0, false
		}
		hi, lo := bits.Mul64(uint64(w), msatPerBTC)
		sum, carry := bits.Add64(lo, uint64(f), 0)
		return graph.MilliSat(sum), hi == 0 && carry == 0
	}
	return digits(s)
}

// digits parses a non-empty run of decimal digits into 64 bits.
func digits(s string) (graph.MilliSat, bool) {
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		hi, lo := bits.Mul64(v, 10)
		sum, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, false
		}
		v = sum
	}
	return graph.MilliSat(v), true
}
