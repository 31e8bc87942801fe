package actors

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/simnet"
)

// Issue: stop and restart with a payment in flight (its HTLC held by the
// destination): the new engine finds the attempt in the ledger's pending
// index, asks the link what became of it, sends nothing, and records the
// settlement when the destination lets go.
func TestEngineRestartInFlight(t *testing.T) {
	r := newEngineRig(t, sub300)
	b := r.invoices(t, 1, 30_000)[0]
	inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
	if err := r.n.Hold(inv.Payee); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.e.Pay(ctx, PayRequest{Bolt11: b, Params: payment.DefaultPayParams()}) // cut short by the stop
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, _ := r.l.Pending()
		if len(p) == 1 && r.n.InFlight() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HTLC never got in flight: %d pending, %d in flight", len(p), r.n.InFlight())
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.e.Stop()
	r.l.Close()
	<-done

	r.l, r.e = startEngine(t, r.n, r.dir)
	r.n.Release(inv.Payee)
	rec, err := r.e.WaitSendPay(context.Background(), inv.PaymentHash, nil)
	if err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("after restart: %+v %v", rec, err)
	}
	if d := r.n.Delivered(inv.PaymentHash); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}
	if p, _ := r.l.Pending(); len(p) != 0 {
		t.Fatalf("%d attempts still pending", len(p))
	}
	if r.n.InFlight() != 0 {
		t.Fatalf("%d HTLCs in flight", r.n.InFlight())
	}
	// And pay of the same invoice now answers from the record.
	again, err := r.e.Pay(context.Background(), PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
	if err != nil || again.Status != payment.StatusComplete || *again.Preimage != *rec.Preimage {
		t.Fatalf("pay after recovery: %+v %v", again, err)
	}
}

// A pay whose attempt was in flight at a stop goes on retrying after the
// start, if that attempt fails and its retry_for has not run out; once it
// has, the payment simply fails.
func TestEngineRestartResumesPay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration
		want    payment.Status
	}{{"retries", 0, payment.StatusComplete}, {"retry_for ran out", 2 * time.Minute, payment.StatusFailed}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, sub300)
			tg := targetWithAnotherWayIn(t, r)
			// Every way in is held: pay's fuzz seed, drawn from the
			// engine's pool, decides which one the attempt takes.
			held := waysIn(r, tg.route[len(tg.route)-1].ID)
			for _, n := range held {
				r.n.Hold(n)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				r.e.Pay(ctx, PayRequest{Bolt11: tg.bolt11, Params: payment.DefaultPayParams()}) // cut short by the stop
			}()
			waitFor(t, func() bool { p, _ := r.l.Pending(); return len(p) == 1 && r.n.InFlight() > 0 })
			// The attempt, held at hop, will fail on its last channel: pay's
			// fuzz seed decides which way in it took.
			route := r.attempts(t, tg.inv.PaymentHash)[0].Route
			last := route[len(route)-1]
			if err := r.n.SetBalance(last.Channel, route[len(route)-2].ID, 0); err != nil {
				t.Fatal(err)
			}
			r.e.Stop()
			r.l.Close()
			cancel()
			<-done

			r.n.SetNow(r.n.Now().Add(tc.advance))
			r.l, r.e = startEngine(t, r.n, r.dir)
			for _, n := range held {
				r.n.Release(n)
			}
			waitFor(t, func() bool {
				recs, _ := r.e.ListSendPays("", &tg.inv.PaymentHash)
				ps, _ := r.e.ListPays(tg.bolt11, nil)
				return len(recs) == 1 && recs[0].Status == tc.want && ps[0].Status == tc.want
			})
			atts := r.attempts(t, tg.inv.PaymentHash)
			switch tc.want {
			case payment.StatusComplete:
				if len(atts) < 2 || uses(atts[1].Route, last.Channel, last.Direction) {
					t.Fatalf("attempts after the restart: %+v", atts)
				}
				if d := r.n.Delivered(tg.inv.PaymentHash); d.Settlements != 1 {
					t.Fatalf("settled %d times", d.Settlements)
				}
			default:
				if len(atts) != 1 {
					t.Fatalf("%d attempts after retry_for ran out", len(atts))
				}
			}
			if p, _ := r.l.Pending(); len(p) != 0 {
				t.Fatalf("%d attempts still pending", len(p))
			}
		})
	}
}

