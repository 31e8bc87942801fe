package payment

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

func invoice(amount *graph.MilliSat) Invoice {
	return Invoice{Bolt11: "lnbcrt1...", Payee: nodeC, Amount: amount, CreatedAt: t0, Expiry: time.Hour, MinFinalCLTV: 9}
}

// Spec vector 14: amount rules, expiry, and an already-paid invoice.
func TestPayPrechecks(t *testing.T) {
	c := New(hash, nil, nil)
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Amount: msat(1000), Params: DefaultPayParams()},
		"reply to=1 error -32602 msatoshi parameter unnecessary")
	step(t, c, t0, Pay{Reply: 2, Invoice: invoice(nil), Params: DefaultPayParams()},
		"reply to=2 error -32602 msatoshi parameter required")
	// An amountless invoice paid with 0 has nothing to route: -32602,
	// not the graph's 205.
	step(t, c, t0, Pay{Reply: 2, Invoice: invoice(nil), Amount: msat(0), Params: DefaultPayParams()},
		"reply to=2 error -32602 msatoshi parameter must be positive, not 0msat")
	step(t, c, t0.Add(time.Hour+time.Second), Pay{Reply: 3, Invoice: invoice(msat(1000)), Params: DefaultPayParams()},
		"reply to=3 error 207 Invoice expired")
	// At exactly created+expiry it is not yet expired.
	step(t, c, t0.Add(time.Hour), Pay{Reply: 4, Invoice: invoice(msat(1000)), Params: DefaultPayParams()},
		"persist-outcome pending", "find-route exclude=[]")
	if !c.Paying() {
		t.Fatal("Paying false while routing")
	}
	paid := New(hash, &Record{Hash: hash, Destination: nodeC, Amount: 1000, Status: StatusComplete, Preimage: &pre}, nil)
	// The original pages: an already-paid bolt11 succeeds at once, even
	// past its expiry.
	step(t, paid, t0.Add(48*time.Hour), Pay{Reply: 5, Invoice: invoice(msat(1000)), Params: DefaultPayParams()}, "reply to=5 complete")
}

// Spec vector 15: the retry loop excludes the erring channel, or the node
// when the NODE bit is set, and fails at once on 203.
func TestPayRetry(t *testing.T) {
	c := New(hash, nil, nil)
	params := DefaultPayParams()
	effects := step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	// The pay's row goes first, with its run, so that a restart finds a
	// pay killed before its first attempt.
	if rec := effects[0].(PersistOutcome).Record; rec.Status != StatusPending || rec.Pay == nil || rec.Amount != 1000 || rec.Destination != nodeC {
		t.Fatalf("the pay's first row %+v", rec)
	}
	fr := effects[1].(FindRoute).Params
	if fr.ID != nodeC || fr.AmountMsat != 1000 || fr.RiskFactor != 1.0 || *fr.CLTV != 9 {
		t.Fatalf("find-route params %+v", fr)
	}
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	excl := graph.SCIDDir{SCID: chBC, Dir: 0}.String()
	step(t, c, t0, Failed{Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)},
		"persist-outcome failed", "report-failure", "find-route exclude=["+excl+"]")
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	step(t, c, t0, Failed{Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryNodeFailure)},
		"persist-outcome failed", "report-failure", "find-route exclude=["+excl+" "+nodeB.String()+"]")
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	step(t, c, t0, Failed{Failure: remoteFailure(203, 2, nodeC, chBC, lnwire.CodeIncorrectOrUnknownPaymentDetails)},
		"persist-outcome failed", "reply to=1 error 203 failed: IncorrectOrUnknownPaymentDetails")
	if c.Paying() || !c.Done() {
		t.Fatal("pay still running after 203")
	}
}

