package simnet

import (
	"math/rand/v2"
	"testing"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
)

const sub300 = "../graphdata/ln-mainnet-2026-02-03-sub300.describegraph.json"

// TestExportKeepsChannels checks that the exported graph keeps every
// channel's id, capacity and alias, and that each policy stays with the
// node that set it even where the new ids flip the direction bit.
func TestExportKeepsChannels(t *testing.T) {
	real, err := graph.LoadDescribeGraphFile(sub300)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(real, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	g := exported(t, n)
	if g.NumNodes() != real.NumNodes()+1 || g.NumChannels() != real.NumChannels()+DefaultLocalChannels {
		t.Fatalf("exported %d nodes %d channels, want %d and %d", g.NumNodes(), g.NumChannels(),
			real.NumNodes()+1, real.NumChannels()+DefaultLocalChannels)
	}
	flipped := 0
	real.Channels(func(rc graph.ChannelInfo) bool {
		sc, ok := g.Channel(rc.SCID)
		if !ok {
			t.Fatalf("channel %s missing", rc.SCID)
		}
		s1, _ := n.SimID(rc.Node1)
		s2, _ := n.SimID(rc.Node2)
		if sc.Capacity != rc.Capacity || g.Alias(s1) != real.Alias(rc.Node1) {
			t.Fatalf("channel %s: capacity or alias changed", rc.SCID)
		}
		ends := [2]graph.NodeID{s1, s2}
		for d := range 2 {
			sd := graph.Direction(ends[d], ends[1-d])
			if sd != uint8(d) {
				flipped++
			}
			rp, sp := rc.Policy[d], sc.Policy[sd]
			if (rp == nil) != (sp == nil) || rp != nil && *rp != *sp {
				t.Fatalf("channel %s dir %d: policy %+v became %+v", rc.SCID, d, rp, sp)
			}
		}
		return true
	})
	if flipped == 0 {
		t.Fatal("no direction flipped: the test proves nothing")
	}
	for _, scid := range n.LocalChannels() {
		c, ok := g.Channel(scid)
		if !ok || (c.Node1 != n.Self() && c.Node2 != n.Self()) {
			t.Fatalf("local channel %s not exported with us as an end", scid)
		}
	}
}

// TestSettleSub300 pays seeded random destinations on the 300-node graph
// through the link, with routes from getroute on the exported graph, and
// checks the preimage, every hop's balances and the ground truth.
func TestSettleSub300(t *testing.T) {
	const seed = 42
	n, err := Load(sub300, Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	g := exported(t, n)
	r := rand.New(rand.NewPCG(seed, 1))
	nodes := g.Nodes()
	l := n.Link()
	settled, failed := 0, 0
	for attempt := 0; settled < 20 && attempt < 200; attempt++ {
		dest := nodes[r.IntN(len(nodes))]
		if dest == n.Self() {
			continue
		}
		amount := graph.MilliSat(1000 + r.Uint64N(50_000_000))
		bolt11, err := n.Invoice(dest, amount, "sub300", 0, n.Now())
		if err != nil {
			t.Fatal(err)
		}
		inv := decode(t, bolt11)
		if inv.Payee != dest || *inv.Amount != amount {
			t.Fatalf("invoice payee %s amount %v, want %s %v", inv.Payee, *inv.Amount, dest, amount)
		}
		cltv := inv.MinFinalCLTVExpiry
		route, err := g.GetRoute(graph.GetRouteParams{ID: dest, FromID: n.Self(), AmountMsat: amount,
			RiskFactor: 1, CLTV: &cltv})
		if err != nil {
			continue
		}
		before := snapshot(n)
		p := newPayment(t, n, route, inv.PaymentHash, inv.PaymentSecret, uint64(attempt))
		res := send(t, l, p.req)
		after := snapshot(n)
		if n.InFlight() != 0 {
			t.Fatalf("seed %d attempt %d: %d htlcs still in flight", seed, attempt, n.InFlight())
		}
		if res.Preimage == nil {
			// A real failure (a hop short of balance): nothing moved.
			failed++
			if res.Reason == nil {
				t.Fatalf("seed %d attempt %d: neither settled nor failed: %+v", seed, attempt, res)
			}
			f, err := htlc.ReadFailure(n.Self(), route, p.onion.Circuit, res.Reason)
			if err != nil || f.Routing == nil {
				t.Fatalf("seed %d attempt %d: unreadable failure %v %v", seed, attempt, f, err)
			}
			t.Logf("attempt %d failed: %s", attempt, f.Message)
			sameBalances(t, before, after)
			continue
		}
		checkPreimage(t, res, inv.PaymentHash)
		settled++
		prev := n.Self()
		for i, hop := range route {
			b, a := before[hop.Channel], after[hop.Channel]
			from := graph.Direction(prev, hop.ID)
			if b.Balance[from]-a.Balance[from] != hop.Amount || a.Balance[1-from]-b.Balance[1-from] != hop.Amount {
				t.Fatalf("seed %d attempt %d hop %d %s: balances %v -> %v, want %v moved", seed, attempt, i,
					hop.Channel, b.Balance, a.Balance, hop.Amount)
			}
			prev = hop.ID
		}
		moved := 0
		for scid := range before {
			if before[scid].Balance != after[scid].Balance {
				moved++
			}
		}
		if moved != len(route) {
			t.Fatalf("seed %d attempt %d: %d channels changed, route has %d", seed, attempt, moved, len(route))
		}
		fees := route[0].Amount - route[len(route)-1].Amount
		if d := n.Delivered(inv.PaymentHash); d.Amount != amount || d.Settlements != 1 {
			t.Fatalf("seed %d attempt %d: delivered %+v, want %v once (fees %v)", seed, attempt, d, amount, fees)
		}
	}
	if settled < 20 {
		t.Fatalf("seed %d: only %d payments settled (%d failed)", seed, settled, failed)
	}
	t.Logf("seed %d: %d settled, %d failed for real", seed, settled, failed)
}
