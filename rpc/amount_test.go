package rpc

import (
	"testing"

	"github.com/payengine/payengine/graph"
)

// Spec section 1: param_msat's forms, exact, and everything it refuses.
func TestParseAmount(t *testing.T) {
	for i, tt := range []struct {
		in   string
		want graph.MilliSat
		ok   bool
	}{
		// N and Nmsat are millisatoshis, Nsat satoshis.
		{"123", 123, true},
		{"0", 0, true},
		{"007", 7, true},
		{"123msat", 123, true},
		{"5sat", 5000, true},
		{"0sat", 0, true},
		{"18446744073709551615", 18446744073709551615, true},
		{"18446744073709551615msat", 18446744073709551615, true},
		{"18446744073709551sat", 18446744073709551000, true},
		// N.D{1,11}btc, exact.
		{"0.001btc", 100_000_000, true},
		{"1.0btc", 100_000_000_000, true},
		{"0.00000000001btc", 1, true},
		{"21000000.00000000000btc", 2_100_000_000_000_000_000, true},
		{"184467440.73709551615btc", 18446744073709551615, true},
		// Refused: btc without its point, too many decimals (a fraction
		// of a msat), fractions of msat or sat (the v0.7 code refuses
		// "1.234sat"), signs, exponents, overflow, junk.
		{"1btc", 0, false},
		{"1.btc", 0, false},
		{".5btc", 0, false},
		{"0.000000000001btc", 0, false},
		{"1.5msat", 0, false},
		{"1.5", 0, false},
		{"1.234sat", 0, false},
		{"-5", 0, false},
		{"-5msat", 0, false},
		{"+5", 0, false},
		{"1e3", 0, false},
		{"18446744073709551616", 0, false},
		{"18446744073709552sat", 0, false},
		{"184467440.73709551616btc", 0, false},
		{"184467441.0btc", 0, false},
		{"", 0, false},
		{"msat", 0, false},
		{"sat", 0, false},
		{"5 sat", 0, false},
		{"5SAT", 0, false},
		{"0x10", 0, false},
	} {
		got, ok := ParseAmount(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("#%d ParseAmount(%q) = %d, %v; want %d, %v", i, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
