package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/cmd/paybench/internal/driver"
	"github.com/payengine/payengine/cmd/paybench/internal/target"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/simnet"
)

// result makes one payment of a hand-written run.
func result(seq int, amount graph.MilliSat, latency time.Duration, ok bool, fee graph.MilliSat, attempts int, maxFlow graph.MilliSat, single bool) driver.Result {
	start := time.Duration(seq) * 10 * time.Millisecond
	r := driver.Result{Seq: seq, Amount: amount, Due: start, Started: start, Ended: start + latency,
		Outcome: target.Outcome{Complete: ok, Attempts: attempts}, Feasibility: &simnet.Feasibility{MaxFlow: maxFlow, SinglePath: single},
		OracleTime: time.Millisecond}
	if ok {
		r.Outcome.AmountSent = amount + fee
	} else {
		r.Outcome.Code, r.Outcome.FailCode = 204, 0x1007
	}
	return r
}

// TestBuild checks each figure against a run written by hand: buckets at
// their edges, percentiles, failures grouped by code, fees in ppm, the
// attempts histogram, feasibility and the warm-up left out.
func TestBuild(t *testing.T) {
	run := &driver.Run{Elapsed: 2500 * time.Millisecond, Oracle: true, Results: []driver.Result{
		result(0, 999_999, 10*time.Millisecond, true, 1000, 1, 999_999, true),             // <1k sat
		result(1, 1_000_000, 20*time.Millisecond, true, 100, 2, 1_000_000, false),         // 1k-10k, split only
		result(2, 1_000_000, 30*time.Millisecond, false, 0, 3, 5, false),                  // 1k-10k, infeasible
		result(3, 1_000_000_000, 40*time.Millisecond, false, 0, 1, 1_000_000_000, true),   // >=1M, feasible, failed
		result(4, 100_000_000, 1000*time.Millisecond, true, 10_000, 1, 50_000_000, false), // 100k-1M, "infeasible" success
	}}
	warm := result(5, 5, time.Hour, true, 1, 9, 5, true)
	warm.Warmup = true
	run.Results = append(run.Results, warm)
	rep := Build(run, target.Info{Mode: "embedded"}, AttemptsSource)

	if rep.Run.Measured != 5 || rep.Run.Warmup != 1 || rep.Run.Payments != 6 || len(rep.Payments) != 6 {
		t.Errorf("run %+v with %d payments listed", rep.Run, len(rep.Payments))
	}
	// Window: from 0 to payment 4's end, 40 ms + 1 s.
	if w := rep.Run.WindowSeconds; math.Abs(w-1.04) > 1e-9 {
		t.Errorf("window %g s, want 1.04", w)
	}
	if tp := rep.Throughput.Payments; math.Abs(tp-5/1.04) > 1e-9 {
		t.Errorf("throughput %g/s, want %g", tp, 5/1.04)
	}
	if l := rep.Latency; l.Count != 5 || math.Abs(l.P50-30) > 0.05 || math.Abs(l.Max-1000) > 1 || l.P90 < 999 {
		t.Errorf("latency %+v", l)
	}
	if s := rep.Success; s.Succeeded != 3 || s.Failed != 2 || s.Rate != 0.6 || s.AmountMsat != 1_102_999_999 {
		t.Errorf("success %+v", s)
	}
	wantBuckets := []struct{ payments, ok, feasible, single int }{{1, 1, 1, 1}, {2, 1, 1, 0}, {0, 0, 0, 0}, {1, 1, 0, 0}, {1, 0, 1, 1}}
	for i, w := range wantBuckets {
		b := rep.Buckets[i]
		if b.Payments != w.payments || b.Succeeded != w.ok || *b.Feasible != w.feasible || *b.SinglePath != w.single {
			t.Errorf("bucket %s: %d payments, %d ok, %d feasible, %d single; want %+v", b.Label, b.Payments, b.Succeeded,
				*b.Feasible, *b.SinglePath, w)
		}
	}
	if f := rep.Failures; len(f) != 1 || f[0].Count != 2 || f[0].Code != 204 || f[0].FailCodeName != "WIRE_TEMPORARY_CHANNEL_FAILURE" {
		t.Errorf("failures %+v", f)
	}
	// Fees: 1000 on 999,999, 100 on 1,000,000, 10,000 on 100,000,000.
	if f := rep.Fees; f.PaidMsat != 11_100 || math.Abs(f.PPM-11_100e6/101_999_999) > 1e-6 || math.Abs(f.MedianPPM-100) > 1e-9 ||
		math.Abs(f.MaxPPM-1000.001) > 1e-3 {
		t.Errorf("fees %+v", f)
	}
	if a := rep.Attempts; a.Known != 5 || a.Max != 3 || a.Mean != 1.6 || len(a.Histogram) != 3 || a.Histogram[0] != (AttemptBin{1, 3}) {
		t.Errorf("attempts %+v", a)
	}
	if f := rep.Feasibility; f.Feasible != 3 || f.SinglePath != 2 || f.SucceededInfeasible != 1 || math.Abs(f.SucceededOfFeasible-2.0/3) > 1e-9 {
		t.Errorf("feasibility %+v", f)
	}
	if tl := rep.Timeline; len(tl) != 3 || tl[0].Done != 4 || tl[1].Done != 1 || tl[2].Done != 1 || !tl[2].Warmup {
		t.Errorf("timeline %+v", tl)
	}
	total := 0
	for _, b := range rep.LatencyHistogram {
		total += b.Count
	}
	if total != 5 {
		t.Errorf("the latency histogram holds %d payments", total)
	}
	// The JSON names the figures; the text says them.
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"payments_per_s"`, `"p99_9"`, `"succeeded_of_feasible"`, `"failcodename"`, `"ppm"`, `"max_flow_msat"`} {
		if !bytes.Contains(js, []byte(key)) {
			t.Errorf("the JSON lacks %s", key)
		}
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"60.0%", "WIRE_TEMPORARY_CHANNEL_FAILURE", "1k-10k sat", "p50 30.0"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, text.String())
		}
	}
}

// TestNoOracle: without an oracle (an RPC target) feasibility is n/a
// everywhere, not zero.
func TestNoOracle(t *testing.T) {
	r := result(0, 5000, time.Millisecond, true, 1, 1, 0, false)
	r.Feasibility = nil
	rep := Build(&driver.Run{Elapsed: time.Second, Results: []driver.Result{r}}, target.Info{Mode: "rpc"}, "")
	if rep.Feasibility.Available || rep.Buckets[0].Feasible != nil || rep.Attempts.Known != 0 {
		t.Errorf("feasibility %+v, bucket %+v, attempts %+v", rep.Feasibility, rep.Buckets[0], rep.Attempts)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "feasible     n/a") || !strings.Contains(text.String(), "attempts     n/a") {
		t.Errorf("the summary does not say n/a:\n%s", text.String())
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, "https://example.org/echarts.min.js", rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `<script src="https://example.org/echarts.min.js"></script>`) {
		t.Error("--echarts-js URL: the page does not load ECharts from it")
	}
}
