package payment

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// A second line from A to C, over D: A -[AD]- D -[DC]- C.
var (
	nodeD = nid(4)
	chAD  = graph.NewSCID(100, 3, 0)
	chDC  = graph.NewSCID(100, 4, 0)
)

// viaB and viaD deliver final to C over B or D; each intermediate node
// charges 1 msat per 1,000,000 forwarded plus 1 msat.
func viaB(final graph.MilliSat) graph.Route {
	return graph.Route{{ID: nodeB, Channel: chAB, Amount: final + 1 + final/1_000_000, Delay: 15}, {ID: nodeC, Channel: chBC, Amount: final, Delay: 9}}
}

func viaD(final graph.MilliSat) graph.Route {
	return graph.Route{{ID: nodeD, Channel: chAD, Amount: final + 1 + final/1_000_000, Delay: 15}, {ID: nodeC, Channel: chDC, Amount: final, Delay: 9}}
}

func flowOf(routes ...graph.Route) FlowFound {
	f := &graph.Flow{}
	for _, r := range routes {
		f.Parts = append(f.Parts, graph.FlowPart{Route: r, ProbabilityPPM: 900_000})
	}
	return FlowFound{Flow: f}
}

// describeFlow renders a multi-part pay's effects, one line each.
func describeFlow(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		switch e := e.(type) {
		case PlanFlow:
			out = append(out, fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=%d", e.Params.Amount, e.Params.MaxFee, e.Params.MaxParts))
		case PersistAttempt:
			out = append(out, fmt.Sprintf("persist-attempt part=%d delivers=%d total=%d sent=%d", e.Part, e.Route[len(e.Route)-1].Amount, e.Total, e.Record.AmountSent))
		case SendHTLC:
			out = append(out, fmt.Sprintf("send-htlc part=%d total=%d", e.Part, e.Total))
		case PersistOutcome:
			if e.PartRecord != nil {
				out = append(out, fmt.Sprintf("persist-outcome part=%d %s payment %s", e.Part, e.PartRecord.Status, e.Record.Status))
				break
			}
			out = append(out, fmt.Sprintf("persist-outcome %s parts=%d sent=%d", e.Record.Status, e.Record.Parts, e.Record.AmountSent))
		default:
			out = append(out, describe([]Effect{e})...)
		}
	}
	return out
}

func stepF(t *testing.T, c *Core, now time.Time, ev Event, want ...string) []Effect {
	t.Helper()
	effects, err := c.Step(now, ev)
	if err != nil {
		t.Fatalf("%T: %v", ev, err)
	}
	if got := describeFlow(effects); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%T %+v:\ngot  %q\nwant %q", ev, ev, got, want)
	}
	return effects
}

const big = SinglePathMax * 3 // 300,000 sat: sent in parts

