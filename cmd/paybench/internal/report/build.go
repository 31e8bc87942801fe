package report

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/cmd/paybench/internal/driver"
	"github.com/payengine/payengine/cmd/paybench/internal/target"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
)

// AttemptsSource says how the embedded target counts attempts.
const AttemptsSource = "the ledger's attempts of each payment hash (every attempt pay wrote, one our own channel refused included); error 210's count when larger"

// FeasibilityNote says what the ceiling is and is not.
const FeasibilityNote = "max-flow from our node to the destination over simnet's live balances just before each payment: " +
	"each channel direction carries min(spendable balance, htlc_maximum), nothing below its htlc_minimum, when disabled " +
	"or unknown, or with every HTLC slot taken; fees ignored, so an upper bound (and a single-part payment needs one path)"

// bucketEdges are the amount buckets' lower bounds in msat: <1k, 1k-10k,
// 10k-100k, 100k-1M and >=1M sat.
var bucketEdges = []graph.MilliSat{0, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000}

var bucketLabels = []string{"<1k sat", "1k-10k sat", "10k-100k sat", "100k-1M sat", ">=1M sat"}

// bucketOf returns the index of an amount's bucket.
func bucketOf(a graph.MilliSat) int {
	i := len(bucketEdges) - 1
	for a < bucketEdges[i] {
		i--
	}
	return i
}

// latencyEdges are the latency histogram's bin edges in ms: 1-2-5 steps.
var latencyEdges = []float64{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 60_000}

// Build computes a run's figures. info describes the target; attempts
// names how the target counted attempts ("" when it cannot).
func Build(run *driver.Run, info target.Info, attempts string) *Report {
	rep := &Report{Tool: "paybench", Target: info, Run: RunInfo{Started: run.Start.UTC(), ElapsedSeconds: run.Elapsed.Seconds(),
		Interrupted: run.Interrupted, Payments: len(run.Results)}}
	var measured []*driver.Result
	for i := range run.Results {
		r := &run.Results[i]
		rep.Payments = append(rep.Payments, paymentOf(r))
		if r.Warmup {
			rep.Run.Warmup++
			continue
		}
		measured = append(measured, r)
	}
	rep.Run.Measured = len(measured)
	rep.window(measured)
	rep.latencies(measured, run)
	rep.outcomes(measured)
	rep.buckets(measured, run.Oracle)
	rep.attempts(measured, attempts)
	rep.fees(measured)
	rep.feasibility(measured, run.Oracle)
	rep.parts(measured)
	rep.timeline(run)
	return rep
}

// window sets the measured window and the throughput over it.
func (rep *Report) window(rs []*driver.Result) {
	if len(rs) == 0 {
		return
	}
	from, to := rs[0].Started, rs[0].Ended
	ok := 0
	for _, r := range rs {
		from, to = min(from, r.Started), max(to, r.Ended)
		if r.Outcome.Complete {
			ok++
		}
	}
	w := (to - from).Seconds()
	rep.Run.WindowSeconds = w
	if w > 0 {
		rep.Throughput = Throughput{Payments: float64(len(rs)) / w, Succeeded: float64(ok) / w}
	}
}

// percentiles summarises durations with an HDR histogram of microseconds
// (1 µs to 1 hour, 3 significant digits; longer values are clamped).
func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	const most = int64(time.Hour / time.Microsecond)
	h := hdrhistogram.New(1, most, 3)
	for _, d := range ds {
		// RecordValue fails only above the highest trackable value.
		_ = h.RecordValue(min(max(d.Microseconds(), 1), most))
	}
	q := func(p float64) float64 { return float64(h.ValueAtPercentile(p)) / 1000 }
	return Percentiles{Count: len(ds), Mean: h.Mean() / 1000, P50: q(50), P90: q(90), P99: q(99), P999: q(99.9),
		Max: float64(h.Max()) / 1000}
}

