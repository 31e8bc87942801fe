package simnet

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

const mainnet = "../graphdata/ln-mainnet-2026-02-03.describegraph.json.gz"

// BenchmarkSimnetSettle measures payments settled per second by simnet
// alone on the mainnet snapshot with zero latency: 256 seeded payments of
// 10 sat to random destinations that have a route, with routes and
// onions built before the timer starts, are sent round-robin through the
// link with up to 1,024 in flight. A payment paid again settles again (a
// destination settles a known invoice each time), so every send does the
// full work; sends that fail for want of balance are reported as fail-%.
//
//	go test -run '^$' -bench SimnetSettle -benchtime 20000x ./simnet
func BenchmarkSimnetSettle(b *testing.B) { benchSettle(b, "") }

// BenchmarkDurableSettle is BenchmarkSimnetSettle on a durable network
// (Options.Dir): each HTLC writes its take and its outcome with a sync,
// grouped with the other HTLCs' writes.
//
//	go test -run '^$' -bench DurableSettle -benchtime 20000x ./simnet
func BenchmarkDurableSettle(b *testing.B) { benchSettle(b, b.TempDir()) }

func benchSettle(b *testing.B, dir string) {
	const seed = 1
	t0 := time.Now()
	n, err := Load(mainnet, Options{Seed: seed, Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	setup := time.Since(t0)
	g := n.Graph()
	nodes := g.Nodes()
	r := rand.New(rand.NewPCG(seed, 2))
	var reqs []link.AddHTLC
	for tries := 0; len(reqs) < 256 && tries < 5000; tries++ {
		dest := nodes[r.IntN(len(nodes))]
		if dest == n.Self() || g.NodeChannels(dest) == 0 {
			continue
		}
		const amount graph.MilliSat = 10_000
		bolt11, err := n.Invoice(dest, amount, "bench", 0, n.Now())
		if err != nil {
			b.Fatal(err)
		}
		inv := decode(b, bolt11)
		cltv := inv.MinFinalCLTVExpiry
		route, err := g.GetRoute(graph.GetRouteParams{ID: dest, FromID: n.Self(), AmountMsat: amount,
			RiskFactor: 1, CLTV: &cltv})
		if err != nil {
			continue
		}
		reqs = append(reqs, newPayment(b, n, route, inv.PaymentHash, inv.PaymentSecret, uint64(tries)).req)
	}
	if len(reqs) == 0 {
		b.Fatal("no payment has a route")
	}
	b.Logf("setup: load+keys %v, %d payments prepared", setup, len(reqs))
	l := n.Link()
	sem := make(chan struct{}, 1024)
	var wg sync.WaitGroup
	var settled, failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		req := reqs[i%len(reqs)]
		req.ID = uint64(i)
		sem <- struct{}{}
		wg.Add(1)
		err := l.AddHTLC(context.Background(), req, func(res link.Result) {
			if res.Preimage != nil {
				settled.Add(1)
			} else {
				failed.Add(1)
			}
			<-sem
			wg.Done()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(settled.Load())/elapsed.Seconds(), "settles/s")
	b.ReportMetric(100*float64(failed.Load())/float64(b.N), "fail-%")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
	if n.InFlight() != 0 {
		b.Fatalf("%d htlcs still in flight", n.InFlight())
	}
}