// A pay of a large amount is planned as a flow and its parts leave at
// once, each carrying the payment's total; a failed part is planned again
// for only its own amount, within what is left of the whole payment's fee
// budget; the pay ends complete once every part has settled, with parts.
func TestPayInPartsReplansOnlyTheMissingAmount(t *testing.T) {
	c := New(hash, nil, nil)
	params := DefaultPayParams()
	budget := graph.MilliSat(float64(big) * params.MaxFeePercent / 100)
	stepF(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(big)), Params: params}, "persist-outcome pending parts=0 sent=0",
		fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=100", big, budget))
	half := big / 2
	stepF(t, c, t0, flowOf(viaB(half), viaD(half)),
		fmt.Sprintf("persist-attempt part=1 delivers=%d total=%d sent=%d", half, big, half+1+half/1_000_000),
		fmt.Sprintf("persist-attempt part=2 delivers=%d total=%d sent=%d", half, big, 2*(half+1+half/1_000_000)))
	stepF(t, c, t0, Persisted{Part: 1}, fmt.Sprintf("send-htlc part=1 total=%d", big))
	stepF(t, c, t0, Persisted{Part: 2}, fmt.Sprintf("send-htlc part=2 total=%d", big))
	// Never more in flight than the amount: a part failing leaves
	// exactly its amount to plan again, with the fee budget less the
	// fees of the part still out.
	fee := 1 + half/1_000_000
	stepF(t, c, t0, Failed{Part: 2, Failure: remoteFailure(204, 1, nodeD, chDC, lnwire.CodeTemporaryChannelFailure)},
		"persist-outcome part=2 failed payment pending",
		fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=99", half, budget-fee))
	quarter := half / 2
	stepF(t, c, t0, flowOf(viaB(quarter), viaB(quarter)),
		fmt.Sprintf("persist-attempt part=3 delivers=%d total=%d sent=%d", quarter, big, half+fee+quarter+1+quarter/1_000_000),
		fmt.Sprintf("persist-attempt part=4 delivers=%d total=%d sent=%d", quarter, big, half+fee+2*(quarter+1+quarter/1_000_000)))
	stepF(t, c, t0, Persisted{Part: 3}, fmt.Sprintf("send-htlc part=3 total=%d", big))
	stepF(t, c, t0, Persisted{Part: 4}, fmt.Sprintf("send-htlc part=4 total=%d", big))
	stepF(t, c, t0, WaitSendPay{Reply: 2})
	stepF(t, c, t0, Settled{Part: 1, Preimage: pre}, "persist-outcome part=1 complete payment pending")
	stepF(t, c, t0, Settled{Part: 3, Preimage: pre}, "persist-outcome part=3 complete payment pending")
	sent := half + fee + 2*(quarter+1+quarter/1_000_000)
	stepF(t, c, t0, Settled{Part: 4, Preimage: pre}, "persist-outcome part=4 complete payment pending",
		fmt.Sprintf("persist-outcome complete parts=3 sent=%d", sent), "reply to=2 complete", "reply to=1 complete")
	if r := c.Record(); r.Parts != 3 || r.AmountSent != sent || *r.Preimage != pre || !c.Done() {
		t.Fatalf("record %+v, done %v", r, c.Done())
	}
}

// Below SinglePathMax, and with maxparts 1 at any amount, pay keeps the
// single-path search of v0.7.
func TestPaySinglePathRule(t *testing.T) {
	c := New(hash, nil, nil)
	stepF(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(SinglePathMax - 1)), Params: DefaultPayParams()}, "persist-outcome pending parts=0 sent=0", "find-route exclude=[]")
	one := DefaultPayParams()
	one.MaxParts = 1
	c = New(hash, nil, nil)
	stepF(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(big)), Params: one}, "persist-outcome pending parts=0 sent=0", "find-route exclude=[]")
}

