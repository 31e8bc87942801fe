package actors

import (
	"context"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
)

// bigPayee returns an invoice for 1.5 times what our largest channel can
// send, from the best-connected node that is not our peer: no single path
// can carry it, parts can.
func bigPayee(t *testing.T, r *engineRig) (string, *htlc.Invoice) {
	t.Helper()
	var most graph.MilliSat
	for _, c := range r.e.Channels() {
		most = max(most, c.Spendable)
	}
	amount := most + most/2
	g, self := r.n.Graph(), r.n.Self()
	peers, degree := map[graph.NodeID]bool{}, map[graph.NodeID]int{}
	g.Channels(func(c graph.ChannelInfo) bool {
		degree[c.Node1]++
		degree[c.Node2]++
		peers[c.Node1] = peers[c.Node1] || c.Node2 == self
		peers[c.Node2] = peers[c.Node2] || c.Node1 == self
		return true
	})
	var best graph.NodeID
	for _, n := range g.Nodes() {
		if n != self && !peers[n] && degree[n] > degree[best] {
			best = n
		}
	}
	b, err := r.n.Invoice(best, amount, "in parts", 0, r.n.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
	if err != nil {
		t.Fatal(err)
	}
	return b, inv
}

// A payment larger than any channel of ours can send goes out in parts,
// each written before it leaves, and completes: the destination is paid
// the amount once, every part's attempt is in the ledger, and nothing
// stays reserved.
func TestEnginePaysInParts(t *testing.T) {
	r := newEngineRig(t, sub300)
	b, inv := bigPayee(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec, err := r.e.Pay(ctx, PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
	if err != nil {
		t.Fatalf("pay of %s: %v", *inv.Amount, err)
	}
	if rec.Status != payment.StatusComplete || rec.Parts < 2 || rec.AmountSent < *inv.Amount {
		t.Fatalf("record %+v", rec)
	}
	if d := r.n.Delivered(inv.PaymentHash); d.Amount != *inv.Amount {
		t.Fatalf("the destination got %+v, want %s", d, *inv.Amount)
	}
	atts, err := r.l.Attempts(inv.PaymentHash, 0)
	if err != nil {
		t.Fatal(err)
	}
	settled := 0
	for _, a := range atts {
		switch a.Status {
		case messages.AttemptSettled:
			settled++
		case messages.AttemptPending:
			t.Fatalf("attempt %d still pending", a.PartID)
		}
	}
	if settled != rec.Parts {
		t.Fatalf("%d attempts settled, the pay says %d parts", settled, rec.Parts)
	}
	eventually(t, "nothing reserved", func() bool {
		left := false
		r.e.Knowledge().At(r.n.Now()).Channels(func(c graph.ChannelKnowledge) { left = left || c.Reserved != 0 })
		return !left
	})
}
