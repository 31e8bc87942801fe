package actors

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/simnet"
)

// payTarget is a destination with the route pay will try first.
type payTarget struct {
	bolt11 string
	inv    *htlc.Invoice
	route  graph.Route
}

// target finds a destination whose first pay route for amount satisfies
// ok, and issues it an invoice (any-amount when anyAmount).
func (r *engineRig) target(t *testing.T, amount graph.MilliSat, anyAmount bool, ok func(graph.Route) bool) payTarget {
	t.Helper()
	cltv := uint32(simnet.DefaultMinFinalCLTV)
	for _, dest := range r.n.Graph().Nodes() {
		if dest == r.n.Self() {
			continue
		}
		route, err := r.e.GetRoute(context.Background(), graph.GetRouteParams{ID: dest, AmountMsat: amount, RiskFactor: 1, CLTV: &cltv})
		if err != nil || !ok(route) {
			continue
		}
		invAmount := amount
		if anyAmount {
			invAmount = 0
		}
		b, err := r.n.Invoice(dest, invAmount, "vector", 0, r.n.Now())
		if err != nil {
			t.Fatal(err)
		}
		inv, err := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
		if err != nil {
			t.Fatal(err)
		}
		return payTarget{bolt11: b, inv: inv, route: route}
	}
	t.Fatal("no destination fits")
	return payTarget{}
}

func (r *engineRig) attempts(t *testing.T, hash [32]byte) []messages.Attempt {
	t.Helper()
	atts, err := r.l.Attempts(hash, 0)
	if err != nil {
		t.Fatal(err)
	}
	return atts
}

func uses(route graph.Route, scid graph.SCID, dir uint8) bool {
	for _, h := range route {
		if h.Channel == scid && h.Direction == dir {
			return true
		}
	}
	return false
}

func message(err error) string {
	if pe, ok := err.(*payment.Error); ok {
		return pe.Message
	}
	return ""
}

func multiHop(route graph.Route) bool { return len(route) >= 2 }

// drainInto leaves no balance on the far side of every channel of dest:
// every route to it fails at its last hop with temporary_channel_failure.
func (r *engineRig) drainInto(t *testing.T, dest graph.NodeID) {
	t.Helper()
	r.n.Graph().Channels(func(c graph.ChannelInfo) bool {
		var far graph.NodeID
		switch dest {
		case c.Node1:
			far = c.Node2
		case c.Node2:
			far = c.Node1
		default:
			return true
		}
		if err := r.n.SetBalance(c.SCID, far, 0); err != nil {
			t.Fatal(err)
		}
		return true
	})
}