// How a pay in parts ends: the planner finding nothing (205, or 206 when
// only the fee budget stood in the way), a destination's refusal (203,
// after every other part is back), retry_for running out (210).
func TestPayInPartsEndings(t *testing.T) {
	params := DefaultPayParams()
	plan := func(c *Core) {
		t.Helper()
		effects, err := c.Step(t0, Pay{Reply: 1, Invoice: invoice(msat(big)), Params: params})
		if err != nil || len(effects) != 2 {
			t.Fatalf("pay: %v %v", effects, err)
		}
	}
	c := New(hash, nil, nil)
	plan(c)
	// Ended before any part: the pay's own row goes before the answer,
	// as Core Lightning's pay leaves no payment then.
	stepF(t, c, t0, FlowFound{Err: graph.ErrNoRoute}, "delete-record pending")
	stepF(t, c, t0, Deleted{}, "reply to=1 error 205 Could not find a route")

	c = New(hash, nil, nil)
	plan(c)
	stepF(t, c, t0, FlowFound{Err: fmt.Errorf("%w: %w: the cheapest flow found costs 9msat", graph.ErrNoRoute, graph.ErrFeeBudget)},
		"delete-record pending")
	stepF(t, c, t0, Deleted{}, "reply to=1 error 206 Route wanted more fee than the budget of 1500000msat: the cheapest flow found costs 9msat")

	// 203 from the destination on one part: the other part is waited
	// for, then the pay fails with the 203, and nothing is planned again.
	c = New(hash, nil, nil)
	plan(c)
	half := big / 2
	stepF(t, c, t0, flowOf(viaB(half), viaD(half)), "persist-attempt part=1 delivers=150000000 total=300000000 sent=150000151",
		"persist-attempt part=2 delivers=150000000 total=300000000 sent=300000302")
	stepF(t, c, t0, Persisted{Part: 1}, "send-htlc part=1 total=300000000")
	stepF(t, c, t0, Persisted{Part: 2}, "send-htlc part=2 total=300000000")
	stepF(t, c, t0, Failed{Part: 1, Failure: remoteFailure(203, 2, nodeC, chBC, lnwire.CodeIncorrectOrUnknownPaymentDetails)},
		"persist-outcome part=1 failed payment pending")
	stepF(t, c, t0, Failed{Part: 2, Failure: remoteFailure(203, 2, nodeC, chDC, lnwire.CodeIncorrectOrUnknownPaymentDetails)},
		"persist-outcome part=2 failed payment pending", "persist-outcome failed parts=0 sent=0",
		"reply to=1 error 203 failed: IncorrectOrUnknownPaymentDetails")
	if !c.Done() {
		t.Fatal("pay still running")
	}

	// Past retry_for a failed part is not planned again: 210.
	c = New(hash, nil, nil)
	plan(c)
	stepF(t, c, t0, flowOf(viaB(big)), "persist-attempt part=1 delivers=300000000 total=300000000 sent=300000301")
	stepF(t, c, t0, Persisted{Part: 1}, "send-htlc part=1 total=300000000")
	stepF(t, c, t0.Add(params.RetryFor+time.Second), Failed{Part: 1, Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)},
		"persist-outcome part=1 failed payment pending", "persist-outcome failed parts=0 sent=0",
		"reply to=1 error 210 Gave up after 1 attempt: see paystatus")

	// A plan that fails while parts are out waits for them; the next
	// failure plans again, and when nothing can be planned and nothing is
	// out, 210 names the attempts.
	c = New(hash, nil, nil)
	plan(c)
	stepF(t, c, t0, flowOf(viaB(half)), "persist-attempt part=1 delivers=150000000 total=300000000 sent=150000151")
	stepF(t, c, t0, Persisted{Part: 1}, "send-htlc part=1 total=300000000")
	// A node failure keeps the node out of later plans (report-failure);
	// a channel short of liquidity only teaches the knowledge.
	stepF(t, c, t0, Failed{Part: 1, Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryNodeFailure)},
		"persist-outcome part=1 failed payment pending", "report-failure", "plan-flow amount=300000000 maxfee=1500000 maxparts=100")
	stepF(t, c, t0, FlowFound{Err: graph.ErrNoRoute}, "persist-outcome failed parts=0 sent=0",
		"reply to=1 error 210 Ran out of routes to try after 1 attempt: see paystatus")
}

// Parts answer only for themselves: an unknown part, or one that is not in
// flight, is refused and changes nothing.
func TestPayInPartsUnexpected(t *testing.T) {
	c := New(hash, nil, nil)
	if _, err := c.Step(t0, Pay{Reply: 1, Invoice: invoice(msat(big)), Params: DefaultPayParams()}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []Event{Persisted{Part: 1}, Settled{Part: 7, Preimage: pre}, Failed{Part: 1}} {
		if _, err := c.Step(t0, ev); !errors.Is(err, ErrUnexpected) {
			t.Fatalf("%+v: %v", ev, err)
		}
	}
	stepF(t, c, t0, flowOf(viaB(big)), "persist-attempt part=1 delivers=300000000 total=300000000 sent=300000301")
	if _, err := c.Step(t0, Settled{Part: 1, Preimage: pre}); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("settled before persisted: %v", err)
	}
	if _, err := c.Step(t0, FlowFound{}); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("flow while not planning: %v", err)
	}
}

