package rpc

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/internal/procstat"
	"github.com/payengine/payengine/simnet"
)

// BenchmarkRPCPay measures settled pays per second through the unix
// socket: 64 clients, each on its own connection with one pay at a time,
// against the engine over the mainnet simnet (zero latency, synced ledger,
// real onions), each pay to a fresh 1000-sat invoice of one of 500 random
// routable nodes (as actors' BenchmarkEnginePay chooses them).
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
	bolts := make(chan string, b.N)
	for i := range b.N {
		s, err := r.n.Invoice(dests[i%len(dests)], amount, "bench", 0, r.n.Now())
		if err != nil {
			b.Fatal(err)
		}
		bolts <- s
	}
	close(bolts)
	clients := make([]*Client, 64)
	for i := range clients {
		c, err := Dial(r.sock)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	var paid, failed atomic.Int64
	var wg sync.WaitGroup
	cpu0 := procstat.CPUTime()
	b.ResetTimer()
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			for bolt := range bolts {
				var p payResult
				if err := c.Call(context.Background(), "pay", []any{bolt}, &p); err == nil && p.Status == "complete" {
					paid.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(paid.Load())/elapsed.Seconds(), "rpc-payments/s")
	b.ReportMetric(100*float64(paid.Load())/float64(b.N), "paid-%")
	// Independent of the machine's other load, comparable with actors'
	// BenchmarkEnginePay: the RPC's share is the difference.
	b.ReportMetric(float64(procstat.CPUTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/payment")
}