// Spec vector 15: 205 with no attempt, 210 "Ran out of routes" after one,
// 210 "Gave up" past retry_for; success answers the pay.
func TestPayEndings(t *testing.T) {
	params := DefaultPayParams()
	c := New(hash, nil, nil)
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	// The row the pay wrote first goes before the answer: Core
	// Lightning's pay leaves no payment without an attempt. A waitsendpay
	// caller meanwhile waited on it, and learns there is none.
	step(t, c, t0, WaitSendPay{Reply: 2})
	step(t, c, t0, RouteNotFound{Err: graph.ErrNoRoute}, "delete-record pending")
	if c.Done() {
		t.Fatal("done while the row is deleted")
	}
	step(t, c, t0, Deleted{}, "reply to=1 error 205 Could not find a route", "reply to=2 error 208 Never attempted payment for '"+fmt.Sprintf("%x", hash)+"'")
	if c.Record() != nil || !c.Done() {
		t.Fatalf("after the pay: record %+v", c.Record())
	}
	// A row that could not be deleted is left failed, so that no restart
	// takes the pay up again.
	c = New(hash, nil, nil)
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0, RouteNotFound{Err: graph.ErrNoRoute}, "delete-record pending")
	effects := step(t, c, t0, Deleted{Err: errors.New("disk")}, "persist-outcome failed", "reply to=1 error 205 Could not find a route")
	if o := effects[0].(PersistOutcome); !o.PaymentOnly || o.Record.Pay != nil || o.Record.Failure.Code != CodeRouteNotFound {
		t.Fatalf("the row left: %+v", o)
	}

	c = New(hash, nil, nil)
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	f := remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)
	step(t, c, t0, Failed{Failure: f}, "persist-outcome failed", "report-failure", "find-route exclude=[100x2x0/0]")
	// The failed row kept the pay's run while the pay went on; its end
	// writes the row again without it.
	effects = step(t, c, t0, RouteNotFound{Err: graph.ErrNoRoute}, "persist-outcome failed",
		"reply to=1 error 210 Ran out of routes to try after 1 attempt: see paystatus")
	if o := effects[0].(PersistOutcome); !o.PaymentOnly || o.Record.Pay != nil {
		t.Fatalf("the pay's end writes %+v", o)
	}
	data := effects[1].(Reply).Err.Data.(PayFailureData)
	if len(data.Attempts) != 1 || data.Attempts[0].Failure == nil || data.Attempts[0].Failure.Code != 204 {
		t.Fatalf("attempts %+v", data.Attempts)
	}

	c = New(hash, nil, nil)
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	step(t, c, t0, Failed{Failure: f}, "persist-outcome failed", "report-failure", "find-route exclude=[100x2x0/0]")
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	// retry_for is checked only after a failure: the HTLC out past it is
	// waited for, then the pay gives up.
	late := t0.Add(params.RetryFor + time.Second)
	step(t, c, late, Failed{Failure: f}, "persist-outcome failed", "report-failure", "reply to=1 error 210 Gave up after 2 attempts: see paystatus")

	c = New(hash, nil, nil)
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(nil), Amount: msat(5000), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0, RouteFound{Route: routeABC(5000)}, "persist-attempt amount=5000 sent=5001")
	step(t, c, t0, WaitSendPay{Reply: 2})
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	step(t, c, t0, Settled{Preimage: pre}, "persist-outcome complete", "reply to=2 complete", "reply to=1 complete")

	c = New(hash, nil, nil)
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0, RouteNotFound{Err: &graph.Error{Code: -32602, Message: "x is not a valid short_channel_id/node_id"}}, "delete-record pending")
	step(t, c, t0, Deleted{}, "reply to=1 error -32602 x is not a valid short_channel_id/node_id")
	if _, err := c.Step(t0, RouteNotFound{Err: errors.New("late")}); !errors.Is(err, ErrUnexpected) {
		t.Fatal("a route answer after the pay ended was accepted")
	}
}

