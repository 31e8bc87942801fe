// Package driver runs a workload against a target: a closed loop (a fixed
// number of payments in flight, the next starting when one ends) or an
// open loop (payments arrive on the workload's schedule whatever happens
// to the ones before), with a warm-up whose payments are made but not
// measured, and a limit in payments, in time, or both. For each payment it
// records when it was due, started and ended, how it ended and, when the
// target can tell, whether it was feasible at all just before it started.
package driver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payengine/payengine/cmd/paybench/internal/target"
	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/simnet"
)

// DefaultOpenInFlight is the open loop's default cap on payments in
// flight: high enough not to bend the schedule of any rate this machine
// sustains, low enough to stop a run that has fallen hopelessly behind
// from exhausting memory.
const DefaultOpenInFlight = 10_000

// Options configure a run. Payments or Duration must be set.
type Options struct {
	// Open selects the open loop: each payment starts at its Item.At.
	Open bool
	// Concurrency is the closed loop's payments in flight, or the open
	// loop's cap on them (0: DefaultOpenInFlight).
	Concurrency int
	// Payments is how many measured payments to make (0: no limit).
	Payments int
	// Duration is how long to start measured payments for (0: no limit).
	Duration time.Duration
	// WarmupPayments and WarmupDuration make the first payments, by
	// count or by start time, a warm-up: made, not measured.
	WarmupPayments int
	WarmupDuration time.Duration
	// Params are pay's parameters for every payment.
	Params payment.PayParams
	// Feasibility asks the target's oracle about each payment just before
	// it starts (ignored when the target has none).
	Feasibility bool
	// Observer, if set, is told of progress every Tick (default 1 s) and
	// once at the end.
	Observer Observer
	Tick     time.Duration
}

// Validate reports every problem with the options in one error.
func (o *Options) Validate() error {
	var errs []error
	if o.Payments < 0 || o.Duration < 0 || o.WarmupPayments < 0 || o.WarmupDuration < 0 || o.Concurrency < 0 {
		errs = append(errs, errors.New("payments, durations and concurrency must not be negative"))
	}
	if o.Payments == 0 && o.Duration == 0 {
		errs = append(errs, errors.New("set a number of payments, a duration, or both"))
	}
	if !o.Open && o.Concurrency == 0 {
		errs = append(errs, errors.New("a closed loop needs a concurrency of at least 1"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	return nil
}

// Observer is told how a run is going. Progress is called from one
// goroutine at a time.
type Observer interface {
	Progress(p Progress)
}

// Progress is a run's counters at one moment.
type Progress struct {
	Elapsed time.Duration
	// Total is how many payments the run will make, warm-up included; 0
	// when the run is bounded by time.
	Total int
	// Remaining is the time left when the run is bounded by time.
	Remaining time.Duration
	// Started, Done and Succeeded count payments, warm-up included.
	Started, Done, Succeeded int
	// Warmup is true while warm-up payments are still being started.
	Warmup bool
	// Finished is true on the last call.
	Finished bool
}

// Result is one payment.
type Result struct {
	Seq    int
	Warmup bool
	Dest   graph.NodeID
	Amount graph.MilliSat
	Hash   [32]byte
	// Due is when the payment was due from the run's start: its arrival
	// in an open loop, when a worker took it in a closed loop. Started
	// and Ended bracket the pay call alone (invoice and oracle before).
	Due, Started, Ended time.Duration
	Outcome             target.Outcome
	// Feasibility is the oracle's answer (nil: not asked); OracleTime is
	// what asking took.
	Feasibility *simnet.Feasibility
	OracleTime  time.Duration
}

// Latency is the pay call's duration.
func (r *Result) Latency() time.Duration { return r.Ended - r.Started }

// Run is a finished run.
type Run struct {
	// Results are every payment made, by Seq.
	Results []Result
	// Start is when the run began; Elapsed is until the last payment ended.
	Start   time.Time
	Elapsed time.Duration
	// Interrupted says the context ended the run early.
	Interrupted bool
	// Open says the payments followed an open loop's schedule.
	Open bool
	// Oracle says whether feasibility was asked.
	Oracle bool
}

// runner is one run's shared state.
type runner struct {
	t      target.Target
	opts   Options
	oracle target.Oracle
	start  time.Time

	mu          sync.Mutex // guards gen and the counts below, and results
	gen         *workload.Generator
	measured    int           // measured payments handed out
	measureFrom time.Duration // when the first measured payment was due; -1 before
	stopped     bool
	results     []Result

	started, done, succeeded atomic.Int64
	inWarmup                 atomic.Bool
}

// Execute makes the workload's payments against the target until the options'
// limits or the end of ctx, waits for every payment it started (pays are
// never cancelled: a pay in flight ends on its own terms), and returns
// them all. An ended ctx is not an error: the run is then Interrupted.
func Execute(ctx context.Context, t target.Target, gen *workload.Generator, opts Options) (*Run, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Open && opts.Concurrency == 0 {
		opts.Concurrency = DefaultOpenInFlight
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	r := &runner{t: t, opts: opts, gen: gen, start: time.Now(), measureFrom: -1}
	if opts.Feasibility {
		r.oracle = t.Oracle()
	}
	r.inWarmup.Store(opts.WarmupPayments > 0 || opts.WarmupDuration > 0)
	stopTicks := r.observe()
	if opts.Open {
		r.openLoop(ctx)
	} else {
		r.closedLoop(ctx)
	}
	stopTicks()
	slices.SortFunc(r.results, func(a, b Result) int { return a.Seq - b.Seq })
	r.mu.Lock()
	interrupted := ctx.Err() != nil && !r.stopped // not if the limits came first
	r.mu.Unlock()
	return &Run{Results: r.results, Start: r.start, Elapsed: time.Since(r.start), Interrupted: interrupted,
		Open: opts.Open, Oracle: r.oracle != nil}, nil
}

// closedLoop runs Concurrency workers, each taking the next payment when
// its last one ends.
func (r *runner) closedLoop(ctx context.Context) {
	var wg sync.WaitGroup
	for range r.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				it, due, warm, ok := r.take(false)
				if !ok {
					return
				}
				r.pay(ctx, it, warm, due)
			}
		}()
	}
	wg.Wait()
}

// openLoop starts each payment at its arrival time, on a goroutine of its
// own, at most Concurrency at once: when the cap is reached the schedule
// slips, which each Result shows as Started well after Due.
func (r *runner) openLoop(ctx context.Context) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, r.opts.Concurrency)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		it, due, warm, ok := r.take(true)
		if !ok {
			break
		}
		if wait := it.At - time.Since(r.start); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				continue
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			r.pay(ctx, it, warm, due)
		}()
	}
	wg.Wait()
}

