package wirelink

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/simnet"
)

const mainnet = "../graphdata/ln-mainnet-2026-02-03.describegraph.json.gz"

// BenchmarkWireLinkSettle measures payments settled per second through the
// socket: simnet's BenchmarkSimnetSettle (mainnet snapshot, no latency,
// 256 seeded payments of 10 sat prepared before the timer, sent
// round-robin with up to 1,024 in flight) with a Client and a Server on a
// unix socket between the sender and Net.Link(), both in this process.
//
//	go test -run '^$' -bench WireLinkSettle -benchtime 20000x ./wirelink
//	go test -run '^$' -bench SimnetSettle -benchtime 20000x ./simnet
func BenchmarkWireLinkSettle(b *testing.B) {
	const seed = 1
	n, err := simnet.Load(mainnet, simnet.Options{Seed: seed})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
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
		inv, err := htlc.Decode(bolt11, htlc.DecodeOptions{Network: htlc.Regtest})
		if err != nil {
			b.Fatal(err)
		}
		cltv := inv.MinFinalCLTVExpiry
		route, err := g.GetRoute(graph.GetRouteParams{ID: dest, FromID: n.Self(), AmountMsat: amount,
			RiskFactor: 1, CLTV: &cltv})
		if err != nil {
			continue
		}
		o, err := htlc.BuildOnion(htlc.OnionParams{Route: route, PaymentHash: inv.PaymentHash,
			PaymentSecret: inv.PaymentSecret, BlockHeight: n.Height()}, seededReader{rand.New(rand.NewPCG(seed, uint64(tries)))})
		if err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, link.AddHTLC{Channel: o.Channel, Amount: o.Amount, Expiry: o.Expiry,
			PaymentHash: inv.PaymentHash, Onion: o.Packet})
	}
	if len(reqs) == 0 {
		b.Fatal("no payment has a route")
	}
	path := filepath.Join(b.TempDir(), "s")
	srv := startServer(b, path, n.Link(), ServerOptions{})
	defer srv.stop()
	c := dial(b, path, Options{Seed: seed})
	defer c.Close()
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
		err := c.AddHTLC(context.Background(), req, func(res link.Result) {
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

// instantLink settles every HTLC at once: a backend that costs nothing, so
// that a benchmark over it measures the socket alone.
type instantLink struct{}

func (instantLink) AddHTLC(_ context.Context, req link.AddHTLC, done func(link.Result)) error {
	go done(link.Result{ID: req.ID, Preimage: &[32]byte{1}})
	return nil
}

func (instantLink) Reattach(context.Context, link.AddHTLC, func(link.Result)) error {
	return link.ErrUnknownHTLC
}

// BenchmarkWireLinkEcho measures what the socket itself carries: HTLCs per
// second added and settled through a Client and a Server whose backend
// settles at once, up to 1,024 in flight, from 1 sender and from 16.
//
//	go test -run '^$' -bench WireLinkEcho ./wirelink
func BenchmarkWireLinkEcho(b *testing.B) {
	for _, senders := range []int{1, 16} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "s")
			srv := startServer(b, path, instantLink{}, ServerOptions{})
			defer srv.stop()
			c := dial(b, path, Options{})
			defer c.Close()
			var req link.AddHTLC
			sem := make(chan struct{}, 1024)
			var wg sync.WaitGroup
			var next atomic.Uint64
			b.ResetTimer()
			start := time.Now()
			for range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						id := next.Add(1)
						if id > uint64(b.N) {
							return
						}
						req := req
						req.ID = id
						sem <- struct{}{}
						wg.Add(1)
						if err := c.AddHTLC(context.Background(), req, func(link.Result) { <-sem; wg.Done() }); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "htlcs/s")
		})
	}
}