// Spec vector 13: fee and delay limits. A 100,000 msat payment over
// A-B-C, whose BC hop charges 1001 msat.
func TestPayLimits(t *testing.T) {
	expensive := graph.Route{
		{ID: nodeB, Channel: chAB, Amount: 101001, Delay: 15},
		{ID: nodeC, Channel: chBC, Amount: 100000, Delay: 9},
	}
	for _, tc := range []struct {
		name   string
		params func(*PayParams)
		answer Event // to the first effect, when the pay does not go on
		want   []string
	}{
		// The first dear route asks for the fee floor: over the budget
		// too, so no route will do.
		{"maxfeepercent 0.0001, exemptfee 0", func(p *PayParams) { p.MaxFeePercent, p.ExemptFee = 0.0001, 0 }, FeeFloorFound{Floor: 1001},
			[]string{"find-fee-floor exclude=[100x1x0/0]", "delete-record pending", "reply to=1 error 206 Route wanted fee of 1001msat"}},
		{"maxfeepercent 0.0001, exemptfee 2000", func(p *PayParams) { p.MaxFeePercent, p.ExemptFee = 0.0001, 2000 }, nil,
			[]string{"persist-attempt amount=100000 sent=101001"}},
		{"maxdelay 0", func(p *PayParams) { p.MaxDelay = 0 }, RouteNotFound{Err: graph.ErrNoRoute},
			[]string{"find-route exclude=[100x1x0/0]", "delete-record pending", "reply to=1 error 206 Route wanted delay of 15 blocks"}},
	} {
		c := New(hash, nil, nil)
		params := DefaultPayParams()
		tc.params(&params)
		step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(100000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
		got := describe(mustStep(t, c, RouteFound{Route: expensive}))
		if tc.answer != nil {
			got = append(got, describe(mustStep(t, c, tc.answer))...)
			got = append(got, describe(mustStep(t, c, Deleted{}))...)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// v0.7's too-expensive loop excludes the dearest channel and asks again
// until no route is left. After the 1st, 2nd, 4th... dear route pay asks
// for the fee floor: a floor within the budget lets the loop go on, a floor
// over it (or no path at all) ends it with the 206 it would end with.
func TestPayFeeFloor(t *testing.T) {
	dear := func(ch graph.SCID) graph.Route {
		return graph.Route{{ID: nodeB, Channel: ch, Amount: 101001, Delay: 15}, {ID: nodeC, Channel: chBC, Amount: 100000, Delay: 9}}
	}
	params := DefaultPayParams()
	params.MaxFeePercent, params.ExemptFee = 0.1, 0 // a budget of 100 msat
	start := func() *Core {
		c := New(hash, nil, nil)
		step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(100000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
		return c
	}

	c := start()
	step(t, c, t0, RouteFound{Route: dear(chAB)}, "find-fee-floor exclude=[100x1x0/0]")
	step(t, c, t0, FeeFloorFound{Floor: 100}, "find-route exclude=[100x1x0/0]") // within: go on
	ch := []graph.SCID{graph.NewSCID(300, 1, 0), graph.NewSCID(301, 1, 0), graph.NewSCID(302, 1, 0)}
	step(t, c, t0, RouteFound{Route: dear(ch[0])}, "find-fee-floor exclude=[100x1x0/0 300x1x0/0]") // the 2nd
	step(t, c, t0, FeeFloorFound{Floor: 0}, "find-route exclude=[100x1x0/0 300x1x0/0]")
	step(t, c, t0, RouteFound{Route: dear(ch[1])}, "find-route exclude=[100x1x0/0 300x1x0/0 301x1x0/0]") // the 3rd: no floor
	step(t, c, t0, RouteFound{Route: dear(ch[2])}, "find-fee-floor exclude=[100x1x0/0 300x1x0/0 301x1x0/0 302x1x0/0]")
	step(t, c, t0, FeeFloorFound{Floor: 101}, "delete-record pending")
	step(t, c, t0, Deleted{}, "reply to=1 error 206 Route wanted fee of 1001msat")

	c = start()
	step(t, c, t0, RouteFound{Route: dear(chAB)}, "find-fee-floor exclude=[100x1x0/0]")
	step(t, c, t0, FeeFloorFound{Err: graph.ErrNoRoute}, "delete-record pending")
	step(t, c, t0, Deleted{}, "reply to=1 error 206 Route wanted fee of 1001msat")

	// A floor the graph could not compute changes nothing.
	c = start()
	step(t, c, t0, RouteFound{Route: dear(chAB)}, "find-fee-floor exclude=[100x1x0/0]")
	step(t, c, t0, FeeFloorFound{Err: &graph.Error{Code: -32602, Message: "bad"}}, "find-route exclude=[100x1x0/0]")

	if _, err := New(hash, nil, nil).Step(t0, FeeFloorFound{Floor: 1}); !errors.Is(err, ErrUnexpected) {
		t.Fatal("a fee floor nobody asked for was accepted")
	}
}

func mustStep(t *testing.T, c *Core, ev Event) []Effect {
	t.Helper()
	effects, err := c.Step(t0, ev)
	if err != nil {
		t.Fatal(err)
	}
	return effects
}

func TestWorstChannel(t *testing.T) {
	r := graph.Route{
		{Channel: graph.NewSCID(1, 0, 0), Amount: 1300, Delay: 100},
		{Channel: graph.NewSCID(2, 0, 0), Amount: 1250, Delay: 40},
		{Channel: graph.NewSCID(3, 0, 0), Amount: 1000, Delay: 9},
	}
	// Amount drops 50 then 250: the second pair's first channel.
	if w := worst(r, func(h graph.Hop) uint64 { return uint64(h.Amount) }); w.String() != "2x0x0/0" {
		t.Errorf("fee worst %s", w)
	}
	if w := worst(r, func(h graph.Hop) uint64 { return uint64(h.Delay) }); w.String() != "1x0x0/0" {
		t.Errorf("delay worst %s", w)
	}
	if w := worst(r[2:], func(h graph.Hop) uint64 { return uint64(h.Delay) }); w.String() != "3x0x0/0" {
		t.Errorf("single hop %s", w)
	}
}

// After a restart, a pay whose attempt was in flight is resumed from the
// record: a 204 goes on retrying within retry_for from the original start,
// and gives up after it; the record of a pay-driven attempt carries the
// pay's run, and only such a record can be resumed.
func TestPayResume(t *testing.T) {
	c := New(hash, nil, nil)
	params := DefaultPayParams()
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	effects := step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	rec := effects[0].(PersistAttempt).Record
	if rec.Pay == nil || rec.Pay.Params != params || !rec.Pay.Start.Equal(t0) {
		t.Fatalf("the attempt's record has pay run %+v", rec.Pay)
	}
	fail := Failed{Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)}

	fresh := func() *Record { r := rec; return &r } // the core updates its record in place
	resumed := New(hash, fresh(), routeABC(1000))
	if err := resumed.Resume(invoice(msat(1000))); err != nil {
		t.Fatal(err)
	}
	excl := graph.SCIDDir{SCID: chBC, Dir: 0}.String()
	step(t, resumed, t0.Add(time.Second), fail, "persist-outcome failed", "report-failure", "find-route exclude=["+excl+"]")

	late := New(hash, fresh(), routeABC(1000))
	if err := late.Resume(invoice(msat(1000))); err != nil {
		t.Fatal(err)
	}
	step(t, late, t0.Add(params.RetryFor+time.Second), fail, "persist-outcome failed", "report-failure",
		"reply to=0 error 210 Gave up after 1 attempt: see paystatus")

	bare := rec
	bare.Pay = nil
	if err := New(hash, &bare, routeABC(1000)).Resume(invoice(msat(1000))); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("resume without a pay run: %v", err)
	}
}

// The too-expensive loop stops at retry_for with 206 instead of excluding
// channels until no route is left.
func TestPayExpensiveLoopBounded(t *testing.T) {
	expensive := graph.Route{{ID: nodeB, Channel: chAB, Amount: 101001, Delay: 15}, {ID: nodeC, Channel: chBC, Amount: 100000, Delay: 9}}
	c := New(hash, nil, nil)
	params := DefaultPayParams()
	params.MaxFeePercent, params.ExemptFee = 0.0001, 0
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(100000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0.Add(time.Second), RouteFound{Route: expensive}, "find-fee-floor exclude=[100x1x0/0]")
	step(t, c, t0.Add(time.Second), FeeFloorFound{Floor: 0}, "find-route exclude=[100x1x0/0]")
	step(t, c, t0.Add(params.RetryFor+time.Second), RouteFound{Route: expensive}, "delete-record pending")
	step(t, c, t0, Deleted{}, "reply to=1 error 206 Route wanted fee of 1001msat")
	if c.Paying() || !c.Done() {
		t.Fatal("the pay did not end")
	}
}

// A route found after retry_for has run out starts no attempt: the pay
// gives up with 210.
func TestPayNoAttemptAfterRetryFor(t *testing.T) {
	c := New(hash, nil, nil)
	params := DefaultPayParams()
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	excl := graph.SCIDDir{SCID: chBC, Dir: 0}.String()
	step(t, c, t0.Add(params.RetryFor-time.Second), Failed{Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)},
		"persist-outcome failed", "report-failure", "find-route exclude=["+excl+"]")
	step(t, c, t0.Add(params.RetryFor+time.Second), RouteFound{Route: routeABC(1000)},
		"persist-outcome failed", "reply to=1 error 210 Gave up after 1 attempt: see paystatus")
	if !c.Done() {
		t.Fatal("the pay did not end")
	}
}

// retry_for counts from the command's arrival (Pay.Start), not from the
// step that took it up: a pay that waited its turn for 5 s has 5 s less.
func TestPayRetryForFromCommand(t *testing.T) {
	c := New(hash, nil, nil)
	params := DefaultPayParams()
	arrived := t0.Add(-5 * time.Second)
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params, Start: arrived}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	step(t, c, arrived.Add(params.RetryFor+time.Second), Failed{Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)},
		"persist-outcome failed", "report-failure", "reply to=1 error 210 Gave up after 1 attempt: see paystatus")
}

