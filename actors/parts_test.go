package actors

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
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

// Stopped with parts in flight (held by the destination), a pay in parts
// is taken up at the start: each part is asked after, none sent again, and
// the payment completes once with every part settled.
func TestEngineRestartWithPartsInFlight(t *testing.T) {
	r := newEngineRig(t, sub300)
	b, inv := bigPayee(t, r)
	if err := r.n.Hold(inv.Payee); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.e.Pay(ctx, PayRequest{Bolt11: b, Params: payment.DefaultPayParams()}) // cut short by the stop
	}()
	var out int
	eventually(t, "parts in flight", func() bool {
		p, _ := r.l.Pending()
		out = len(p)
		return out >= 2 && r.n.InFlight() >= 2
	})
	r.e.Stop()
	r.l.Close()
	<-done

	r.l, r.e = startEngine(t, r.n, r.dir)
	r.n.Release(inv.Payee)
	rec, err := r.e.WaitSendPay(context.Background(), inv.PaymentHash, nil)
	if err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("after restart: %+v %v", rec, err)
	}
	if d := r.n.Delivered(inv.PaymentHash); d.Amount != *inv.Amount {
		t.Fatalf("delivered %+v, want %s once", d, *inv.Amount)
	}
	eventually(t, "no attempt pending", func() bool { p, _ := r.l.Pending(); return len(p) == 0 })
}

// A pay in parts whose process died between rounds (its record pending,
// no part out) is taken up at the start and pays the amount.
func TestEngineResumesPayBetweenRounds(t *testing.T) {
	r := newEngineRig(t, sub300)
	b, inv := bigPayee(t, r)
	r.e.Stop()
	now := r.n.Now()
	amt := *inv.Amount
	p := messages.Payment{PaymentHash: inv.PaymentHash, Destination: inv.Payee, AmountMsat: &amt, CreatedAt: uint64(now.Unix()),
		Status: messages.PaymentPending, Bolt11: b, Pay: &messages.PayRun{StartedAt: uint64(now.UnixNano()), RetryFor: uint64(time.Minute),
			RiskFactor: 1, MaxFeePercent: 0.5, ExemptFee: 5000, MaxDelay: 2016}}
	if err := r.l.Write(context.Background(), &persistence.Batch{Payments: []messages.Payment{p}}); err != nil {
		t.Fatal(err)
	}
	r.l.Close()
	r.l, r.e = startEngine(t, r.n, r.dir)
	rec, err := r.e.WaitSendPay(context.Background(), inv.PaymentHash, nil)
	if err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("after restart: %+v %v", rec, err)
	}
	if d := r.n.Delivered(inv.PaymentHash); d.Amount != amt {
		t.Fatalf("delivered %+v, want %s", d, amt)
	}
}

// Two plans asked at once, each for 40% of everything our channels can
// send: with reservations neither counts on what the other took, so no
// channel of ours is planned beyond its balance; without them both lean on
// the same channels (which shows the check can fail).
func TestConcurrentPlansDoNotShareLiquidity(t *testing.T) {
	r := newEngineRig(t, sub300)
	_, inv := bigPayee(t, r)
	var total graph.MilliSat
	balance := map[graph.SCID]graph.MilliSat{}
	for _, c := range r.e.Channels() {
		total += c.Spendable
		balance[c.SCID] = c.Spendable
	}
	plan := func(reserve bool) map[graph.SCID]graph.MilliSat {
		params := graph.FlowParams{Source: r.n.Self(), Destination: inv.Payee, Amount: total * 2 / 5, MaxFee: total / 50,
			FinalCLTV: 18, MaxParts: 100}
		futures := [2]*actor.Future{}
		for i := range futures {
			futures[i] = r.e.sys.Root.RequestFuture(r.e.graph, &messages.PlanFlow{Params: params, Now: r.n.Now(), Reserve: reserve}, 30*time.Second)
		}
		used := map[graph.SCID]graph.MilliSat{}
		var routes []graph.Route
		for _, f := range futures {
			res, err := f.Result()
			if err != nil {
				t.Fatal(err)
			}
			fp := res.(*messages.FlowPlanned)
			if fp.Err != nil {
				t.Fatalf("plan: %v", fp.Err)
			}
			for _, part := range fp.Flow.Parts {
				used[part.Route[0].Channel] += part.Route[0].Amount
				routes = append(routes, part.Route)
			}
		}
		// Released only once both are planned, as payments release
		// theirs when their HTLCs end.
		for _, rt := range routes {
			if reserve {
				if err := r.e.Knowledge().Unreserve(rt); err != nil {
					t.Fatal(err)
				}
			}
		}
		return used
	}
	for scid, amt := range plan(true) {
		if amt > balance[scid] {
			t.Fatalf("with reservations %s is planned for %s, it holds %s", scid, amt, balance[scid])
		}
	}
	over := false
	for scid, amt := range plan(false) {
		over = over || amt > balance[scid]
	}
	if !over {
		t.Fatal("without reservations no channel was planned twice: the check above proves nothing")
	}
}
