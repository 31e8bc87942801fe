package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/graph"
)

// Standard is --standard-mpp's result: one run per amount and side, each
// on a fresh network, and a row of figures for each; its JSON form is what
// --json writes.
type Standard struct {
	Rows []StandardRow `json:"rows"`
	Runs []*Report     `json:"runs"`
}

// StandardRow is one run's figures: success against the max-flow oracle,
// HTLCs and parts per success, and planner time.
type StandardRow struct {
	AmountMsat uint64 `json:"amount_msat"`
	Side       string `json:"side"`
	// MaxPartsApplied is false while the engine does not take maxparts
	// (both sides are then single-part).
	MaxPartsApplied bool `json:"maxparts_applied"`
	Payments        int  `json:"payments"`
	Succeeded       int  `json:"succeeded"`
	// Feasible counts payments whose max flow reached the amount,
	// SinglePath those one path could carry whole.
	Feasible            int     `json:"feasible"`
	SinglePath          int     `json:"single_path"`
	SucceededOfFeasible float64 `json:"succeeded_of_feasible"`
	HTLCsPerSuccess     float64 `json:"htlcs_per_success"`
	PartsPerSuccess     float64 `json:"parts_per_success"`
	AttemptsPerSuccess  float64 `json:"attempts_per_success"`
	PlannerP50Ms        float64 `json:"planner_p50_ms"`
	PlannerP99Ms        float64 `json:"planner_p99_ms"`
	// PlannerP99Over: the p99 is above the metric's largest bucket, and
	// PlannerP99Ms that bound (a lower bound).
	PlannerP99Over bool `json:"planner_p99_over,omitempty"`
}

// NewStandard makes the rows of the runs, in their order.
func NewStandard(runs []*Report) *Standard {
	st := &Standard{Runs: runs}
	for _, r := range runs {
		row := StandardRow{Side: fmt.Sprintf("maxparts=%d", r.Setup.MaxParts), MaxPartsApplied: r.Setup.MaxPartsApplied, Payments: r.Success.Payments,
			Succeeded: r.Success.Succeeded, Feasible: r.Feasibility.Feasible, SinglePath: r.Feasibility.SinglePath,
			SucceededOfFeasible: r.Feasibility.SucceededOfFeasible, HTLCsPerSuccess: r.Parts.HTLCsPerSuccess,
			PartsPerSuccess: r.Parts.PartsPerSuccess, AttemptsPerSuccess: r.Parts.AttemptsPerSuccess}
		if r.Success.Payments > 0 {
			row.AmountMsat = r.Success.AmountMsat / uint64(r.Success.Payments)
		}
		if p := r.Parts.Planner; p != nil {
			row.PlannerP50Ms, row.PlannerP99Ms, row.PlannerP99Over = p.P50, p.P99, p.P99Over
		}
		st.Rows = append(st.Rows, row)
	}
	return st
}

// WriteText writes the setting and one line per run.
func (st *Standard) WriteText(w io.Writer) error {
	p := &printer{w: w}
	if len(st.Runs) == 0 {
		p.f("paybench --standard-mpp: no run\n")
		return p.err
	}
	r := st.Runs[0]
	s, t := r.Setup, r.Target
	p.f("paybench --standard-mpp: %s engine on %s (%d nodes, %d channels), seed %d, a fresh network per amount and side\n",
		t.Mode, orNA(t.Graph), t.Nodes, t.Channels, s.Seed)
	p.f("workload: %s per run; destinations %s\n", loop(s), s.Dest)
	p.f("pay: riskfactor %g, maxfeepercent %g, exemptfee %d msat, retry_for %s, maxdelay %d\n",
		s.RiskFactor, s.MaxFeePercent, s.ExemptFeeMsat, s.RetryFor, s.MaxDelay)
	for _, row := range st.Rows {
		if !row.MaxPartsApplied {
			p.f("NOTE: the engine does not take maxparts yet: every side paid single-part\n")
			break
		}
	}
	if s.Concurrency == 1 {
		p.f("one payment at a time: the oracle, asked at each start, sees no liquidity promised to a payment in flight\n")
	} else {
		p.f("NOTE: %d payments in flight: the oracle, asked at each start, also counts liquidity promised to payments\n"+
			"in flight, so feasible over-counts (the standard run pays one at a time: drop --concurrency)\n", s.Concurrency)
	}
	p.f("success/feasible: successes over the payments the max-flow oracle called feasible (multi-part, fees ignored);\n")
	p.f("HTLCs and parts per success from simnet's ground truth (attempts also count those our own channel refused);\n")
	p.f("planner: the engine's route-search time\n\n")
	if p.err != nil {
		return p.err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "amount\tside\tpayments\tsuccess\tfeasible\tone path\tsuccess/feasible\tHTLCs/success\tparts/success\tattempts/success\tplanner p50 ms\tplanner p99 ms\t\n")
	for _, row := range st.Rows {
		p99 := fmt.Sprintf("%.3f", row.PlannerP99Ms)
		if row.PlannerP99Over {
			p99 = ">" + p99
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.3f\t%s\t\n",
			workload.FormatAmount(graph.MilliSat(row.AmountMsat)), row.Side, row.Payments,
			percent(row.Succeeded, row.Payments), percent(row.Feasible, row.Payments), percent(row.SinglePath, row.Payments),
			percentOf(row.SucceededOfFeasible, row.Feasible), row.HTLCsPerSuccess, row.PartsPerSuccess,
			row.AttemptsPerSuccess, row.PlannerP50Ms, p99)
	}
	return tw.Flush()
}