// killedBetweenAttempts writes what the ledger holds of a pay killed
// between two attempts, as the payment actor writes it: the pay's first
// attempt over route failed (204, the last hop's channel), its row failed
// and still carrying the pay's run, the next attempt not yet written.
func killedBetweenAttempts(t *testing.T, r *engineRig, tg payTarget, started time.Time) {
	t.Helper()
	route := tg.route
	last := route[len(route)-1]
	f := &payment.Failure{Code: payment.CodeTryOtherRoute, Message: "WIRE_TEMPORARY_CHANNEL_FAILURE", Routing: &htlc.RoutingFailure{
		ErringIndex: len(route) - 1, OriginIndex: len(route) - 2, ErringNode: route[len(route)-2].ID,
		ErringChannel: last.Channel, ErringDirection: last.Direction, FailCode: lnwire.CodeTemporaryChannelFailure}}
	rec := &payment.Record{Hash: tg.inv.PaymentHash, Destination: last.ID, Amount: last.Amount, AmountSent: route[0].Amount,
		CreatedAt: started, Status: payment.StatusFailed, Bolt11: tg.bolt11, Failure: f,
		Pay: &payment.PayRun{Params: payment.DefaultPayParams(), Start: started}}
	p := toPayment(rec)
	if p.Pay == nil {
		t.Fatal("the failed row of a pay that goes on does not keep the pay's run")
	}
	att := toAttempt(rec, route, 77, 1)
	if err := r.l.Write(context.Background(), &persistence.Batch{Payments: []messages.Payment{p}, Attempts: []messages.Attempt{att}}); err != nil {
		t.Fatal(err)
	}
}

// Issue 13: a single-path pay killed between attempts (attempt 1 failed
// and written, attempt 2 not yet) was dropped at the start, its row left
// failed while the pay had not ended. It is taken up: within retry_for it
// retries without the channel that failed and completes, once; past it,
// it gives up (210) without a new attempt, and its row no longer carries
// the pay's run, so the next start leaves it alone. listpays shows it
// pending until it ends.
func TestEngineResumesPayBetweenAttempts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration
		want    payment.Status
	}{{"retries", 0, payment.StatusComplete}, {"retry_for ran out", 2 * time.Minute, payment.StatusFailed}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, sub300)
			tg := targetWithAnotherWayIn(t, r)
			last := tg.route[len(tg.route)-1]
			r.e.Stop()
			killedBetweenAttempts(t, r, tg, r.n.Now())
			r.l.Close()

			r.n.SetNow(r.n.Now().Add(tc.advance))
			r.l, r.e = startEngine(t, r.n, r.dir)
			if tc.want == payment.StatusComplete {
				// The resumed pay's actor runs from the start: listpays
				// does not show the failed row of a pay still at work.
				ps, err := r.e.ListPays(tg.bolt11, nil)
				if err != nil || len(ps) != 1 || ps[0].Status == payment.StatusFailed {
					t.Fatalf("listpays at the start: %+v %v", ps, err)
				}
			}
			waitFor(t, func() bool {
				ps, _ := r.e.ListPays(tg.bolt11, nil)
				return len(ps) == 1 && ps[0].Status == tc.want
			})
			recs, err := r.e.ListSendPays("", &tg.inv.PaymentHash)
			if err != nil || len(recs) != 1 || recs[0].Status != tc.want || recs[0].Pay != nil {
				t.Fatalf("listsendpays: %+v %v", recs, err)
			}
			atts := r.attempts(t, tg.inv.PaymentHash)
			switch tc.want {
			case payment.StatusComplete:
				if len(atts) != 2 || atts[1].PartID != 2 || atts[1].Status != messages.AttemptSettled || uses(atts[1].Route, last.Channel, last.Direction) {
					t.Fatalf("attempts after the restart: %+v", atts)
				}
				if d := r.n.Delivered(tg.inv.PaymentHash); d.Settlements != 1 {
					t.Fatalf("settled %d times", d.Settlements)
				}
			default:
				if len(atts) != 1 {
					t.Fatalf("%d attempts after retry_for ran out", len(atts))
				}
				// Ended for good: another start takes nothing up.
				r.e.Stop()
				r.l.Close()
				r.l, r.e = startEngine(t, r.n, r.dir)
				time.Sleep(50 * time.Millisecond)
				if n := r.e.Live(); n != 0 || len(r.attempts(t, tg.inv.PaymentHash)) != 1 {
					t.Fatalf("after another start: %d actors live, %d attempts", n, len(r.attempts(t, tg.inv.PaymentHash)))
				}
			}
			if p, _ := r.l.Pending(); len(p) != 0 {
				t.Fatalf("%d attempts still pending", len(p))
			}
		})
	}
}