// The row a failed attempt leaves keeps the pay's run while the pay goes
// on, so that a restart between two attempts takes the pay up; an ending
// pay's row loses it (written again when the pay ends between attempts).
func TestPayRunInRow(t *testing.T) {
	c := New(hash, nil, nil)
	params := DefaultPayParams()
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	effects := step(t, c, t0, Failed{Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)},
		"persist-outcome failed", "report-failure", "find-route exclude=[100x2x0/0]")
	if run := effects[0].(PersistOutcome).Record.Pay; run == nil || run.Params != params || !run.Start.Equal(t0) {
		t.Fatalf("the failed row of a pay that goes on has pay run %+v", run)
	}
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	effects = step(t, c, t0, Failed{Failure: remoteFailure(203, 2, nodeC, chBC, lnwire.CodeIncorrectOrUnknownPaymentDetails)},
		"persist-outcome failed", "reply to=1 error 203 failed: IncorrectOrUnknownPaymentDetails")
	if run := effects[0].(PersistOutcome).Record.Pay; run != nil {
		t.Fatalf("the row of an ended pay keeps its run %+v", run)
	}

	c = New(hash, nil, nil)
	step(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: params}, "persist-outcome pending", "find-route exclude=[]")
	step(t, c, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2")
	effects = step(t, c, t0, Settled{Preimage: pre}, "persist-outcome complete", "reply to=1 complete")
	if run := effects[0].(PersistOutcome).Record.Pay; run != nil {
		t.Fatalf("a complete row keeps the pay's run %+v", run)
	}
}