// take hands out the next payment with when it is due (its arrival in an
// open loop, so that warm-up and limits follow the schedule; now in a
// closed loop), or says the run is over.
func (r *runner) take(open bool) (it workload.Item, due time.Duration, warm, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return it, 0, false, false
	}
	it = r.gen.Next()
	due = time.Since(r.start)
	if open {
		due = it.At
	}
	warm = it.Seq < r.opts.WarmupPayments || due < r.opts.WarmupDuration
	if !r.admit(warm, due) {
		return it, 0, false, false
	}
	return it, due, warm, true
}

// admit applies the limits to a payment due at due; the caller holds mu.
func (r *runner) admit(warm bool, due time.Duration) bool {
	if warm {
		return true
	}
	r.inWarmup.Store(false)
	if r.measureFrom < 0 {
		r.measureFrom = due
		if r.opts.WarmupDuration > 0 {
			// A timed warm-up ends at a fixed moment: the window starts
			// there, not at the first payment after it.
			r.measureFrom = r.opts.WarmupDuration
		}
	}
	if (r.opts.Payments > 0 && r.measured >= r.opts.Payments) ||
		(r.opts.Duration > 0 && due-r.measureFrom >= r.opts.Duration) {
		r.stopped = true
		return false
	}
	r.measured++
	return true
}

// pay makes one payment: the invoice, the oracle's answer, then pay.
func (r *runner) pay(ctx context.Context, it workload.Item, warm bool, due time.Duration) {
	r.started.Add(1)
	res := Result{Seq: it.Seq, Warmup: warm, Dest: it.Dest, Amount: it.Amount, Due: due}
	label := fmt.Sprintf("paybench-%d", it.Seq)
	inv, err := r.t.Invoice(ctx, it.Dest, it.Amount, label)
	if err != nil {
		res.Started = time.Since(r.start)
		res.Ended = res.Started
		res.Outcome = target.Outcome{Code: -1, Message: err.Error(), Attempts: -1}
	} else {
		res.Hash = inv.Hash
		if r.oracle != nil {
			t0 := time.Now()
			f := r.oracle.Feasible(it.Dest, it.Amount)
			res.OracleTime = time.Since(t0)
			res.Feasibility = &f
		}
		res.Started = time.Since(r.start)
		res.Outcome = r.t.Pay(context.WithoutCancel(ctx), inv, label, r.opts.Params)
		res.Ended = time.Since(r.start)
	}
	r.done.Add(1)
	if res.Outcome.Complete {
		r.succeeded.Add(1)
	}
	r.mu.Lock()
	r.results = append(r.results, res)
	r.mu.Unlock()
}

// observe calls the observer every Tick until the returned function is
// called, which makes the last call and waits for the ticker's goroutine.
func (r *runner) observe() func() {
	if r.opts.Observer == nil {
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(r.opts.Tick)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				r.opts.Observer.Progress(r.progress(false))
			case <-stop:
				r.opts.Observer.Progress(r.progress(true))
				return
			}
		}
	}()
	return func() { close(stop); <-done }
}

func (r *runner) progress(final bool) Progress {
	p := Progress{Elapsed: time.Since(r.start), Started: int(r.started.Load()), Done: int(r.done.Load()),
		Succeeded: int(r.succeeded.Load()), Warmup: r.inWarmup.Load(), Finished: final}
	r.mu.Lock()
	from := r.measureFrom
	r.mu.Unlock()
	switch {
	case r.opts.Duration == 0 && r.opts.WarmupDuration == 0:
		p.Total = r.opts.Payments + r.opts.WarmupPayments
	case r.opts.Duration > 0 && from >= 0:
		p.Remaining = max(from+r.opts.Duration-p.Elapsed, 0)
	case r.opts.Duration > 0:
		p.Remaining = max(r.opts.WarmupDuration, p.Elapsed) + r.opts.Duration - p.Elapsed
	}
	return p
}
