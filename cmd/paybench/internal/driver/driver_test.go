package driver

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/payengine/payengine/cmd/paybench/internal/target"
	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/payment"
)

// setup starts the real engine over simnet's sub300 network with a ledger
// in a temporary directory, and returns it with a workload spec over its
// nodes.
func setup(t *testing.T, rate float64) (*target.Embedded, workload.Spec) {
	t.Helper()
	tg, err := target.StartEmbedded(target.EmbeddedConfig{DataDir: t.TempDir(), Seed: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	nodes, err := tg.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tg, workload.Spec{Seed: 9, Nodes: nodes, Dest: workload.DestUniform, Amounts: workload.Fixed(50_000), Rate: rate}
}

func generator(t *testing.T, spec workload.Spec) *workload.Generator {
	t.Helper()
	g, err := workload.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// maxOverlap is the most pay calls in flight at once.
func maxOverlap(rs []Result) int {
	type edge struct {
		at time.Duration
		d  int
	}
	var es []edge
	for _, r := range rs {
		es = append(es, edge{r.Started, 1}, edge{r.Ended, -1})
	}
	slices.SortFunc(es, func(a, b edge) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.d - b.d // an end before a start at the same instant
	})
	most, cur := 0, 0
	for _, e := range es {
		cur += e.d
		most = max(most, cur)
	}
	return most
}

// sameItems fails unless the results are the generator's items in order.
func sameItems(t *testing.T, rs []Result, spec workload.Spec, open bool) {
	t.Helper()
	g := generator(t, spec)
	for i, r := range rs {
		it := g.Next()
		if r.Seq != i || r.Dest != it.Dest || r.Amount != it.Amount || (open && r.Due != it.At) {
			t.Fatalf("result %d: seq %d, %s to %s due %s; the workload's item: %s to %s at %s", i, r.Seq, r.Amount, r.Dest, r.Due,
				it.Amount, it.Dest, it.At)
		}
		if r.Ended < r.Started {
			t.Fatalf("result %d ends before it starts", i)
		}
	}
}

// TestClosedLoop: a closed loop makes the warm-up and then exactly the
// payments asked, in the workload's order, never more pay calls at once
// than its concurrency.
func TestClosedLoop(t *testing.T) {
	tg, spec := setup(t, 0)
	run, err := Execute(context.Background(), tg, generator(t, spec), Options{Concurrency: 3, Payments: 30, WarmupPayments: 5,
		Params: payment.DefaultPayParams(), Feasibility: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 35 || run.Interrupted || run.Open || !run.Oracle {
		t.Fatalf("%d results, interrupted %v, open %v, oracle %v", len(run.Results), run.Interrupted, run.Open, run.Oracle)
	}
	sameItems(t, run.Results, spec, false)
	for _, r := range run.Results {
		if r.Warmup != (r.Seq < 5) || r.Feasibility == nil {
			t.Errorf("payment %d: warm-up %v, feasibility %v", r.Seq, r.Warmup, r.Feasibility)
		}
	}
	if n := maxOverlap(run.Results); n > 3 {
		t.Errorf("%d pays in flight at once, concurrency 3", n)
	}
}

// TestOpenLoop: an open loop starts each payment at its arrival time,
// never before, makes the payments due in a timed warm-up as warm-up, and
// stops after the payments asked.
func TestOpenLoop(t *testing.T) {
	tg, spec := setup(t, 40)
	const warm = 100 * time.Millisecond
	run, err := Execute(context.Background(), tg, generator(t, spec), Options{Open: true, Payments: 20, WarmupDuration: warm,
		Params: payment.DefaultPayParams()})
	if err != nil {
		t.Fatal(err)
	}
	sameItems(t, run.Results, spec, true)
	measured := 0
	var lag []time.Duration
	for _, r := range run.Results {
		if r.Warmup != (r.Due < warm) {
			t.Errorf("payment %d due at %s: warm-up %v", r.Seq, r.Due, r.Warmup)
		}
		if !r.Warmup {
			measured++
		}
		if r.Started < r.Due {
			t.Errorf("payment %d started at %s, before it was due (%s)", r.Seq, r.Started, r.Due)
		}
		lag = append(lag, r.Started-r.Due) // invoice and oracle included
		if r.Feasibility != nil {
			t.Errorf("payment %d: the oracle was asked though not wanted", r.Seq)
		}
	}
	if measured != 20 {
		t.Errorf("%d measured payments, want 20", measured)
	}
	slices.Sort(lag)
	t.Logf("%d payments; start after due: median %s, max %s", len(lag), lag[len(lag)/2], lag[len(lag)-1])
}

// TestOpenLoopCap: when payments arrive faster than the cap on payments in
// flight lets them start, the cap holds and the schedule slips (which the
// results show).
func TestOpenLoopCap(t *testing.T) {
	tg, spec := setup(t, 100_000)
	run, err := Execute(context.Background(), tg, generator(t, spec), Options{Open: true, Concurrency: 2, Payments: 20,
		Params: payment.DefaultPayParams()})
	if err != nil {
		t.Fatal(err)
	}
	if n := maxOverlap(run.Results); n > 2 {
		t.Errorf("%d pays in flight at once, cap 2", n)
	}
	last := run.Results[len(run.Results)-1]
	if last.Started-last.Due < time.Millisecond {
		t.Errorf("the last payment started %s after it was due: the cap did not hold it back", last.Started-last.Due)
	}
}

// TestDuration: a run bounded by time starts no measured payment after
// its window and ends.
func TestDuration(t *testing.T) {
	tg, spec := setup(t, 0)
	const window = 300 * time.Millisecond
	run, err := Execute(context.Background(), tg, generator(t, spec), Options{Concurrency: 4, Duration: window,
		Params: payment.DefaultPayParams()})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) == 0 {
		t.Fatal("no payment in 300 ms")
	}
	for _, r := range run.Results {
		if r.Due >= window {
			t.Errorf("payment %d taken at %s, after the %s window", r.Seq, r.Due, window)
		}
	}
}

// TestInterrupt: ending the context stops new payments; the run returns
// with every payment it started finished and says it was interrupted.
func TestInterrupt(t *testing.T) {
	tg, spec := setup(t, 50)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	run, err := Execute(ctx, tg, generator(t, spec), Options{Open: true, Payments: 1000, Params: payment.DefaultPayParams()})
	if err != nil {
		t.Fatal(err)
	}
	if !run.Interrupted || len(run.Results) == 0 || len(run.Results) >= 100 {
		t.Fatalf("interrupted %v with %d results", run.Interrupted, len(run.Results))
	}
	sameItems(t, run.Results, spec, true)
	for _, r := range run.Results {
		if !r.Outcome.Complete && r.Outcome.Code == 0 {
			t.Errorf("payment %d has no outcome", r.Seq)
		}
	}
}

// TestValidate: a run needs a limit and, closed, a concurrency.
func TestValidate(t *testing.T) {
	for _, o := range []Options{{Concurrency: 1}, {Payments: 5}, {Concurrency: 1, Payments: -1, Duration: time.Second}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
