package actors

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/internal/procstat"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/simnet"
)

const mainnetFile = "../graphdata/ln-mainnet-2026-02-03.describegraph.json.gz"

var benchAmount graph.MilliSat = 1_000_000

// BenchmarkEnginePay measures settled pays end to end: the engine over the
// mainnet simnet with zero latency, a synced ledger and real onions, 256
// pays in flight, each to a fresh 1,000-sat invoice of a random routable node.
//
// The process runs simnet too, so its CPU is the engine's plus simnet's
// forwarding. The benchmark profiles its own run and gives each CPU sample
// to simnet if the innermost of our packages on its stack is simnet, to the
// engine otherwise (the engine's callbacks on simnet's goroutines, the
// garbage collector's background work, the ledger's goroutines). Before
// the run, in the same process and to the same destinations, it measures
// (calibrate) what an onion costs to build (onion-ms) and what simnet
// spends forwarding and settling one HTLC (simnet-ms). From those:
//
//   - engine-cpu-ms/payment: the run's CPU times the engine's share of the
//     samples; engine-cpu-ms-stderr is that share's sampling error.
//
//   - x-onion: engine-cpu-ms/payment over onion-ms, the engine's CPU in
//     onions; an onion per payment is the floor.
//
//   - ceiling-payments/s: what the cores could settle if they did nothing
//     but build onions and forward them through simnet; of-ceiling is
//     payments/s over it.
//
//   - alloc-KiB/payment: allocated per payment less simnet-ms's allocation
//     for each settled HTLC; onion-alloc-KiB is one onion's share of it.
//
// The run's profile is kept with -enginepay.profile FILE (go test's
// -cpuprofile cannot run beside it).
//
//	go test ./actors -run '^$' -bench EnginePay -benchtime 5000x
func BenchmarkEnginePay(b *testing.B) {
	n, err := simnet.Load(mainnetFile, simnet.Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	t := &testing.T{}
	l, e := startEngine(t, n, b.TempDir())
	defer func() { e.Stop(); l.Close() }()
	g := n.Graph()
	r := rand.New(rand.NewPCG(1, 1))
	nodes := g.Nodes()
	var dests []graph.NodeID
	for len(dests) < 500 {
		d := nodes[r.IntN(len(nodes))]
		if d == n.Self() {
			continue
		}
		if _, err := g.GetRoute(graph.GetRouteParams{FromID: n.Self(), ID: d, AmountMsat: benchAmount, RiskFactor: 1}); err == nil {
			dests = append(dests, d)
		}
	}
	bolts := make([]string, b.N)
	for i := range bolts {
		if bolts[i], err = n.Invoice(dests[i%len(dests)], benchAmount, "bench", 0, n.Now()); err != nil {
			b.Fatal(err)
		}
	}
	c := calibrate(b, n, dests)
	var ok atomic.Int64
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		b.Fatalf("BenchmarkEnginePay profiles its run to split CPU between the engine and simnet (use -enginepay.profile, not -cpuprofile): %v", err)
	}
	cpu0 := procstat.CPUTime()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(bolt string) {
			defer func() { <-sem; wg.Done() }()
			if rec, err := e.Pay(context.Background(), PayRequest{Bolt11: bolt, Params: payment.DefaultPayParams()}); err == nil && rec.Status == payment.StatusComplete {
				ok.Add(1)
			}
		}(bolts[i])
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := procstat.CPUTime() - cpu0
	pprof.StopCPUProfile()
	if *enginePayProfile != "" {
		if err := os.WriteFile(*enginePayProfile, prof.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	share, err := engineShare(&prof)
	if err != nil && b.N > 1 {
		// A run of one pay may take no sample at all.
		b.Fatal(err)
	}
	runtime.ReadMemStats(&ms1)
	paid := ok.Load()
	b.Logf("ledger: %s", l.Metrics())
	if paid == 0 {
		b.Fatal("nothing was paid")
	}
	perPay := func(total float64) float64 { return total / float64(b.N) }
	cpuMs := float64(cpu) / float64(time.Millisecond)
	engineMs := perPay(cpuMs * share.engine)
	ceiling := float64(runtime.GOMAXPROCS(0)) * 1000 / (c.onionMs + c.simnetMs)
	rate := float64(paid) / elapsed.Seconds()
	b.ReportMetric(rate, "payments/s")
	b.ReportMetric(100*float64(paid)/float64(b.N), "paid-%")
	// CPU per payment does not depend on what else the machine runs,
	// unlike payments/s.
	b.ReportMetric(perPay(cpuMs), "cpu-ms/payment")
	b.ReportMetric(engineMs, "engine-cpu-ms/payment")
	b.ReportMetric(perPay(cpuMs*share.stderr), "engine-cpu-ms-stderr")
	b.ReportMetric(c.onionMs, "onion-ms")
	b.ReportMetric(c.simnetMs, "simnet-ms")
	b.ReportMetric(engineMs/c.onionMs, "x-onion")
	b.ReportMetric(ceiling, "ceiling-payments/s")
	b.ReportMetric(rate/ceiling, "of-ceiling")
	b.ReportMetric(perPay(float64(ms1.TotalAlloc-ms0.TotalAlloc)/1024-c.simnetKiB*float64(paid)), "alloc-KiB/payment")
	b.ReportMetric(c.onionKiB, "onion-alloc-KiB")
	b.ReportMetric(c.settledPct, "calibration-settled-%")
}

var enginePayProfile = flag.String("enginepay.profile", "", "write BenchmarkEnginePay's CPU profile of its run to this file")

// cpuShare is the engine's share of a profile's CPU samples, and that
// share's standard error.
type cpuShare struct{ engine, stderr float64 }

// engineShare splits the CPU profile r: a sample is simnet's if the frame
// nearest its leaf that is in simnet or actors is in simnet (simnet's
// onion peeling calls htlc as the engine's onion building does, and the
// engine's link callbacks run on simnet's goroutines), the engine's
// otherwise.
func engineShare(r io.Reader) (cpuShare, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return cpuShare{}, fmt.Errorf("engine share: %w", err)
	}
	const pkg = "github.com/payengine/payengine/"
	var all, simnet int64
	for _, s := range p.Sample {
		n := s.Value[0] // samples
		all += n
	frames:
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				switch name := line.Function.Name; {
				case strings.HasPrefix(name, pkg+"simnet."):
					simnet += n
					break frames
				case strings.HasPrefix(name, pkg+"actors."):
					break frames
				}
			}
		}
	}
	if all == 0 {
		return cpuShare{}, errors.New("engine share: the profile has no samples")
	}
	e := float64(all-simnet) / float64(all)
	return cpuShare{engine: e, stderr: math.Sqrt(e * (1 - e) / float64(all))}, nil
}