// After a restart a pay in parts goes on: with parts still out it waits
// for them and plans again only what a failed one was to deliver; killed
// between rounds, it plans the missing amount at once; past retry_for it
// fails.
func TestPayInPartsResume(t *testing.T) {
	params := DefaultPayParams()
	params.MaxParts = 0 // not kept in the ledger
	rec := func() *Record {
		return &Record{Hash: hash, Destination: nodeC, Amount: big, AmountSent: big + 2, CreatedAt: t0, Status: StatusPending,
			Bolt11: "lnbcrt1...", Pay: &PayRun{Params: params, Start: t0}}
	}
	half := big / 2
	c := New(hash, rec(), nil)
	effects, err := c.ResumeParts(t0.Add(time.Second), invoice(msat(big)), []ResumedPart{{Route: viaB(half)}, {Route: viaD(half)}})
	if err != nil || len(effects) != 0 || !c.Paying() {
		t.Fatalf("resume with parts out: %v %v", effects, err)
	}
	stepF(t, c, t0.Add(time.Second), Settled{Part: 1, Preimage: pre}, "persist-outcome part=1 complete payment pending")
	stepF(t, c, t0.Add(time.Second), Failed{Part: 2, Failure: remoteFailure(204, 1, nodeD, chDC, lnwire.CodeTemporaryChannelFailure)},
		"persist-outcome part=2 failed payment pending", "persist-outcome complete parts=1 sent=150000151", "reply to=0 complete")

	c = New(hash, rec(), nil)
	effects, err = c.ResumeParts(t0.Add(time.Second), invoice(msat(big)), nil)
	if err != nil || strings.Join(describeFlow(effects), "|") != "plan-flow amount=300000000 maxfee=1500000 maxparts=100" {
		t.Fatalf("resume between rounds: %q %v", describeFlow(effects), err)
	}

	c = New(hash, rec(), nil)
	effects, err = c.ResumeParts(t0.Add(2*time.Minute), invoice(msat(big)), nil)
	if err != nil || strings.Join(describeFlow(effects), "|") != "persist-outcome failed parts=0 sent=0|reply to=0 error 210 Gave up after 0 attempts: see paystatus" {
		t.Fatalf("resume past retry_for: %q %v", describeFlow(effects), err)
	}
	if _, err := New(hash, nil, nil).ResumeParts(t0, invoice(msat(big)), nil); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("resume without a record: %v", err)
	}
}

// A plan that fails only because our other payments hold the liquidity
// waits and plans again, until retry_for; then 205.
func TestPayInPartsWaitsForHeldLiquidity(t *testing.T) {
	c := New(hash, nil, nil)
	params := DefaultPayParams()
	stepF(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(big)), Params: params}, "persist-outcome pending parts=0 sent=0",
		"plan-flow amount=300000000 maxfee=1500000 maxparts=100")
	held := fmt.Errorf("%w: %w", graph.ErrNoRoute, ErrLiquidityHeld)
	stepF(t, c, t0, FlowFound{Err: held}, "payment.WaitToPlan")
	if _, err := c.Step(t0, FlowFound{}); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("a flow while waiting: %v", err)
	}
	stepF(t, c, t0.Add(time.Second), PlanAgain{}, "plan-flow amount=300000000 maxfee=1500000 maxparts=100")
	stepF(t, c, t0.Add(params.RetryFor+time.Second), FlowFound{Err: held}, "delete-record pending")
	stepF(t, c, t0, Deleted{}, "reply to=1 error 205 Could not find a route")
	if !c.Done() {
		t.Fatal("pay still running")
	}
}

