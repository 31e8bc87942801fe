package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/payengine/payengine/payment"
)

// SetParams records pay's parameters in the setup.
func (s *Setup) SetParams(p payment.PayParams) {
	s.RiskFactor, s.MaxFeePercent, s.ExemptFeeMsat = p.RiskFactor, p.MaxFeePercent, uint64(p.ExemptFee)
	s.RetryFor, s.MaxDelay = p.RetryFor.String(), p.MaxDelay
}

// WriteText writes the human summary.
func (rep *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	s, t := rep.Setup, rep.Target
	title := "paybench"
	if rep.Label != "" {
		title += " [" + rep.Label + "]"
	}
	p.f("%s: %s engine on %s (%d nodes, %d channels), seed %d\n", title, t.Mode, orNA(t.Graph), t.Nodes, t.Channels, s.Seed)
	if t.Members != nil {
		p.f("payer: a fleet front-end over %d members (it picks the member of each payment; feasibility n/a)\n", len(t.Members))
	}
	if t.Simnet != "" {
		p.f("network: simnetd's control socket %s\n", t.Simnet)
	}
	p.f("workload: %s; amounts %s; destinations %s\n", loop(s), s.Amounts, s.Dest)
	p.f("pay: riskfactor %g, maxfeepercent %g, exemptfee %d msat, retry_for %s, maxdelay %d%s\n",
		s.RiskFactor, s.MaxFeePercent, s.ExemptFeeMsat, s.RetryFor, s.MaxDelay, maxParts(s))
	if rep.Run.Interrupted {
		p.f("INTERRUPTED: the figures cover the payments made before the interrupt\n")
	}
	p.f("\n")
	r := rep.Run
	p.f("payments     %d measured (%d warm-up) in %.2f s; window %.2f s\n", r.Measured, r.Warmup, r.ElapsedSeconds, r.WindowSeconds)
	p.f("throughput   %.1f payments/s, %.1f succeeded/s\n", rep.Throughput.Payments, rep.Throughput.Succeeded)
	p.f("latency      %s  (pay call, all measured)\n", pct(rep.Latency))
	p.f("  succeeded  %s\n", pct(rep.LatencySucceeded))
	if rep.Response != nil {
		p.f("  from due   %s  (open loop: from each payment's arrival)\n", pct(*rep.Response))
	}
	sc := rep.Success
	p.f("success      %d/%d = %.1f%%\n", sc.Succeeded, sc.Payments, 100*sc.Rate)
	f := rep.Fees
	p.f("fees         %.1f ppm of the amount overall; per payment median %.0f, p90 %.0f, max %.0f ppm\n", f.PPM, f.MedianPPM, f.P90PPM, f.MaxPPM)
	a := rep.Attempts
	if a.Known > 0 {
		var bins []string
		for _, b := range a.Histogram {
			bins = append(bins, fmt.Sprintf("%d:%d", b.Attempts, b.Payments))
		}
		p.f("attempts     mean %.2f, max %d  [%s]\n", a.Mean, a.Max, strings.Join(bins, " "))
	} else {
		p.f("attempts     n/a\n")
	}
	fe := rep.Feasibility
	if fe.Available {
		p.f("feasible     %d/%d (%d over one path); %.1f%% of the feasible succeeded; %d successes the oracle called infeasible\n",
			fe.Feasible, sc.Payments, fe.SinglePath, 100*fe.SucceededOfFeasible, fe.SucceededInfeasible)
		p.f("             oracle %.3f ms mean, %.3f ms max per payment (an upper bound: fees ignored)\n", fe.OracleMeanMs, fe.OracleMaxMs)
	} else {
		p.f("feasible     n/a (%s)\n", fe.Note)
	}
	pa := rep.Parts
	if pa.Known > 0 {
		p.f("parts        %.2f HTLCs sent and %.2f parts settled per success (max %d parts); %.2f attempts per success\n",
			pa.HTLCsPerSuccess, pa.PartsPerSuccess, pa.MaxParts, pa.AttemptsPerSuccess)
	} else {
		p.f("parts        n/a (the target does not see the network)\n")
	}
	if pl := pa.Planner; pl != nil {
		over := map[bool]string{true: ">"}
		p.f("planner      p50 %s%.3f ms, p99 %s%.3f ms over %d searches (%s)\n", over[pl.P50Over], pl.P50, over[pl.P99Over], pl.P99, pl.Count, pl.Source)
	}
	p.f("\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "amount\tpayments\tsuccess\tfeasible\tone path\tsuccess/feasible\t\n")
	for _, b := range rep.Buckets {
		if b.Feasible == nil {
			fmt.Fprintf(tw, "%s\t%d\t%s\tn/a\tn/a\tn/a\t\n", b.Label, b.Payments, percent(b.Succeeded, b.Payments))
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", b.Label, b.Payments, percent(b.Succeeded, b.Payments),
			percent(*b.Feasible, b.Payments), percent(*b.SinglePath, b.Payments), percentOf(*b.SucceededOfFeasible, *b.Feasible))
	}
	p.err = tw.Flush()
	if len(rep.Failures) > 0 {
		p.f("\nfailures\n")
		for _, fl := range rep.Failures {
			p.f("  %5d  %-32s %-40s %d\n", fl.Code, fl.Name, fl.FailCodeName, fl.Count)
		}
	}
	return p.err
}

// printer keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func loop(s Setup) string {
	var b strings.Builder
	if s.Loop == "open" {
		fmt.Fprintf(&b, "open loop at %g/s (at most %d in flight)", s.Rate, s.Concurrency)
	} else {
		fmt.Fprintf(&b, "closed loop, %d in flight", s.Concurrency)
	}
	if s.Payments > 0 {
		fmt.Fprintf(&b, ", %d payments", s.Payments)
	}
	if s.Duration != "" {
		fmt.Fprintf(&b, ", for %s", s.Duration)
	}
	if s.Warmup != "" {
		fmt.Fprintf(&b, ", warm-up %s", s.Warmup)
	}
	return b.String()
}

func pct(p Percentiles) string {
	if p.Count == 0 {
		return "n/a"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s ms", num(p.P50), num(p.P90), num(p.P99), num(p.P999), num(p.Max))
}

// num prints a millisecond figure with 3 significant digits or so.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func percent(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

func percentOf(r float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*r)
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// maxParts describes the maxparts setting, if any.
func maxParts(s Setup) string {
	switch {
	case s.MaxParts == 0:
		return ""
	case s.MaxPartsApplied:
		return fmt.Sprintf(", maxparts %d", s.MaxParts)
	}
	return fmt.Sprintf(", maxparts %d (NOT passed: the engine pays single-part)", s.MaxParts)
}