// costs is what one onion and simnet's forwarding of one HTLC cost.
type costs struct {
	onionMs, onionKiB   float64 // to build an onion
	simnetMs, simnetKiB float64 // for simnet to forward and settle its HTLC
	settledPct          float64 // of the calibration's HTLCs
}

// calibrate measures, in the benchmark's process, the costs the engine
// cannot avoid: an onion for a route to each destination of the run, built
// as the engine builds it, and simnet forwarding those onions to their
// invoices, 256 at once as in the run. It runs before the run, on full
// channels, so that nearly every HTLC settles: simnet-ms is the cost of a
// settled payment, which the run's figure takes off per settled payment.
func calibrate(b *testing.B, n *simnet.Net, dests []graph.NodeID) costs {
	type sample struct {
		route  graph.Route
		hash   [32]byte
		secret *[32]byte
		amount graph.MilliSat
	}
	var samples []sample
	for _, d := range dests {
		bolt, err := n.Invoice(d, benchAmount, "calibrate", 0, n.Now())
		if err != nil {
			b.Fatal(err)
		}
		inv, err := htlc.Decode(bolt, htlc.DecodeOptions{Network: htlc.Regtest})
		if err != nil {
			b.Fatal(err)
		}
		cltv := inv.MinFinalCLTVExpiry
		route, err := n.Graph().GetRoute(graph.GetRouteParams{FromID: n.Self(), ID: d, AmountMsat: benchAmount, RiskFactor: 1, CLTV: &cltv})
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, sample{route, inv.PaymentHash, inv.PaymentSecret, benchAmount})
	}
	rnd := rand.NewChaCha8([32]byte{7})
	reqs := make([]link.AddHTLC, len(samples))
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := procstat.CPUTime()
	for i, s := range samples {
		o, err := htlc.BuildOnion(htlc.OnionParams{Route: s.route, PaymentHash: s.hash, PaymentSecret: s.secret,
			TotalMsat: s.amount, BlockHeight: n.Height()}, rnd)
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = link.AddHTLC{ID: 1<<48 + uint64(i), Channel: o.Channel, Amount: o.Amount, Expiry: o.Expiry,
			PaymentHash: s.hash, Onion: o.Packet}
	}
	var c costs
	cpu1 := procstat.CPUTime()
	runtime.ReadMemStats(&ms1)
	c.onionMs = float64(cpu1-cpu0) / float64(time.Millisecond) / float64(len(samples))
	c.onionKiB = float64(ms1.TotalAlloc-ms0.TotalAlloc) / 1024 / float64(len(samples))

	lk := n.Link()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var settled atomic.Int64
	runtime.ReadMemStats(&ms0)
	cpu0 = procstat.CPUTime()
	for _, req := range reqs {
		sem <- struct{}{}
		wg.Add(1)
		if err := lk.AddHTLC(context.Background(), req, func(res link.Result) {
			if res.Preimage != nil {
				settled.Add(1)
			}
			<-sem
			wg.Done()
		}); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	cpu1 = procstat.CPUTime()
	runtime.ReadMemStats(&ms1)
	if got := settled.Load(); got < int64(len(reqs))*9/10 {
		b.Fatalf("calibration: %d of %d HTLCs settled", got, len(reqs))
	}
	c.settledPct = 100 * float64(settled.Load()) / float64(len(reqs))
	// Per HTLC sent: the few that fail cost simnet less, so this errs
	// towards simnet's share being small.
	c.simnetMs = float64(cpu1-cpu0) / float64(time.Millisecond) / float64(len(reqs))
	c.simnetKiB = float64(ms1.TotalAlloc-ms0.TotalAlloc) / 1024 / float64(len(reqs))
	return c
}

