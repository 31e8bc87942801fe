package actors

import (
	"crypto/rand"
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/simnet"
)

// rig is the actors over a real simnet and a real ledger.
type rig struct {
	n      *simnet.Net
	sys    *actor.ActorSystem
	ledger *persistence.Ledger
	deps   PaymentDeps
}

func newRig(t *testing.T) *rig {
	t.Helper()
	n, err := simnet.Load(sub300, simnet.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	l, err := persistence.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sys := NewSystem(nil)
	t.Cleanup(func() { sys.Shutdown(); l.Close(); n.Close() })
	peers := map[graph.SCID]*actor.PID{}
	for _, scid := range n.LocalChannels() {
		spendable, _ := n.Spendable(scid)
		peers[scid] = sys.Root.Spawn(PeerProps(PeerOptions{Channel: scid, Spendable: spendable, Link: n.Link()}))
	}
	var ids atomic.Uint64
	return &rig{n: n, sys: sys, ledger: l, deps: PaymentDeps{
		Self: n.Self(), Graph: sys.Root.Spawn(GraphProps(n.Graph(), GraphOptions{})), Ledger: sys.Root.Spawn(LedgerProps(l, nil)),
		Peer: func(s graph.SCID) *actor.PID { return peers[s] }, Height: n.Height, Clock: n.Now, Rand: rand.Reader,
		NextID: func() uint64 { return ids.Add(1) },
	}}
}

// invoice returns a decoded invoice of a node we can route to.
func (r *rig) invoice(t *testing.T, amount graph.MilliSat, skip int) *htlc.Invoice {
	t.Helper()
	g := r.n.Graph()
	for _, dest := range g.Nodes() {
		if dest == r.n.Self() || g.NodeChannels(dest) == 0 {
			continue
		}
		if _, err := g.GetRoute(graph.GetRouteParams{FromID: r.n.Self(), ID: dest, AmountMsat: amount, RiskFactor: 1}); err != nil {
			continue
		}
		if skip--; skip >= 0 {
			continue
		}
		b, err := r.n.Invoice(dest, amount, "actors test", 0, r.n.Now())
		if err != nil {
			t.Fatal(err)
		}
		inv, err := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	t.Fatal("no payable destination")
	return nil
}

func (r *rig) call(t *testing.T, pid *actor.PID, ev payment.Event) *Answer {
	t.Helper()
	reply := make(chan *Answer, 1)
	r.sys.Root.Send(pid, &Call{Event: ev, Reply: reply})
	select {
	case a := <-reply:
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("%T: no answer", ev)
		return nil
	}
}

func payOf(inv *htlc.Invoice) payment.Pay {
	return payment.Pay{Params: payment.DefaultPayParams(), Invoice: payment.Invoice{
		Bolt11: inv.Bolt11, Payee: inv.Payee, Amount: inv.Amount, CreatedAt: inv.CreatedAt, Expiry: inv.Expiry,
		MinFinalCLTV: inv.MinFinalCLTVExpiry, Secret: inv.PaymentSecret}}
}

// pay end to end: route from the graph actor, the attempt durable in the
// ledger before the HTLC leaves through a peer actor, settled by simnet,
// the outcome durable, the caller answered; a second pay of the paid
// invoice succeeds at once without an HTLC.
func TestPaymentActorPay(t *testing.T) {
	r := newRig(t)
	inv := r.invoice(t, 50_000, 0)
	pid, err := r.sys.Root.SpawnNamed(PaymentProps(&r.deps), PaymentName(inv.PaymentHash, 1))
	if err != nil {
		t.Fatal(err)
	}
	ans := r.call(t, pid, payOf(inv))
	if ans.Err != nil || ans.Record.Status != payment.StatusComplete || sha256.Sum256(ans.Record.Preimage[:]) != inv.PaymentHash {
		t.Fatalf("pay: %+v %+v", ans.Record, ans.Err)
	}
	p, err := r.ledger.Payment(inv.PaymentHash, 0)
	if err != nil || p.Status != messages.PaymentComplete || *p.Preimage != *ans.Record.Preimage || *p.AmountMsat != 50_000 {
		t.Fatalf("ledger: %+v %v", p, err)
	}
	atts, _ := r.ledger.Attempts(inv.PaymentHash, 0)
	if len(atts) != 1 || atts[0].Status != messages.AttemptSettled || atts[0].LinkID == 0 {
		t.Fatalf("attempts %+v", atts)
	}
	if pending, _ := r.ledger.Pending(); len(pending) != 0 {
		t.Fatalf("pending index holds %d attempts", len(pending))
	}
	again := r.call(t, pid, payOf(inv))
	if again.Err != nil || again.Record.Status != payment.StatusComplete {
		t.Fatalf("second pay: %+v", again)
	}
	if d := r.n.Delivered(inv.PaymentHash); d.Settlements != 1 || d.Amount != 50_000 {
		t.Fatalf("simnet delivered %+v: paid twice?", d)
	}
}

// sendpay answers pending once the attempt is durable; waitsendpay gets the
// outcome; a second sendpay while pending gets 200.
func TestPaymentActorSendPay(t *testing.T) {
	r := newRig(t)
	inv := r.invoice(t, 30_000, 1)
	cltv := inv.MinFinalCLTVExpiry
	route, err := r.n.Graph().GetRoute(graph.GetRouteParams{FromID: r.n.Self(), ID: inv.Payee, AmountMsat: 30_000, RiskFactor: 1, CLTV: &cltv})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := r.sys.Root.SpawnNamed(PaymentProps(&r.deps), PaymentName(inv.PaymentHash, 1))
	if err != nil {
		t.Fatal(err)
	}
	ans := r.call(t, pid, payment.SendPay{Route: route, Secret: inv.PaymentSecret, Bolt11: inv.Bolt11})
	if ans.Err != nil || ans.Record.Status != payment.StatusPending || ans.Message == "" {
		t.Fatalf("sendpay: %+v %+v", ans.Record, ans.Err)
	}
	w := r.call(t, pid, payment.WaitSendPay{})
	if w.Err != nil || w.Record.Status != payment.StatusComplete {
		t.Fatalf("waitsendpay: %+v %+v", w.Record, w.Err)
	}
	zero := time.Duration(0)
	if w := r.call(t, pid, payment.WaitSendPay{Timeout: &zero}); w.Err != nil || w.Record.Status != payment.StatusComplete {
		t.Fatalf("waitsendpay after: %+v", w)
	}
}
