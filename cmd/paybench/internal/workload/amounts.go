package workload

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/payengine/payengine/graph"
)

// DefaultMean is SimLN's default expected payment amount: 3,800 sat.
const DefaultMean graph.MilliSat = 3_800_000

// Amounts draws payment amounts. Draw may use the destination (SimLN's
// lognormal does) and must take all its randomness from r.
type Amounts interface {
	Draw(r *rand.Rand, dest Node) graph.MilliSat
	// String describes the distribution for reports.
	String() string
}

// Fixed pays the same amount every time.
type Fixed graph.MilliSat

// Draw implements Amounts.
func (f Fixed) Draw(*rand.Rand, Node) graph.MilliSat { return graph.MilliSat(f) }

func (f Fixed) String() string { return "fixed " + FormatAmount(graph.MilliSat(f)) }

// List pays one of its amounts, each with the same probability.
type List []graph.MilliSat

// Draw implements Amounts.
func (l List) Draw(r *rand.Rand, _ Node) graph.MilliSat { return l[r.IntN(len(l))] }

func (l List) String() string {
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = FormatAmount(a)
	}
	return "uniform over {" + strings.Join(s, ", ") + "}"
}

// LogNormal draws lognormal amounts of mean Mean. With Sigma 0 it follows
// SimLN's random activity: the spread grows with the smaller of our
// capacity (Source) and the destination's, so that
// sigma² = 2·ln(limit/mean) with limit = min(Source, dest capacity)/2,
// and mu = ln(mean) - sigma²/2; when limit is unknown or below the mean
// it pays the mean. A positive Sigma is used for every destination
// instead. Amounts are at least 1 msat.
type LogNormal struct {
	Mean   graph.MilliSat
	Sigma  float64
	Source uint64 // our channels' total capacity, sat
}

// Draw implements Amounts.
func (l LogNormal) Draw(r *rand.Rand, dest Node) graph.MilliSat {
	mean := float64(l.Mean)
	sigma := l.Sigma
	if sigma <= 0 {
		sigma = l.simlnSigma(dest)
	}
	// One normal draw every time, even when sigma is 0, so that the
	// stream stays in step across destinations.
	z := r.NormFloat64()
	mu := math.Log(mean) - sigma*sigma/2
	a := math.Exp(mu + sigma*z)
	if a < 1 {
		return 1
	}
	if a >= math.MaxUint64/2 {
		return math.MaxUint64 / 2
	}
	return graph.MilliSat(a)
}

// simlnSigma is SimLN's spread for a destination (payment_amount in its
// random_activity.rs): 0 when the limit is unknown or below the mean.
func (l LogNormal) simlnSigma(dest Node) float64 {
	limit := l.Source
	if dest.Capacity > 0 && (limit == 0 || dest.Capacity < limit) {
		limit = dest.Capacity
	}
	half := float64(limit) * 1000 / 2
	if half <= float64(l.Mean) {
		return 0
	}
	return math.Sqrt(2 * math.Log(half/float64(l.Mean)))
}

func (l LogNormal) String() string {
	if l.Sigma > 0 {
		return fmt.Sprintf("lognormal, mean %s, sigma %g", FormatAmount(l.Mean), l.Sigma)
	}
	return fmt.Sprintf("lognormal, mean %s, SimLN's spread (sigma² = 2·ln(min(our, their capacity)/2 / mean))", FormatAmount(l.Mean))
}

// ParseAmount parses one amount: a whole number of satoshis ("5000",
// "5000sat") or of millisatoshis ("1500msat"). It must be positive.
func ParseAmount(s string) (graph.MilliSat, error) {
	s = strings.TrimSpace(s)
	unit, num := uint64(1000), s
	switch {
	case strings.HasSuffix(s, "msat"):
		unit, num = 1, strings.TrimSuffix(s, "msat")
	case strings.HasSuffix(s, "sat"):
		num = strings.TrimSuffix(s, "sat")
	}
	v, err := strconv.ParseUint(strings.ReplaceAll(num, "_", ""), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: want a whole number of sat, or of msat with the suffix msat", s)
	}
	if v == 0 {
		return 0, fmt.Errorf("amount %q: must be positive", s)
	}
	if v > math.MaxUint64/unit {
		return 0, fmt.Errorf("amount %q: too large", s)
	}
	return graph.MilliSat(v * unit), nil
}

// ParseAmounts parses --amount: one amount (Fixed) or a comma-separated
// list (List).
func ParseAmounts(s string) (Amounts, error) {
	parts := strings.Split(s, ",")
	var list List
	var errs []error
	for _, p := range parts {
		a, err := ParseAmount(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		list = append(list, a)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(list) == 1 {
		return Fixed(list[0]), nil
	}
	return list, nil
}

// FormatAmount prints an amount in sat, or in msat when it is not a whole
// number of sat.
func FormatAmount(a graph.MilliSat) string {
	if a%1000 == 0 {
		return strconv.FormatUint(uint64(a/1000), 10) + " sat"
	}
	return strconv.FormatUint(uint64(a), 10) + " msat"
}