// Issue 13: a pay killed between two attempts is taken up from its row
// and attempts: the channels and nodes its 204s named are excluded again,
// the next attempt is a fresh one, and the outcome goes to nobody (reply
// 0). Past retry_for it gives up with 210 listing the attempts, and the
// row is written again without the pay's run. A complete row, or one
// without a run, cannot be resumed.
func TestPayResumeBetweenAttempts(t *testing.T) {
	params := DefaultPayParams()
	f1 := remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)
	f2 := remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryNodeFailure)
	between := func() *Record {
		return &Record{Hash: hash, Destination: nodeC, Amount: 1000, AmountSent: 1001, CreatedAt: t0, Status: StatusFailed,
			Bolt11: "lnbcrt1...", Failure: &f2, Pay: &PayRun{Params: params, Start: t0}}
	}
	attempts := []PayAttempt{{Route: routeABC(1000), Failure: &f1}, {Route: routeABC(1000), Failure: &f2}}

	c := New(hash, between(), nil)
	effects, err := c.ResumePay(t0.Add(time.Second), invoice(msat(1000)), attempts)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(describe(effects)); got != "[find-route exclude=[100x2x0/0 "+nodeB.String()+"]]" {
		t.Fatalf("resumed: %s", got)
	}
	if !c.Paying() || c.Done() {
		t.Fatal("the resumed pay is not at work")
	}
	effects = step(t, c, t0.Add(time.Second), RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	if rec := effects[0].(PersistAttempt).Record; rec.Status != StatusPending || rec.Pay == nil || !rec.Pay.Start.Equal(t0) {
		t.Fatalf("the next attempt's row %+v", rec)
	}
	step(t, c, t0.Add(time.Second), Persisted{}, "send-htlc hops=2")
	step(t, c, t0.Add(time.Second), Settled{Preimage: pre}, "persist-outcome complete", "reply to=0 complete")

	late := New(hash, between(), nil)
	effects, err = late.ResumePay(t0.Add(params.RetryFor+time.Second), invoice(msat(1000)), attempts)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(describe(effects)); got != "[persist-outcome failed reply to=0 error 210 Gave up after 2 attempts: see paystatus]" {
		t.Fatalf("resumed past retry_for: %s", got)
	}
	if o := effects[0].(PersistOutcome); !o.PaymentOnly || o.Record.Pay != nil {
		t.Fatalf("the ended pay writes %+v", o)
	}
	if !late.Done() {
		t.Fatal("the pay did not end")
	}

	// A pending row with no attempt out (the caller knows) is taken up
	// the same way.
	pending := between()
	pending.Status, pending.Failure = StatusPending, nil
	c = New(hash, pending, nil)
	if effects, err = c.ResumePay(t0, invoice(msat(1000)), nil); err != nil || fmt.Sprint(describe(effects)) != "[find-route exclude=[]]" {
		t.Fatalf("pending row: %v %v", describe(effects), err)
	}
	// Nobody was told of it: its end stays visible, as a failed row.
	effects = step(t, c, t0, RouteNotFound{Err: graph.ErrNoRoute}, "persist-outcome failed", "reply to=0 error 205 Could not find a route")
	if o := effects[0].(PersistOutcome); o.Record.Pay != nil || o.Record.Failure == nil || o.Record.Failure.Code != CodeRouteNotFound {
		t.Fatalf("the resumed pay's end writes %+v", o.Record)
	}

	done := between()
	done.Status = StatusComplete
	bare := between()
	bare.Pay = nil
	for _, rec := range []*Record{done, bare, nil} {
		if _, err := New(hash, rec, nil).ResumePay(t0, invoice(msat(1000)), nil); !errors.Is(err, ErrUnexpected) {
			t.Fatalf("resume of %+v: %v", rec, err)
		}
	}
}