func (rep *Report) latencies(rs []*driver.Result, run *driver.Run) {
	var all, ok, resp []time.Duration
	for _, r := range rs {
		all = append(all, r.Latency())
		if r.Outcome.Complete {
			ok = append(ok, r.Latency())
		}
		resp = append(resp, r.Ended-r.Due)
	}
	rep.Latency, rep.LatencySucceeded = percentiles(all), percentiles(ok)
	if run.Open {
		p := percentiles(resp)
		rep.Response = &p
	}
	rep.LatencyHistogram = make([]Bin, len(latencyEdges)-1)
	for i := range rep.LatencyHistogram {
		rep.LatencyHistogram[i] = Bin{FromMs: latencyEdges[i], ToMs: latencyEdges[i+1]}
	}
	last := &rep.LatencyHistogram[len(rep.LatencyHistogram)-1]
	for _, d := range all {
		v := ms(d)
		i := sortSearch(latencyEdges, v) - 1
		if i >= len(rep.LatencyHistogram) {
			last.Count++ // the last bin holds everything beyond
			last.ToMs = max(last.ToMs, v)
			continue
		}
		rep.LatencyHistogram[max(i, 0)].Count++
	}
}

// sortSearch returns the number of edges at or below v.
func sortSearch(edges []float64, v float64) int {
	n := 0
	for n < len(edges) && edges[n] <= v {
		n++
	}
	return n
}

// clnNames are Core Lightning's meanings of its pay error codes.
var clnNames = map[int]string{
	-1: "error", -32602: "invalid parameters", 200: "in progress", 201: "already paid with another amount",
	202: "unparseable onion reply", 203: "permanent failure at the destination", 204: "failure along the route",
	205: "no route", 206: "route too expensive", 207: "invoice expired", 208: "no such payment",
	209: "unspecified failure", 210: "stopped retrying",
}

func (rep *Report) outcomes(rs []*driver.Result) {
	type key struct {
		code int
		fc   uint16
	}
	counts := map[key]int{}
	for _, r := range rs {
		rep.Success.Payments++
		rep.Success.AmountMsat += uint64(r.Amount)
		if r.Outcome.Complete {
			rep.Success.Succeeded++
			rep.Success.SucceededMsat += uint64(r.Amount)
			continue
		}
		rep.Success.Failed++
		counts[key{r.Outcome.Code, r.Outcome.FailCode}]++
	}
	if rep.Success.Payments > 0 {
		rep.Success.Rate = float64(rep.Success.Succeeded) / float64(rep.Success.Payments)
	}
	rep.Failures = []Failure{}
	for k, n := range counts {
		f := Failure{Code: k.code, Name: clnNames[k.code], FailCode: k.fc, Count: n}
		if k.fc != 0 {
			f.FailCodeName = htlc.FailCodeName(lnwire.FailCode(k.fc))
		}
		rep.Failures = append(rep.Failures, f)
	}
	slices.SortFunc(rep.Failures, func(a, b Failure) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code), cmp.Compare(a.FailCode, b.FailCode))
	})
}

