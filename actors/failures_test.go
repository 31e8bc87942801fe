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

	// Vector 7: a first hop that is not one of our channels.
	inv, route := r.routeTo(t, 2_000_000)
	bad := append(graph.Route(nil), route...)
	bad[0].Channel = graph.NewSCID(1, 2, 3)
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Route: bad, Hash: inv.PaymentHash, Secret: inv.PaymentSecret}); err != nil {
		t.Fatal(err)
	}
	_, err := r.e.WaitSendPay(ctx, inv.PaymentHash, nil)
	if rf := failureOf(t, err); code(err) != 204 || rf.ErringIndex != 0 || rf.FailCode != lnwire.CodeUnknownNextPeer || rf.ErringNode != r.n.Self() {
		t.Fatalf("no first peer: %v %+v", err, rf)
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
}