// A part that fails while a plan is out is planned again once that plan
// answers: with the plan's parts sent, the amount still missing is asked
// for at once (else the pay would wait for a failure that, with every
// other part held at the destination, comes only as mpp_timeout); and a
// plan that found nothing is tried again, since the failed part gave its
// liquidity back after the plan read it.
func TestPayInPartsReplansFailuresDuringAPlan(t *testing.T) {
	params := DefaultPayParams()
	budget := graph.MilliSat(float64(big) * params.MaxFeePercent / 100)
	fee := func(x graph.MilliSat) graph.MilliSat { return 1 + x/1_000_000 }
	tempFail := func(ch graph.SCID, n graph.NodeID) Failure {
		return remoteFailure(204, 1, n, ch, lnwire.CodeTemporaryChannelFailure)
	}

	c := New(hash, nil, nil)
	stepF(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(big)), Params: params}, "persist-outcome pending parts=0 sent=0",
		fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=100", big, budget))
	half := big / 2
	stepF(t, c, t0, flowOf(viaB(half), viaD(half)),
		fmt.Sprintf("persist-attempt part=1 delivers=%d total=%d sent=%d", half, big, half+fee(half)),
		fmt.Sprintf("persist-attempt part=2 delivers=%d total=%d sent=%d", half, big, 2*(half+fee(half))))
	stepF(t, c, t0, Persisted{Part: 1}, fmt.Sprintf("send-htlc part=1 total=%d", big))
	stepF(t, c, t0, Persisted{Part: 2}, fmt.Sprintf("send-htlc part=2 total=%d", big))
	stepF(t, c, t0, Failed{Part: 1, Failure: tempFail(chBC, nodeB)}, "persist-outcome part=1 failed payment pending",
		fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=99", half, budget-fee(half)))
	stepF(t, c, t0, Failed{Part: 2, Failure: tempFail(chDC, nodeD)}, "persist-outcome part=2 failed payment pending")
	stepF(t, c, t0, flowOf(viaB(half)),
		fmt.Sprintf("persist-attempt part=3 delivers=%d total=%d sent=%d", half, big, half+fee(half)),
		fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=99", half, budget-fee(half)))

	third := big / 3
	c = New(hash, nil, nil)
	stepF(t, c, t0, Pay{Reply: 1, Invoice: invoice(msat(big)), Params: params}, "persist-outcome pending parts=0 sent=0",
		fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=100", big, budget))
	stepF(t, c, t0, flowOf(viaB(third), viaD(third), viaB(third)),
		fmt.Sprintf("persist-attempt part=1 delivers=%d total=%d sent=%d", third, big, third+fee(third)),
		fmt.Sprintf("persist-attempt part=2 delivers=%d total=%d sent=%d", third, big, 2*(third+fee(third))),
		fmt.Sprintf("persist-attempt part=3 delivers=%d total=%d sent=%d", third, big, 3*(third+fee(third))))
	for part := uint64(1); part <= 3; part++ {
		stepF(t, c, t0, Persisted{Part: part}, fmt.Sprintf("send-htlc part=%d total=%d", part, big))
	}
	stepF(t, c, t0, Failed{Part: 1, Failure: tempFail(chBC, nodeB)}, "persist-outcome part=1 failed payment pending",
		fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=98", third, budget-2*fee(third)))
	stepF(t, c, t0, Failed{Part: 2, Failure: tempFail(chDC, nodeD)}, "persist-outcome part=2 failed payment pending")
	stepF(t, c, t0, FlowFound{Err: graph.ErrNoRoute},
		fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=99", 2*third, budget-fee(third)))
	// Nothing failed during this plan: its failure waits for part 3.
	stepF(t, c, t0, FlowFound{Err: graph.ErrNoRoute})
	stepF(t, c, t0, Failed{Part: 3, Failure: tempFail(chBC, nodeB)}, "persist-outcome part=3 failed payment pending",
		fmt.Sprintf("plan-flow amount=%d maxfee=%d maxparts=100", big, budget))
}