func (rep *Report) buckets(rs []*driver.Result, oracle bool) {
	rep.Buckets = make([]Bucket, len(bucketEdges))
	feasible := make([]int, len(bucketEdges))
	single := make([]int, len(bucketEdges))
	okFeasible := make([]int, len(bucketEdges))
	for i := range rep.Buckets {
		b := &rep.Buckets[i]
		b.Label, b.MinMsat = bucketLabels[i], uint64(bucketEdges[i])
		if i+1 < len(bucketEdges) {
			b.MaxMsat = uint64(bucketEdges[i+1])
		}
	}
	for _, r := range rs {
		i := bucketOf(r.Amount)
		b := &rep.Buckets[i]
		b.Payments++
		if r.Outcome.Complete {
			b.Succeeded++
		}
		if f := r.Feasibility; f != nil && f.MaxFlow >= r.Amount {
			feasible[i]++
			if f.SinglePath {
				single[i]++
			}
			if r.Outcome.Complete {
				okFeasible[i]++
			}
		}
	}
	for i := range rep.Buckets {
		b := &rep.Buckets[i]
		b.SuccessRate = ratio(b.Succeeded, b.Payments)
		if oracle {
			b.Feasible, b.SinglePath = &feasible[i], &single[i]
			r := ratio(okFeasible[i], feasible[i])
			b.SucceededOfFeasible = &r
		}
	}
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (rep *Report) attempts(rs []*driver.Result, source string) {
	rep.Attempts = Attempts{Source: source, Histogram: []AttemptBin{}}
	count := map[int]int{}
	sum := 0
	for _, r := range rs {
		a := r.Outcome.Attempts
		if a < 0 || source == "" {
			continue
		}
		rep.Attempts.Known++
		sum += a
		rep.Attempts.Max = max(rep.Attempts.Max, a)
		count[a]++
	}
	if rep.Attempts.Known == 0 {
		return
	}
	rep.Attempts.Mean = float64(sum) / float64(rep.Attempts.Known)
	for a := 0; a <= rep.Attempts.Max; a++ {
		if count[a] > 0 {
			rep.Attempts.Histogram = append(rep.Attempts.Histogram, AttemptBin{Attempts: a, Payments: count[a]})
		}
	}
}

func (rep *Report) fees(rs []*driver.Result) {
	var ppms []float64
	for _, r := range rs {
		if !r.Outcome.Complete {
			continue
		}
		fee := r.Outcome.AmountSent - r.Amount
		rep.Fees.PaidMsat += uint64(fee)
		rep.Fees.AmountMsat += uint64(r.Amount)
		ppms = append(ppms, float64(fee)*1e6/float64(r.Amount))
	}
	if len(ppms) == 0 {
		return
	}
	rep.Fees.PPM = float64(rep.Fees.PaidMsat) * 1e6 / float64(rep.Fees.AmountMsat)
	slices.Sort(ppms)
	rank := func(p float64) float64 { return ppms[int(math.Ceil(p*float64(len(ppms))))-1] }
	rep.Fees.MedianPPM, rep.Fees.P90PPM, rep.Fees.MaxPPM = rank(0.5), rank(0.9), ppms[len(ppms)-1]
}

func (rep *Report) feasibility(rs []*driver.Result, oracle bool) {
	rep.Feasibility = Feasibility{Available: oracle, Note: FeasibilityNote}
	if !oracle {
		rep.Feasibility.Note = "n/a: the target cannot see the network's balances (simnet runs in another process)"
		return
	}
	var ok int
	var total, most time.Duration
	for _, r := range rs {
		f := r.Feasibility
		if f == nil {
			continue
		}
		total += r.OracleTime
		most = max(most, r.OracleTime)
		if f.MaxFlow < r.Amount {
			if r.Outcome.Complete {
				rep.Feasibility.SucceededInfeasible++
			}
			continue
		}
		rep.Feasibility.Feasible++
		if f.SinglePath {
			rep.Feasibility.SinglePath++
		}
		if r.Outcome.Complete {
			ok++
		}
	}
	rep.Feasibility.SucceededOfFeasible = ratio(ok, rep.Feasibility.Feasible)
	if len(rs) > 0 {
		rep.Feasibility.OracleMeanMs = ms(total) / float64(len(rs))
	}
	rep.Feasibility.OracleMaxMs = ms(most)
}

// timeline counts the payments that ended in each second of the run,
// marking the seconds in which only warm-up payments ended.
func (rep *Report) timeline(run *driver.Run) {
	secs := int(run.Elapsed/time.Second) + 1
	rep.Timeline = make([]Second, secs)
	measured := make([]bool, secs)
	for i := range rep.Timeline {
		rep.Timeline[i].T = i
	}
	for i := range run.Results {
		r := &run.Results[i]
		s := min(int(r.Ended/time.Second), secs-1)
		rep.Timeline[s].Done++
		if r.Outcome.Complete {
			rep.Timeline[s].Succeeded++
		}
		measured[s] = measured[s] || !r.Warmup
	}
	for i := range rep.Timeline {
		rep.Timeline[i].Warmup = rep.Timeline[i].Done > 0 && !measured[i]
	}
}

// parts averages the ground truth of the successful payments.
func (rep *Report) parts(rs []*driver.Result) {
	var htlcs, parts, attempts int
	for _, r := range rs {
		t := r.Outcome.Truth
		if !r.Outcome.Complete || t == nil {
			continue
		}
		rep.Parts.Known++
		htlcs += t.HTLCs
		parts += t.Parts
		attempts += max(r.Outcome.Attempts, 0)
		rep.Parts.MaxParts = max(rep.Parts.MaxParts, t.Parts)
	}
	if k := rep.Parts.Known; k > 0 {
		rep.Parts.HTLCsPerSuccess = float64(htlcs) / float64(k)
		rep.Parts.PartsPerSuccess = float64(parts) / float64(k)
		rep.Parts.AttemptsPerSuccess = float64(attempts) / float64(k)
	}
}