// newLineRig is the engine over spec vector 13's line: us - A - B - C,
// with fees on A-B and B-C and no other way to C.
func newLineRig(t *testing.T) (*engineRig, graph.NodeID) {
	t.Helper()
	id := func(i byte) graph.NodeID {
		var n graph.NodeID
		n[0], n[32] = 0x02, i
		return n
	}
	a, b, c := id(1), id(2), id(3)
	ab := &graph.Policy{BaseMsat: 1000, FeePPM: 10, CLTVDelta: 40, HTLCMin: 1, HTLCMax: 500_000_000}
	bc := &graph.Policy{BaseMsat: 1, FeePPM: 10, CLTVDelta: 6, HTLCMin: 1, HTLCMax: 500_000_000}
	var gb graph.Builder
	gb.AddChannel(graph.Channel{SCID: graph.NewSCID(100, 1, 0), Node1: a, Node2: b, Capacity: 1_000_000, Policy: [2]*graph.Policy{ab, ab}})
	gb.AddChannel(graph.Channel{SCID: graph.NewSCID(100, 2, 0), Node1: b, Node2: c, Capacity: 1_000_000, Policy: [2]*graph.Policy{bc, bc}})
	real, err := gb.Build()
	if err != nil {
		t.Fatal(err)
	}
	n, err := simnet.New(real, simnet.Options{Seed: 13, LocalChannels: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := &engineRig{n: n, dir: t.TempDir()}
	r.l, r.e = startEngine(t, n, r.dir)
	t.Cleanup(func() { r.e.Stop(); r.l.Close(); n.Close() })
	simC, _ := n.SimID(c)
	return r, simC
}

// Spec vector 13: pay's fee and delay limits on the line A-B-C, an
// any-amount invoice paid with msatoshi 100,000.
func TestEngineVector13FeeLimits(t *testing.T) {
	r, c := newLineRig(t)
	ctx := context.Background()
	bolt11, err := r.n.Invoice(c, 0, "vector 13", 0, r.n.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv, _ := htlc.Decode(bolt11, htlc.DecodeOptions{Network: htlc.Regtest})
	msat := graph.MilliSat(100_000)
	p := payment.DefaultPayParams()
	p.MaxFeePercent, p.ExemptFee = 0.0001, 0
	_, err = r.e.Pay(ctx, PayRequest{Bolt11: bolt11, Amount: &msat, Params: p})
	if code(err) != payment.CodeRouteTooExpensive || !strings.HasPrefix(message(err), "Route wanted fee of ") {
		t.Fatalf("maxfeepercent: %v", err)
	}
	p = payment.DefaultPayParams()
	p.MaxDelay = 0
	_, err = r.e.Pay(ctx, PayRequest{Bolt11: bolt11, Amount: &msat, Params: p})
	if code(err) != payment.CodeRouteTooExpensive || !strings.HasPrefix(message(err), "Route wanted delay of ") {
		t.Fatalf("maxdelay: %v", err)
	}
	if n := len(r.attempts(t, inv.PaymentHash)); n != 0 {
		t.Fatalf("%d attempts sent for routes over the limits", n)
	}
	p = payment.DefaultPayParams()
	p.MaxFeePercent, p.ExemptFee = 0.0001, 2000
	rec, err := r.e.Pay(ctx, PayRequest{Bolt11: bolt11, Amount: &msat, Params: p})
	if err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("exemptfee 2000: %+v %v", rec, err)
	}
	if atts := r.attempts(t, inv.PaymentHash); len(atts) != 1 {
		t.Fatalf("%d attempts, want success on the first", len(atts))
	}
}

// Spec vector 15: pay's retry loop through the engine.
func TestEngineVector15Retry(t *testing.T) {
	ctx := context.Background()
	const amount = 50_000_000

	t.Run("channel failure is excluded", func(t *testing.T) {
		r := newEngineRig(t, sub300)
		tg := r.target(t, amount, false, multiHop)
		last := tg.route[len(tg.route)-1]
		if err := r.n.SetBalance(last.Channel, tg.route[len(tg.route)-2].ID, 0); err != nil {
			t.Fatal(err)
		}
		rec, err := r.e.Pay(ctx, PayRequest{Bolt11: tg.bolt11, Params: payment.DefaultPayParams()})
		atts := r.attempts(t, tg.inv.PaymentHash)
		if len(atts) < 2 {
			t.Fatalf("%d attempts (%+v %v)", len(atts), rec, err)
		}
		f := atts[0].Failure
		if f == nil || f.Routing == nil || f.Routing.ErringChannel != last.Channel ||
			f.Routing.FailCode != uint16(lnwire.CodeTemporaryChannelFailure) {
			t.Fatalf("first attempt's failure: %+v", f)
		}
		for _, a := range atts[1:] {
			if uses(a.Route, last.Channel, last.Direction) {
				t.Fatalf("attempt %d uses the failed %s again", a.PartID, last.Channel)
			}
		}
		if err != nil && code(err) != payment.CodeStoppedRetrying {
			t.Fatalf("pay: %v", err)
		}
	})

	t.Run("node failure excludes the node", func(t *testing.T) {
		r := newEngineRig(t, sub300)
		tg := r.target(t, amount, false, multiHop)
		bad := tg.route[len(tg.route)-2].ID
		if err := r.n.SetFault(bad, simnet.Fault{NodeFailure: true}); err != nil {
			t.Fatal(err)
		}
		rec, err := r.e.Pay(ctx, PayRequest{Bolt11: tg.bolt11, Params: payment.DefaultPayParams()})
		atts := r.attempts(t, tg.inv.PaymentHash)
		if len(atts) < 2 || atts[0].Failure.Routing.FailCode != uint16(lnwire.CodeTemporaryNodeFailure) {
			t.Fatalf("attempts %+v (%+v %v)", atts, rec, err)
		}
		for _, a := range atts[1:] {
			for _, h := range a.Route[:len(a.Route)-1] {
				if h.ID == bad {
					t.Fatalf("attempt %d goes through the failed node", a.PartID)
				}
			}
		}
	})

	t.Run("destination failure is not retried", func(t *testing.T) {
		r := newEngineRig(t, sub300)
		tg := r.target(t, amount, false, multiHop)
		r.n.CancelInvoice(tg.inv.PaymentHash)
		_, err := r.e.Pay(ctx, PayRequest{Bolt11: tg.bolt11, Params: payment.DefaultPayParams()})
		if rf := failureOf(t, err); code(err) != payment.CodeDestPermFail ||
			rf.FailCode != lnwire.CodeIncorrectOrUnknownPaymentDetails || rf.ErringNode != tg.inv.Payee {
			t.Fatalf("203: %v %+v", err, rf)
		}
		if n := len(r.attempts(t, tg.inv.PaymentHash)); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
	})

	t.Run("retry_for runs out", func(t *testing.T) {
		r := newEngineRig(t, sub300)
		tg := r.target(t, amount, false, multiHop)
		hop := tg.route[len(tg.route)-2].ID
		if err := r.n.SetBalance(tg.route[len(tg.route)-1].Channel, hop, 0); err != nil {
			t.Fatal(err)
		}
		r.n.Hold(hop)
		p := payment.DefaultPayParams()
		p.RetryFor = 10 * time.Second
		done := make(chan error, 1)
		go func() {
			_, err := r.e.Pay(ctx, PayRequest{Bolt11: tg.bolt11, Params: p})
			done <- err
		}()
		waitFor(t, func() bool { return r.n.InFlight() > 0 })
		r.n.SetNow(r.n.Now().Add(time.Minute))
		r.n.Release(hop)
		err := <-done
		if code(err) != payment.CodeStoppedRetrying || message(err) != "Gave up after 1 attempt: see paystatus" {
			t.Fatalf("after retry_for: %v", err)
		}
	})

	t.Run("no route: 205 before any attempt, 210 after", func(t *testing.T) {
		r := newEngineRig(t, sub300)
		tg := r.target(t, amount, true, multiHop)
		huge := graph.MilliSat(10 * 100_000_000_000)
		if _, err := r.e.Pay(ctx, PayRequest{Bolt11: tg.bolt11, Amount: &huge, Params: payment.DefaultPayParams()}); code(err) != payment.CodeRouteNotFound || message(err) != "Could not find a route" {
			t.Fatalf("huge: %v", err)
		}
		r.drainInto(t, tg.inv.Payee)
		msat := graph.MilliSat(amount)
		_, err := r.e.Pay(ctx, PayRequest{Bolt11: tg.bolt11, Amount: &msat, Params: payment.DefaultPayParams()})
		if code(err) != payment.CodeStoppedRetrying || !strings.HasPrefix(message(err), "Ran out of routes to try after ") {
			t.Fatalf("drained: %v", err)
		}
		d, ok := err.(*payment.Error).Data.(payment.PayFailureData)
		if !ok || len(d.Attempts) != len(r.attempts(t, tg.inv.PaymentHash)) {
			t.Fatalf("210's attempts %+v, ledger %d", err.(*payment.Error).Data, len(r.attempts(t, tg.inv.PaymentHash)))
		}
	})
}

// Spec vector 16: while pay is between attempts, listpays says pending
// though listsendpays says failed. The graph actor's mailbox is suspended
// to hold pay in that gap.
func TestEngineVector16ListPaysDuringRetry(t *testing.T) {
	r := newEngineRig(t, sub300)
	ctx := context.Background()
	tg := r.target(t, 50_000_000, false, multiHop)
	hop := tg.route[len(tg.route)-2].ID
	r.drainInto(t, tg.inv.Payee)
	r.n.Hold(hop)
	done := make(chan error, 1)
	go func() {
		_, err := r.e.Pay(ctx, PayRequest{Bolt11: tg.bolt11, Params: payment.DefaultPayParams()})
		done <- err
	}()
	waitFor(t, func() bool { return r.n.InFlight() > 0 })
	proc, _ := r.e.sys.ProcessRegistry.Get(r.e.graph)
	proc.SendSystemMessage(r.e.graph, &actor.SuspendMailbox{})
	r.n.Release(hop)
	status := func() (sendpays, pays payment.Status) {
		recs, err := r.e.ListSendPays("", &tg.inv.PaymentHash)
		if err != nil || len(recs) != 1 {
			t.Fatalf("listsendpays: %v %v", recs, err)
		}
		ps, err := r.e.ListPays(tg.bolt11, nil)
		if err != nil || len(ps) != 1 {
			t.Fatalf("listpays: %v %v", ps, err)
		}
		return recs[0].Status, ps[0].Status
	}
	waitFor(t, func() bool { s, _ := status(); return s == payment.StatusFailed })
	if s, p := status(); s != payment.StatusFailed || p != payment.StatusPending {
		t.Fatalf("between attempts: listsendpays %s, listpays %s", s, p)
	}
	proc.SendSystemMessage(r.e.graph, &actor.ResumeMailbox{})
	if err := <-done; code(err) != payment.CodeStoppedRetrying {
		t.Fatalf("pay: %v", err)
	}
	if _, p := status(); p != payment.StatusFailed {
		t.Fatalf("after pay gave up: listpays %s", p)
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

// Spec vectors 1, 3, 4, 5, 6 and 8 through the engine on the line us-A-B-C
// (2 and 7 and 9 are in TestEngineSendPayFailures): sendpay and waitsendpay
// with the original pages' rules.
func TestEngineSendPayVectors(t *testing.T) {
	r, c := newLineRig(t)
	ctx := context.Background()
	zero := time.Duration(0)
	newInvoice := func(amount graph.MilliSat) *htlc.Invoice {
		b, err := r.n.Invoice(c, amount, "sendpay", 0, r.n.Now())
		if err != nil {
			t.Fatal(err)
		}
		inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
		return inv
	}
	routeFor := func(final graph.MilliSat) graph.Route {
		cltv := uint32(simnet.DefaultMinFinalCLTV)
		rt, err := r.e.GetRoute(ctx, graph.GetRouteParams{ID: c, AmountMsat: final, RiskFactor: 1, CLTV: &cltv})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}

	// Vector 5: an empty route.
	inv := newInvoice(1000)
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Hash: inv.PaymentHash, Secret: inv.PaymentSecret}); code(err) != payment.CodeInvalidParams || message(err) != "Empty route" {
		t.Fatalf("empty route: %v", err)
	}
	// Vector 6: msatoshi 1000 takes a final amount of 1000 to 2000.
	for _, tc := range []struct {
		final graph.MilliSat
		ok    bool
	}{{999, false}, {2001, false}, {1500, true}} {
		rec, _, err := r.e.SendPay(ctx, SendPayRequest{Route: routeFor(tc.final), Hash: inv.PaymentHash, Amount: msatp(1000), Secret: inv.PaymentSecret})
		if (err == nil) != tc.ok {
			t.Fatalf("final %s: %v", tc.final, err)
		}
		if tc.ok && rec.Amount != 1000 {
			t.Fatalf("final %s recorded msatoshi %s", tc.final, rec.Amount)
		}
	}
	// Vector 8: waitsendpay of the overpaid payment completes.
	if rec, err := r.e.WaitSendPay(ctx, inv.PaymentHash, nil); err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("waitsendpay: %+v %v", rec, err)
	}
	// Vector 1: the same sendpay after success succeeds at once, no HTLC.
	rec, _, err := r.e.SendPay(ctx, SendPayRequest{Route: routeFor(1500), Hash: inv.PaymentHash, Amount: msatp(1000), Secret: inv.PaymentSecret})
	if err != nil || rec.Status != payment.StatusComplete || rec.Preimage == nil {
		t.Fatalf("sendpay after success: %+v %v", rec, err)
	}
	if d := r.n.Delivered(inv.PaymentHash); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}
	// Vector 8: waitsendpay on a complete payment answers at once; an
	// unknown hash is 208.
	if rec, err := r.e.WaitSendPay(ctx, inv.PaymentHash, &zero); err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("waitsendpay complete: %+v %v", rec, err)
	}
	if _, err := r.e.WaitSendPay(ctx, [32]byte{9}, &zero); code(err) != payment.CodeNoSuchPayment {
		t.Fatalf("waitsendpay unknown: %v", err)
	}

	// Vector 3 (the original pages): while pending, sendpay is 200 and
	// waitsendpay with timeout 0 is 200 "Timed out while waiting".
	held := newInvoice(1000)
	r.n.Hold(c)
	heldRoute := routeFor(1000)
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Route: heldRoute, Hash: held.PaymentHash, Secret: held.PaymentSecret}); err != nil {
		t.Fatal(err)
	}
	// One HTLC per hop of the route once it is held at C.
	waitFor(t, func() bool { return r.n.InFlight() == len(heldRoute) })
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Route: routeFor(1000), Hash: held.PaymentHash, Secret: held.PaymentSecret}); code(err) != payment.CodeInProgress {
		t.Fatalf("sendpay while pending: %v", err)
	}
	if _, err := r.e.WaitSendPay(ctx, held.PaymentHash, &zero); code(err) != payment.CodeInProgress || message(err) != "Timed out while waiting" {
		t.Fatalf("waitsendpay timeout 0: %v", err)
	}
	if n := r.n.InFlight(); n != len(heldRoute) {
		t.Fatalf("%d HTLCs in flight, want exactly one set of %d", n, len(heldRoute))
	}
	r.n.Release(c)
	if rec, err := r.e.WaitSendPay(ctx, held.PaymentHash, nil); err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("held payment: %+v %v", rec, err)
	}

	// Vector 4: after a failure, sendpay is accepted and the new pending
	// record replaces the failed one (one row per hash).
	failing := newInvoice(1000)
	wrong := [32]byte{7}
	if _, _, err := r.e.SendPay(ctx, SendPayRequest{Route: routeFor(1000), Hash: failing.PaymentHash, Secret: &wrong}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.WaitSendPay(ctx, failing.PaymentHash, nil); code(err) != payment.CodeDestPermFail {
		t.Fatalf("wrong secret: %v", err)
	}
	if rec, _, err := r.e.SendPay(ctx, SendPayRequest{Route: routeFor(1000), Hash: failing.PaymentHash, Secret: failing.PaymentSecret}); err != nil || rec.Status != payment.StatusPending {
		t.Fatalf("sendpay after failure: %+v %v", rec, err)
	}
	if rec, err := r.e.WaitSendPay(ctx, failing.PaymentHash, nil); err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("retried payment: %+v %v", rec, err)
	}
	if recs, err := r.e.ListSendPays("", &failing.PaymentHash); err != nil || len(recs) != 1 || recs[0].Status != payment.StatusComplete {
		t.Fatalf("listsendpays after the retry: %+v %v", recs, err)
	}
}
