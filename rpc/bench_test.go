package rpc

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/internal/procstat"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/simnet"
)

// BenchmarkRPCPay measures settled pays per second through the unix
// socket against the same engine called directly, in one run: first b.N
// pays straight to the engine, then b.N through the socket, each phase 64
// at a time (64 clients, each on its own connection with one pay at a
// time), against the engine over the mainnet simnet (zero latency, synced
// ledger, real onions), each pay to a fresh 1000-sat invoice of one of 500
// random routable nodes (as actors' BenchmarkEnginePay chooses them).
// rpc-of-engine is the socket's rate over the engine's; cpu-rpc-of-engine
// the same for CPU per payment (the engine's over the socket's), which
// does not depend on the machine's other load.
//
//	go test ./rpc -run '^$' -bench RPCPay -benchtime 2000x
func BenchmarkRPCPay(b *testing.B) {
	const amount = 1_000_000
	r := newRig(b, graphdata.Mainnet, simnet.Options{Seed: 1}, nil)
	g := r.n.Graph()
	rng := rand.New(rand.NewPCG(1, 1))
	nodes := g.Nodes()
	var dests []graph.NodeID
	for len(dests) < 500 {
		d := nodes[rng.IntN(len(nodes))]
		if d == r.n.Self() {
			continue
		}
		if _, err := g.GetRoute(graph.GetRouteParams{FromID: r.n.Self(), ID: d, AmountMsat: amount, RiskFactor: 1}); err == nil {
			dests = append(dests, d)
		}
	}
	invoices := func(first int) chan string {
		bolts := make(chan string, b.N)
		for i := range b.N {
			s, err := r.n.Invoice(dests[(first+i)%len(dests)], amount, "bench", 0, r.n.Now())
			if err != nil {
				b.Fatal(err)
			}
			bolts <- s
		}
		close(bolts)
		return bolts
	}
	direct, socket := invoices(0), invoices(b.N)
	clients := make([]*Client, 64)
	for i := range clients {
		c, err := Dial(r.sock)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	// phase runs pay over 64 goroutines until bolts is empty and returns
	// the rate of settled pays and the CPU per pay.
	phase := func(bolts chan string, pay func(i int, bolt string) bool) (rate, cpuMs float64, paid int64) {
		var n atomic.Int64
		var wg sync.WaitGroup
		cpu0 := procstat.CPUTime()
		start := time.Now()
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for bolt := range bolts {
					if pay(i, bolt) {
						n.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		return float64(n.Load()) / elapsed.Seconds(), float64(procstat.CPUTime()-cpu0) / float64(time.Millisecond) / float64(b.N), n.Load()
	}
	b.ResetTimer()
	engineRate, engineCPU, _ := phase(direct, func(_ int, bolt string) bool {
		rec, err := r.e.Pay(context.Background(), actors.PayRequest{Bolt11: bolt, Params: payment.DefaultPayParams()})
		return err == nil && rec.Status == payment.StatusComplete
	})
	rpcRate, rpcCPU, paid := phase(socket, func(i int, bolt string) bool {
		var p payResult
		err := clients[i].Call(context.Background(), "pay", []any{bolt}, &p)
		return err == nil && p.Status == "complete"
	})
	b.StopTimer()
	b.ReportMetric(rpcRate, "rpc-payments/s")
	b.ReportMetric(engineRate, "engine-payments/s")
	b.ReportMetric(rpcRate/engineRate, "rpc-of-engine")
	b.ReportMetric(100*float64(paid)/float64(b.N), "paid-%")
	b.ReportMetric(rpcCPU, "cpu-ms/payment")
	b.ReportMetric(engineCPU, "engine-cpu-ms/payment")
	b.ReportMetric(engineCPU/rpcCPU, "cpu-rpc-of-engine")
}
