package report

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Comparison is the same workload run with two settings; its JSON form is
// what --json writes with --compare.
type Comparison struct {
	A *Report `json:"a"`
	B *Report `json:"b"`
	// Ratios are B's figure over A's (0 where A's is 0).
	Ratios []Ratio `json:"ratios"`
}

// Ratio is one figure of both runs.
type Ratio struct {
	Figure string  `json:"figure"`
	A      float64 `json:"a"`
	B      float64 `json:"b"`
	Ratio  float64 `json:"ratio"`
}

// Compare pairs two reports.
func Compare(a, b *Report) *Comparison {
	c := &Comparison{A: a, B: b}
	add := func(name string, fa, fb float64) {
		r := Ratio{Figure: name, A: fa, B: fb}
		if fa != 0 {
			r.Ratio = fb / fa
		}
		c.Ratios = append(c.Ratios, r)
	}
	add("payments/s", a.Throughput.Payments, b.Throughput.Payments)
	add("succeeded/s", a.Throughput.Succeeded, b.Throughput.Succeeded)
	add("latency p50 ms", a.Latency.P50, b.Latency.P50)
	add("latency p90 ms", a.Latency.P90, b.Latency.P90)
	add("latency p99 ms", a.Latency.P99, b.Latency.P99)
	add("latency max ms", a.Latency.Max, b.Latency.Max)
	add("success rate", a.Success.Rate, b.Success.Rate)
	add("fee ppm", a.Fees.PPM, b.Fees.PPM)
	add("fee median ppm", a.Fees.MedianPPM, b.Fees.MedianPPM)
	add("attempts mean", a.Attempts.Mean, b.Attempts.Mean)
	if a.Feasibility.Available && b.Feasibility.Available {
		add("feasible", float64(a.Feasibility.Feasible), float64(b.Feasibility.Feasible))
		add("success/feasible", a.Feasibility.SucceededOfFeasible, b.Feasibility.SucceededOfFeasible)
	}
	if a.Parts.Known > 0 && b.Parts.Known > 0 {
		add("HTLCs per success", a.Parts.HTLCsPerSuccess, b.Parts.HTLCsPerSuccess)
		add("parts per success", a.Parts.PartsPerSuccess, b.Parts.PartsPerSuccess)
	}
	if a.Parts.Planner != nil && b.Parts.Planner != nil {
		add("planner p50 ms", a.Parts.Planner.P50, b.Parts.Planner.P50)
		add("planner p99 ms", a.Parts.Planner.P99, b.Parts.Planner.P99)
	}
	for i := range a.Buckets {
		if i < len(b.Buckets) {
			add("success "+a.Buckets[i].Label, a.Buckets[i].SuccessRate, b.Buckets[i].SuccessRate)
		}
	}
	return c
}

// WriteText writes both summaries, then the figures side by side.
func (c *Comparison) WriteText(w io.Writer) error {
	for _, r := range []*Report{c.A, c.B} {
		if err := r.WriteText(w); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t%s\tB/A\t\n", c.A.Label, c.B.Label)
	for _, r := range c.Ratios {
		ratio := "-"
		if r.A != 0 {
			ratio = fmt.Sprintf("%.3f", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.Figure, fig(r.A), fig(r.B), ratio)
	}
	return tw.Flush()
}

// fig prints a figure compactly.
func fig(v float64) string {
	if v == float64(int64(v)) && v < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	if v < 1 {
		return fmt.Sprintf("%.4f", v)
	}
	return num(v)
}
