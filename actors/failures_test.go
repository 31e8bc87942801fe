package actors

import (
	"context"
	"errors"
	"testing"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
)

// routeTo returns an invoice of amount and getroute's route to its payee
// with at least two hops, the second of which charges a fee.
func (r *engineRig) routeTo(t *testing.T, amount graph.MilliSat) (*htlc.Invoice, graph.Route) {
	t.Helper()
	for i := 0; i < 50; i++ {
		inv, _ := htlc.Decode(r.invoices(t, i+1, amount)[i], htlc.DecodeOptions{Network: htlc.Regtest})
		cltv := inv.MinFinalCLTVExpiry
		route, err := r.e.GetRoute(context.Background(), graph.GetRouteParams{ID: inv.Payee, AmountMsat: amount, RiskFactor: 1, CLTV: &cltv})
		if err == nil && len(route) >= 2 && route[0].Amount > route[1].Amount {
			return inv, route
		}
	}
	t.Fatal("no route of two hops or more with a fee")
	return nil, nil
}

func failureOf(t *testing.T, err error) *htlc.RoutingFailure {
	t.Helper()
	var pe *payment.Error
	if !errors.As(err, &pe) {
		t.Fatalf("not a payment error: %v", err)
	}
	d, ok := pe.Data.(payment.FailureData)
	if !ok || d.Routing == nil {
		t.Fatalf("%d %s: no routing failure (%T)", pe.Code, pe.Message, pe.Data)
	}
	return d.Routing
}

// Failures through the actors: spec vectors 2, 7 and 9 on simnet.
func TestEngineSendPayFailures(t *testing.T) {
	r := newEngineRig(t, sub300)
	ctx := context.Background()

	// Vector 7: a first hop to a node we have no channel with: 204 from
	// sendpay itself, and nothing written.
	inv, route := r.routeTo(t, 2_000_000)
	bad := append(graph.Route(nil), route...)
	bad[0].ID, bad[0].Channel = r.notPeer(t), graph.NewSCID(1, 2, 3)
	_, _, err := r.e.SendPay(ctx, SendPayRequest{Route: bad, Hash: inv.PaymentHash, Secret: inv.PaymentSecret})
	if rf := failureOf(t, err); code(err) != 204 || message(err) != "No connection to first peer found" || rf.ErringIndex != 0 ||
		rf.FailCode != lnwire.CodeUnknownNextPeer || rf.ErringNode != r.n.Self() || rf.ErringChannel != bad[0].Channel {
		t.Fatalf("no first peer: %v %+v", err, rf)
	}
	if _, err := r.e.WaitSendPay(ctx, inv.PaymentHash, nil); code(err) != 208 {
		t.Fatalf("waitsendpay after an immediate failure: %v, want 208", err)
	}
	if n := r.l.NextPaymentID(); n != 1 {
		t.Fatalf("a payment row was written (next id %d)", n)
	}

	// Vector 9, remote: the second hop's node gets too small a fee.
	cheap := append(graph.Route(nil), route...)
	cheap[0].Amount = cheap[1].Amount
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Route: cheap, Hash: inv.PaymentHash, Secret: inv.PaymentSecret}); err != nil {
		t.Fatal(err)
	}
	_, err = r.e.WaitSendPay(ctx, inv.PaymentHash, nil)
	rf := failureOf(t, err)
	if code(err) != 204 || rf.ErringIndex != 1 || rf.ErringNode != route[0].ID || rf.ErringChannel != route[1].Channel || rf.FailCode != lnwire.CodeFeeInsufficient {
		t.Fatalf("fee_insufficient: %v %+v", err, rf)
	}
	// The graph learnt it: getroute now avoids that channel direction.
	cltv := inv.MinFinalCLTVExpiry
	if again, err := r.e.GetRoute(ctx, graph.GetRouteParams{ID: inv.Payee, AmountMsat: 2_000_000, RiskFactor: 1, CLTV: &cltv}); err == nil {
		for _, h := range again {
			if h.Channel == route[1].Channel && h.Direction == route[1].Direction {
				t.Fatalf("getroute still uses %s after its failure", h.Channel)
			}
		}
	}

	// Vector 9, destination: a wrong payment secret is a PERM failure, 203.
	wrong := [32]byte{1}
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Route: route, Hash: inv.PaymentHash, Secret: &wrong}); err != nil {
		t.Fatal(err)
	}
	_, err = r.e.WaitSendPay(ctx, inv.PaymentHash, nil)
	if rf := failureOf(t, err); code(err) != 203 || rf.ErringIndex != len(route) || rf.FailCode != lnwire.CodeIncorrectOrUnknownPaymentDetails {
		t.Fatalf("wrong secret: %v %+v", err, rf)
	}

	// Now pay it properly; then vector 2: another amount is 201.
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Route: route, Hash: inv.PaymentHash, Secret: inv.PaymentSecret}); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.e.WaitSendPay(ctx, inv.PaymentHash, nil); err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("pay: %+v %v", rec, err)
	}
	more := append(graph.Route(nil), route...)
	more[len(more)-1].Amount++
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Route: more, Hash: inv.PaymentHash, Secret: inv.PaymentSecret}); code(err) != 201 {
		t.Fatalf("another amount after success: %v", err)
	}
	if d := r.n.Delivered(inv.PaymentHash); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}

	// route[0].channel that does not lead to route[0].id: the HTLC goes
	// on our channel to route[0].id, as Core Lightning picks it by the
	// peer, and the payment goes through.
	inv2, route2 := r.routeTo(t, 1_000_000)
	other := append(graph.Route(nil), route2...)
	for _, scid := range r.n.LocalChannels() {
		if scid != route2[0].Channel {
			other[0].Channel = scid
			break
		}
	}
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Route: other, Hash: inv2.PaymentHash, Secret: inv2.PaymentSecret}); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.e.WaitSendPay(ctx, inv2.PaymentHash, nil); err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("sendpay over another of our channels: %+v %v", rec, err)
	}
	if atts := r.attempts(t, inv2.PaymentHash); len(atts) != 1 || atts[0].FirstHop != route2[0].Channel || atts[0].Route[0].Channel != route2[0].Channel {
		t.Fatalf("attempt went out on %+v, want %s", atts, route2[0].Channel)
	}
}

// notPeer returns a node of the graph we have no channel with.
func (r *engineRig) notPeer(t *testing.T) graph.NodeID {
	t.Helper()
	for _, n := range r.n.Graph().Nodes() {
		if n != r.n.Self() && len(r.e.channels[n]) == 0 {
			return n
		}
	}
	t.Fatal("every node is our peer")
	return graph.NodeID{}
}
