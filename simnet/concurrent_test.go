package simnet

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

// TestConcurrentPayments sends 1,000 HTLCs at once over 40 prepared routes
// of the 300-node graph (run it with -race) and checks that money is
// conserved: every channel's sides plus pending sum to its capacity, no HTLC
// is left in flight, and what destinations received is what settled.
func TestConcurrentPayments(t *testing.T) {
	const seed = 7
	n, err := Load(sub300, Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	g := exported(t, n)
	r := rand.New(rand.NewPCG(seed, 3))
	nodes := g.Nodes()
	type prepared struct {
		req    link.AddHTLC
		amount graph.MilliSat
	}
	var ps []prepared
	for tries := 0; len(ps) < 40 && tries < 400; tries++ {
		dest := nodes[r.IntN(len(nodes))]
		amount := graph.MilliSat(1000 + r.Uint64N(5_000_000))
		bolt11, err := n.Invoice(dest, amount, "", 0, n.Now())
		if err != nil {
			t.Fatal(err)
		}
		inv := decode(t, bolt11)
		cltv := inv.MinFinalCLTVExpiry
		route, err := g.GetRoute(graph.GetRouteParams{ID: dest, FromID: n.Self(), AmountMsat: amount, RiskFactor: 1, CLTV: &cltv})
		if err != nil || dest == n.Self() {
			continue
		}
		ps = append(ps, prepared{newPayment(t, n, route, inv.PaymentHash, inv.PaymentSecret, uint64(tries)).req, amount})
	}
	l := n.Link()
	var mu sync.Mutex
	var wg sync.WaitGroup
	settled := map[[32]byte]graph.MilliSat{}
	count := map[[32]byte]int{}
	for i := range 1000 {
		p := ps[i%len(ps)]
		req := p.req
		req.ID = uint64(i)
		wg.Add(1)
		if err := l.AddHTLC(context.Background(), req, func(res link.Result) {
			defer wg.Done()
			if res.Preimage != nil {
				mu.Lock()
				settled[req.PaymentHash] += p.amount
				count[req.PaymentHash]++
				mu.Unlock()
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if n.InFlight() != 0 {
		t.Fatalf("%d in flight", n.InFlight())
	}
	total := 0
	for _, p := range ps {
		d := n.Delivered(p.req.PaymentHash)
		if d.Amount != settled[p.req.PaymentHash] || d.Settlements != count[p.req.PaymentHash] {
			t.Fatalf("hash %x: delivered %+v, settled %v x%d", p.req.PaymentHash, d, settled[p.req.PaymentHash],
				count[p.req.PaymentHash])
		}
		total += d.Settlements
	}
	if total == 0 {
		t.Fatal("nothing settled")
	}
	g.Channels(func(c graph.ChannelInfo) bool {
		s, _ := n.Channel(c.SCID)
		if s.Balance[0]+s.Balance[1] != graph.MilliSat(c.Capacity)*1000 || s.Pending != [2]graph.MilliSat{} {
			t.Fatalf("channel %s: %v + pending %v != capacity %d sat", c.SCID, s.Balance, s.Pending, c.Capacity)
		}
		return true
	})
	t.Logf("seed %d: %d of 1000 settled", seed, total)
}
