package actors

import (
	"context"
	"flag"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/internal/procstat"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/simnet"
)

const mainnetFile = "../graphdata/ln-mainnet-2026-02-03.describegraph.json.gz"

var benchAmount graph.MilliSat = 1_000_000

// BenchmarkEnginePay measures settled pays per second end to end: the
// engine over the mainnet simnet with zero latency, a synced ledger and real
// onions, 256 pays in flight, each to a fresh 10-sat invoice of a random
// routable node.
//
//	go test ./actors -run '^$' -bench EnginePay -benchtime 2000x
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
	var ok atomic.Int64
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
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
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ok.Load())/elapsed.Seconds(), "payments/s")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/1024/float64(b.N), "alloc-KiB/payment")
	b.ReportMetric(100*float64(ok.Load())/float64(b.N), "paid-%")
	// CPU per payment (engine and simnet together) does not depend on
	// what else the machine runs, unlike payments/s.
	b.ReportMetric(float64(procstat.CPUTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/payment")
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
	for _, scid := range n.LocalChannels() {
		st, _ := n.Channel(scid)
		peer := st.Nodes[0]
		if peer == n.Self() {
			peer = st.Nodes[1]
		}
		n.Hold(peer)
	}
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