// Issue 13: a pay killed before its first attempt (its row written,
// pending with its run, nothing else) was dropped at the start. It is
// taken up and pays, once; and a pay whose first route search fails
// leaves no row, as Core Lightning's pay leaves no payment then.
func TestEngineResumesPayBeforeFirstAttempt(t *testing.T) {
	r := newEngineRig(t, sub300)
	tg := r.target(t, 30_000_000, false, func(route graph.Route) bool { return len(route) >= 2 })
	r.e.Stop()
	now := r.n.Now()
	rec := &payment.Record{Hash: tg.inv.PaymentHash, Destination: tg.inv.Payee, Amount: *tg.inv.Amount, CreatedAt: now,
		Status: payment.StatusPending, Bolt11: tg.bolt11, Pay: &payment.PayRun{Params: payment.DefaultPayParams(), Start: now}}
	if err := r.l.Write(context.Background(), &persistence.Batch{Payments: []messages.Payment{toPayment(rec)}}); err != nil {
		t.Fatal(err)
	}
	r.l.Close()
	r.l, r.e = startEngine(t, r.n, r.dir)
	got, err := r.e.WaitSendPay(context.Background(), tg.inv.PaymentHash, nil)
	if err != nil || got.Status != payment.StatusComplete {
		t.Fatalf("after the start: %+v %v", got, err)
	}
	if d := r.n.Delivered(tg.inv.PaymentHash); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}
	if atts := r.attempts(t, tg.inv.PaymentHash); len(atts) != 1 || atts[0].Status != messages.AttemptSettled {
		t.Fatalf("attempts %+v", atts)
	}

	// No route: 205, and nothing stays in the ledger.
	b, err := r.n.Invoice(r.notPeer(t), 1<<50, "too much", 0, r.n.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
	_, err = r.e.Pay(context.Background(), PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
	var pe *payment.Error
	if !errors.As(err, &pe) || pe.Code != payment.CodeRouteNotFound {
		t.Fatalf("pay with no route: %v", err)
	}
	if recs, err := r.e.ListSendPays("", &inv.PaymentHash); err != nil || len(recs) != 0 {
		t.Fatalf("listsendpays after 205: %+v %v", recs, err)
	}
}

// waysIn returns the nodes other than ours with a channel to dest: the
// last hop before dest of any route.
func waysIn(r *engineRig, dest graph.NodeID) []graph.NodeID {
	var in []graph.NodeID
	r.n.Graph().Channels(func(c graph.ChannelInfo) bool {
		for _, ends := range [2][2]graph.NodeID{{c.Node1, c.Node2}, {c.Node2, c.Node1}} {
			if ends[1] == dest && ends[0] != r.n.Self() && !slices.Contains(in, ends[0]) {
				in = append(in, ends[0])
			}
		}
		return true
	})
	return in
}

// targetWithAnotherWayIn is a 30,000 sat target of two hops or more whose
// destination a route still reaches without the route's last channel, so
// a pay whose first attempt fails there can retry.
func targetWithAnotherWayIn(t *testing.T, r *engineRig) payTarget {
	t.Helper()
	return r.target(t, 30_000_000, false, func(route graph.Route) bool {
		if len(route) < 2 {
			return false
		}
		last := route[len(route)-1]
		cltv := uint32(simnet.DefaultMinFinalCLTV)
		_, err := r.e.GetRoute(context.Background(), graph.GetRouteParams{ID: last.ID, AmountMsat: 30_000_000, RiskFactor: 1,
			CLTV: &cltv, Exclude: []graph.Exclusion{graph.ExcludeChannel(graph.SCIDDir{SCID: last.Channel, Dir: last.Direction})}})
		return err == nil
	})
}

// Issue 14: a start takes up what was in flight in the background, so a
// call may come about a hash recovery has not reached yet. With recovery
// held back: listpays of a pay in flight at the stop shows it pending,
// and of a pay killed between attempts shows it pending too (not its
// failed row: listpays wakes its actor, which takes the pay up);
// waitsendpay of the first gets its settlement, once; a pay of the
// second is told it is in progress (200) or that it is complete, and it
// completes, once; then
// recovery, let go, finds nothing more to do.
func TestEngineServesWhileRecovering(t *testing.T) {
	r := newEngineRig(t, sub300)
	inFlight := r.invoices(t, 1, 30_000)[0]
	fly, _ := htlc.Decode(inFlight, htlc.DecodeOptions{Network: htlc.Regtest})
	if err := r.n.Hold(fly.Payee); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.e.Pay(ctx, PayRequest{Bolt11: inFlight, Params: payment.DefaultPayParams()}) // cut short by the stop
	}()
	waitFor(t, func() bool { p, _ := r.l.Pending(); return len(p) == 1 && r.n.InFlight() > 0 })
	tg := targetWithAnotherWayIn(t, r)
	r.e.Stop()
	cancel()
	<-done
	killedBetweenAttempts(t, r, tg, r.n.Now())
	r.l.Close()

	hold := make(chan struct{})
	recoveryHook = func(e *Engine) {
		select {
		case <-hold:
		case <-e.stopped:
		}
	}
	t.Cleanup(func() { recoveryHook = nil })
	r.l, r.e = startEngine(t, r.n, r.dir)
	ps, err := r.e.ListPays(inFlight, nil)
	if err != nil || len(ps) != 1 || ps[0].Status != payment.StatusPending {
		t.Fatalf("listpays of the pay in flight, before recovery: %+v %v", ps, err)
	}
	ps, err = r.e.ListPays(tg.bolt11, nil)
	if err != nil || len(ps) != 1 || ps[0].Status != payment.StatusPending {
		t.Fatalf("listpays of the pay between attempts, before recovery: %+v %v", ps, err)
	}
	r.n.Release(fly.Payee)
	rec, err := r.e.WaitSendPay(context.Background(), fly.PaymentHash, nil)
	if err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("waitsendpay of the pay in flight, before recovery: %+v %v", rec, err)
	}
	// A pay of a hash whose pay is at work is Core Lightning's 200 (as it
	// was when recovery took everything up before the start returned),
	// or the completed record if the resumed pay got there first.
	rec, err = r.e.Pay(context.Background(), PayRequest{Bolt11: tg.bolt11, Params: payment.DefaultPayParams()})
	if code(err) != payment.CodeInProgress && (err != nil || rec.Status != payment.StatusComplete) {
		t.Fatalf("pay of the pay between attempts, before recovery: %+v %v", rec, err)
	}
	waitFor(t, func() bool {
		ps, _ := r.e.ListPays(tg.bolt11, nil)
		return len(ps) == 1 && ps[0].Status == payment.StatusComplete
	})
	select {
	case <-r.e.Recovered():
		t.Fatal("recovery ended while held")
	default:
	}
	close(hold)
	<-r.e.Recovered()
	waitFor(t, func() bool { return r.e.Live() == 0 })
	for _, h := range [][32]byte{fly.PaymentHash, tg.inv.PaymentHash} {
		if d := r.n.Delivered(h); d.Settlements != 1 {
			t.Fatalf("%x settled %d times", h, d.Settlements)
		}
		if atts := r.attempts(t, h); atts[len(atts)-1].Status != messages.AttemptSettled {
			t.Fatalf("%x: attempts %+v", h, atts)
		}
	}
	if p, _ := r.l.Pending(); len(p) != 0 {
		t.Fatalf("%d attempts still pending", len(p))
	}
}