// inflightProfile names a file BenchmarkInflightMemory writes a heap
// profile to while every payment is held (go test's -memprofile is written
// after the benchmark, when nothing is in flight any more), and, with
// ".base" added, one before the first pay: pprof's -diff_base then shows
// only what the payments hold.
var inflightProfile = flag.String("inflightprofile", "", "write a heap profile at BenchmarkInflightMemory's held state to this file")

// BenchmarkInflightMemory holds b.N pays in flight at once (each HTLC held
// by our first hop in simnet, which allows enough slots) and reports the
// memory in use per payment in flight, engine and simnet together. The
// pays go through PayAsync, so no caller's goroutine waits for each (that
// would be the caller's memory, not the engine's); a held HTLC is no
// goroutine in simnet either. It also reports the goroutines running at
// the held state, which do not grow with b.N.
//
//	go test ./actors -run '^$' -bench InflightMemory -benchtime 100000x
func BenchmarkInflightMemory(b *testing.B) {
	if *inflightProfile != "" {
		// Every allocation sampled, so the profile's per-site sizes are
		// exact rather than estimates.
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}
	n, err := simnet.Load(mainnetFile, simnet.Options{Seed: 1, MaxHTLCs: b.N + 10, LocalCapacity: 100_000_000})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	t := &testing.T{}
	l, e := startEngineWith(t, n, b.TempDir(), b.N+10)
	defer func() { e.Stop(); l.Close() }()
	g := n.Graph()
	var dests []graph.NodeID
	for _, d := range g.Nodes() {
		if len(dests) == 200 {
			break
		}
		if d == n.Self() {
			continue
		}
		if _, err := g.GetRoute(graph.GetRouteParams{FromID: n.Self(), ID: d, AmountMsat: benchAmount, RiskFactor: 1}); err == nil {
			dests = append(dests, d)
		}
	}
	bolts := make([]string, b.N)
	for i := range bolts {
		if bolts[i], err = n.Invoice(dests[i%len(dests)], benchAmount, "held", 0, n.Now()); err != nil {
			b.Fatal(err)
		}
	}
	holdFirstHops(n)
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	writeHeapProfile(b, *inflightProfile, ".base")
	b.ResetTimer()
	var answered atomic.Int64
	for _, bolt := range bolts {
		err := e.PayAsync(context.Background(), PayRequest{Bolt11: bolt, Params: payment.DefaultPayParams()},
			func(*payment.Record, error) { answered.Add(1) })
		if err != nil {
			b.Fatal(err)
		}
	}
	for n.InFlight() < b.N {
		time.Sleep(50 * time.Millisecond)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ms1.HeapInuse+ms1.StackInuse-ms0.HeapInuse-ms0.StackInuse)/1024/float64(b.N), "KiB/inflight")
	b.ReportMetric(float64(ms1.StackInuse-ms0.StackInuse)/1024/float64(b.N), "stack-KiB/inflight")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	writeHeapProfile(b, *inflightProfile, "")
	if a := answered.Load(); a != 0 {
		b.Fatalf("%d pays answered while every HTLC was held", a)
	}
	for _, scid := range n.LocalChannels() {
		st, _ := n.Channel(scid)
		n.Release(st.Nodes[0])
		n.Release(st.Nodes[1])
	}
}

// writeHeapProfile writes a heap profile to name+suffix, if name is set.
func writeHeapProfile(b *testing.B, name, suffix string) {
	if name == "" {
		return
	}
	f, err := os.Create(name + suffix)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