// Issue 14: recovery takes up more pays in flight than it lets load at
// once (recoverAtOnce), group after group: every one is found again and
// settles once, nothing is sent again, and recovery ends.
func TestEngineRecoversManyInFlight(t *testing.T) {
	r := newEngineRig(t, sub300)
	bolts := r.invoices(t, 3*recoverAtOnce+5, 30_000)
	if len(bolts) < 2*recoverAtOnce+1 {
		t.Fatalf("only %d destinations", len(bolts))
	}
	var hashes [][32]byte
	for _, b := range bolts {
		inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
		hashes = append(hashes, inv.PaymentHash)
		if err := r.n.Hold(inv.Payee); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, len(bolts))
	for _, b := range bolts {
		go func() {
			r.e.Pay(ctx, PayRequest{Bolt11: b, Params: payment.DefaultPayParams()}) // cut short by the stop
			done <- struct{}{}
		}()
	}
	waitFor(t, func() bool { p, _ := r.l.Pending(); return len(p) == len(bolts) && r.n.InFlight() == len(bolts) })
	r.e.Stop()
	r.l.Close()
	cancel()
	for range bolts {
		<-done
	}
	for _, b := range bolts {
		inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
		r.n.Release(inv.Payee)
	}

	r.l, r.e = startEngine(t, r.n, r.dir)
	select {
	case <-r.e.Recovered():
	case <-time.After(20 * time.Second):
		t.Fatal("recovery did not end")
	}
	waitFor(t, func() bool { p, _ := r.l.PendingHashes(); return len(p) == 0 && r.e.Live() == 0 })
	for _, h := range hashes {
		ps, err := r.e.ListPays("", &h)
		if err != nil || len(ps) != 1 || ps[0].Status != payment.StatusComplete {
			t.Fatalf("%x after recovery: %+v %v", h, ps, err)
		}
		if d := r.n.Delivered(h); d.Settlements != 1 {
			t.Fatalf("%x settled %d times", h, d.Settlements)
		}
		if atts := r.attempts(t, h); len(atts) != 1 {
			t.Fatalf("%x: %d attempts: sent again", h, len(atts))
		}
	}
}
