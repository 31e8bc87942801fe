package payment

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
)

// The A -[AB]- B -[BC]- C line of spec section 13: we are A.
var (
	nodeB = nid(2)
	nodeC = nid(3)
	chAB  = graph.NewSCID(100, 1, 0)
	chBC  = graph.NewSCID(100, 2, 0)
	t0    = time.Unix(1_700_000_000, 0)
	hash  = [32]byte{1, 2, 3}
	pre   = [32]byte{9, 9, 9}
)

func nid(b byte) graph.NodeID {
	var n graph.NodeID
	n[0], n[32] = 2, b
	return n
}

func msat(v graph.MilliSat) *graph.MilliSat { return &v }

// routeABC is getroute's answer for 1000 msat to C (spec vector 10).
func routeABC(final graph.MilliSat) graph.Route {
	return graph.Route{
		{ID: nodeB, Channel: chAB, Amount: final + 1, Delay: 15, Style: "tlv"},
		{ID: nodeC, Channel: chBC, Amount: final, Delay: 9, Style: "tlv"},
	}
}

// describe renders effects in one line each, for comparing with wants.
func describe(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		switch e := e.(type) {
		case FindRoute:
			out = append(out, fmt.Sprintf("find-route exclude=%v", e.Params.Exclude))
		case FindFeeFloor:
			out = append(out, fmt.Sprintf("find-fee-floor exclude=%v", e.Params.Exclude))
		case PersistAttempt:
			if r := e.PartRecord; r != nil && r.PartID != 0 {
				out = append(out, fmt.Sprintf("persist-part group=%d part=%d amount=%d sent=%d total=%d; group sent=%d",
					r.GroupID, r.PartID, r.Amount, r.AmountSent, e.Total, e.Record.AmountSent))
				break
			}
			out = append(out, fmt.Sprintf("persist-attempt amount=%d sent=%d", e.Record.Amount, e.Record.AmountSent))
		case SendHTLC:
			out = append(out, fmt.Sprintf("send-htlc hops=%d", len(e.Route)))
		case PersistOutcome:
			if r := e.PartRecord; r != nil && r.PartID != 0 {
				out = append(out, fmt.Sprintf("persist-part-outcome %d/%d %s; group %s", r.GroupID, r.PartID, r.Status, e.Record.Status))
				break
			}
			out = append(out, "persist-outcome "+string(e.Record.Status))
		case ReportFailure:
			if len(e.Route) > 0 {
				out = append(out, fmt.Sprintf("report-failure route=%d", len(e.Route)))
				break
			}
			out = append(out, "report-failure")
		case StartTimer:
			out = append(out, fmt.Sprintf("start-timer to=%d after=%v", e.Reply, e.After))
		case DeleteRecord:
			out = append(out, "delete-record "+string(e.Record.Status))
		case DeleteRows:
			d := "delete-rows"
			if e.Single {
				d += " single"
			}
			for _, r := range e.Parts {
				d += fmt.Sprintf(" %d/%d", r.GroupID, r.PartID)
			}
			for _, g := range e.Groups {
				d += fmt.Sprintf("; group %d %s sent=%d", g.GroupID, g.Status, g.AmountSent)
			}
			out = append(out, d)
		case Reply:
			switch {
			case e.Records != nil:
				d := fmt.Sprintf("reply to=%d deleted", e.To)
				for _, r := range e.Records {
					d += fmt.Sprintf(" %d/%d %s", r.GroupID, r.PartID, r.Status)
				}
				out = append(out, d)
			case e.Err != nil:
				out = append(out, fmt.Sprintf("reply to=%d error %d %s", e.To, e.Err.Code, e.Err.Message))
			case e.Message != "":
				out = append(out, fmt.Sprintf("reply to=%d %s (%s)%s", e.To, e.Record.Status, e.Message, partOf(e.Record)))
			default:
				out = append(out, fmt.Sprintf("reply to=%d %s%s", e.To, e.Record.Status, partOf(e.Record)))
			}
		default:
			out = append(out, fmt.Sprintf("%T", e))
		}
	}
	return out
}

// partOf names a sendpay part's record in a reply ("" for any other).
func partOf(r *Record) string {
	if r.PartID == 0 {
		return ""
	}
	return fmt.Sprintf(" part %d/%d", r.GroupID, r.PartID)
}

// step applies ev and checks the effects, line by line.
func step(t *testing.T, c *Core, now time.Time, ev Event, want ...string) []Effect {
	t.Helper()
	effects, err := c.Step(now, ev)
	if err != nil {
		t.Fatalf("%T: %v", ev, err)
	}
	got := describe(effects)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%T: effects\n  %s\nwant\n  %s", ev, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	return effects
}

func remoteFailure(code int, index int, node graph.NodeID, ch graph.SCID, fc lnwire.FailCode) Failure {
	return Failure{Code: code, Message: "failed: " + fc.String(), Routing: &htlc.RoutingFailure{
		ErringIndex: index, OriginIndex: index - 1, ErringNode: node, ErringChannel: ch, FailCode: fc}}
}

// Spec vector 1: sendpay, then its HTLC settles; the same sendpay again
// succeeds at once with the preimage and sends nothing.
func TestSendPaySettleAndRepeat(t *testing.T) {
	c := New(hash, nil, nil)
	step(t, c, t0, SendPay{Reply: 1, Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, WaitSendPay{Reply: 2})
	step(t, c, t0, Persisted{}, "send-htlc hops=2", "reply to=1 pending (Monitor status with listpayments or waitsendpay)")
	step(t, c, t0, Settled{Preimage: pre}, "persist-outcome complete", "reply to=2 complete")
	if r := c.Record(); r.Preimage == nil || *r.Preimage != pre || !c.Done() {
		t.Fatalf("record %+v, done %v", r, c.Done())
	}
	step(t, c, t0, SendPay{Reply: 3, Route: routeABC(1000)}, "reply to=3 complete")
	// A different route to the same destination and amount: still at once.
	other := routeABC(1000)
	other[0].Channel = graph.NewSCID(7, 7, 7)
	step(t, c, t0, SendPay{Reply: 4, Route: other}, "reply to=4 complete")
	step(t, c, t0, WaitSendPay{Reply: 5}, "reply to=5 complete")
}

// Spec vector 2: after success, another amount or destination gives 201.
func TestSendPayAfterSuccess201(t *testing.T) {
	c := New(hash, &Record{Hash: hash, Destination: nodeC, Amount: 1000, Status: StatusComplete, Preimage: &pre}, nil)
	step(t, c, t0, SendPay{Reply: 1, Route: routeABC(1001)}, "reply to=1 error 201 Already succeeded with amount 1000msat")
	toB := graph.Route{{ID: nodeB, Channel: chAB, Amount: 1000, Delay: 9}}
	step(t, c, t0, SendPay{Reply: 2, Route: toB}, "reply to=2 error 201 Already succeeded to "+nodeC.String())
	// msatoshi names the recorded amount even when the final hop overpays.
	step(t, c, t0, SendPay{Reply: 3, Route: routeABC(1500), Amount: msat(1000)}, "reply to=3 complete")
}

// The original pages: a sendpay or pay while the hash is pending fails with
// 200, whether the attempt is being written or is in flight; one HTLC only.
func TestSendPayWhilePending200(t *testing.T) {
	c := New(hash, nil, nil)
	step(t, c, t0, SendPay{Reply: 1, Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, SendPay{Reply: 2, Route: routeABC(1000)}, "reply to=2 error 200 Payment is still in progress")
	step(t, c, t0, Persisted{}, "send-htlc hops=2", "reply to=1 pending (Monitor status with listpayments or waitsendpay)")
	step(t, c, t0, SendPay{Reply: 3, Route: routeABC(2000)}, "reply to=3 error 200 Payment is still in progress")
	inv := Invoice{Payee: nodeC, Amount: msat(1000), CreatedAt: t0, Expiry: time.Hour, MinFinalCLTV: 9}
	step(t, c, t0, Pay{Reply: 4, Invoice: inv, Params: DefaultPayParams()}, "reply to=4 error 200 Payment is still in progress")
}

// Spec vector 4: after a failure the hash is tried again.
func TestSendPayAfterFailure(t *testing.T) {
	c := New(hash, nil, nil)
	step(t, c, t0, SendPay{Reply: 1, Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, Persisted{}, "send-htlc hops=2", "reply to=1 pending (Monitor status with listpayments or waitsendpay)")
	step(t, c, t0, Failed{Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)},
		"persist-outcome failed", "report-failure")
	step(t, c, t0, SendPay{Reply: 2, Route: routeABC(2000)}, "persist-attempt amount=2000 sent=2001")
}

// Spec vectors 5 and 6: an empty route, and the overpay range msatoshi to
// 2*msatoshi inclusive (the record keeps msatoshi).
func TestSendPayParams(t *testing.T) {
	for _, tc := range []struct {
		final, msatoshi graph.MilliSat
		want            string
	}{
		{1000, 1000, "persist-attempt amount=1000 sent=1001"},
		{1500, 1000, "persist-attempt amount=1000 sent=1501"},
		{2000, 1000, "persist-attempt amount=1000 sent=2001"},
		{2001, 1000, "reply to=1 error -32602 final 2001msat more than twice msatoshi 1000msat"},
		{999, 1000, "reply to=1 error -32602 final 999msat less than msatoshi 1000msat"},
		{3, 1, "reply to=1 error -32602 final 3msat more than twice msatoshi 1msat"},
	} {
		c := New(hash, nil, nil)
		step(t, c, t0, SendPay{Reply: 1, Route: routeABC(tc.final), Amount: msat(tc.msatoshi)}, tc.want)
	}
	c := New(hash, nil, nil)
	step(t, c, t0, SendPay{Reply: 1}, "reply to=1 error -32602 Empty route")
	if c.Record() != nil {
		t.Fatal("a refused sendpay left a record")
	}
}

// Spec vector 8 and section 6: waitsendpay.
func TestWaitSendPay(t *testing.T) {
	zero, sec := time.Duration(0), time.Second
	c := New(hash, nil, nil)
	step(t, c, t0, WaitSendPay{Reply: 1}, fmt.Sprintf("reply to=1 error 208 Never attempted payment for '%x'", hash))
	step(t, c, t0, SendPay{Reply: 2, Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, WaitSendPay{Reply: 3, Timeout: &zero}, "reply to=3 error 200 Timed out while waiting")
	step(t, c, t0, WaitSendPay{Reply: 4, Timeout: &sec}, "start-timer to=4 after=1s")
	step(t, c, t0, WaitSendPay{Reply: 5})
	step(t, c, t0, WaitSendPay{Reply: 6, Timeout: &sec}, "start-timer to=6 after=1s")
	step(t, c, t0, WaitTimeout{Reply: 4}, "reply to=4 error 200 Timed out while waiting")
	step(t, c, t0, Persisted{}, "send-htlc hops=2", "reply to=2 pending (Monitor status with listpayments or waitsendpay)")
	step(t, c, t0, Settled{Preimage: pre}, "persist-outcome complete", "reply to=5 complete", "reply to=6 complete")
	step(t, c, t0, WaitTimeout{Reply: 6}) // answered already: the late timer is ignored
	step(t, c, t0, WaitSendPay{Reply: 7, Timeout: &zero}, "reply to=7 complete")
}

// Spec section 6 and vector 9: a failed payment's waiters get 202, 203 or
// 204 with the routing failure, or 209 without details.
func TestWaitSendPayFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Failure
		want []string
		code int
	}{
		{"B temporary_channel_failure", remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure),
			[]string{"persist-outcome failed", "report-failure", "reply to=9 error 204 failed: TemporaryChannelFailure"}, 204},
		{"C incorrect_or_unknown_payment_details", remoteFailure(203, 2, nodeC, chBC, lnwire.CodeIncorrectOrUnknownPaymentDetails),
			[]string{"persist-outcome failed", "reply to=9 error 203 failed: IncorrectOrUnknownPaymentDetails"}, 203},
		{"C final_incorrect_cltv_expiry", remoteFailure(204, 2, nodeC, chBC, lnwire.CodeFinalIncorrectCltvExpiry),
			[]string{"persist-outcome failed", "report-failure", "reply to=9 error 204 failed: FinalIncorrectCltvExpiry"}, 204},
		{"unreadable", Failure{Code: 202, OnionReply: []byte{0xde, 0xad}},
			[]string{"persist-outcome failed", "report-failure route=2", "reply to=9 error 202 Malformed error reply"}, 202},
		{"local", Failure{Code: 204, Message: "No connection to first peer found", Routing: &htlc.RoutingFailure{ErringIndex: 0, OriginIndex: -1, FailCode: lnwire.CodeUnknownNextPeer}},
			[]string{"persist-outcome failed", "reply to=9 error 204 No connection to first peer found"}, 204},
	} {
		c := New(hash, nil, nil)
		step(t, c, t0, SendPay{Reply: 1, Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
		step(t, c, t0, Persisted{}, "send-htlc hops=2", "reply to=1 pending (Monitor status with listpayments or waitsendpay)")
		step(t, c, t0, WaitSendPay{Reply: 9})
		effects := step(t, c, t0, Failed{Failure: tc.f}, tc.want...)
		// A later waitsendpay gets the same answer at once.
		later, _ := c.Step(t0, WaitSendPay{Reply: 10})
		e1, e2 := effects[len(effects)-1].(Reply).Err, later[0].(Reply).Err
		if e1.Code != tc.code || e2.Code != e1.Code || e2.Message != e1.Message {
			t.Errorf("%s: waiter %+v, later %+v", tc.name, e1, e2)
		}
		switch d := e1.Data.(type) {
		case FailureData:
			if d.Routing != tc.f.Routing || d.Record.Status != StatusFailed {
				t.Errorf("%s: data %+v", tc.name, d)
			}
		case map[string]string:
			if d["onionreply"] != "dead" {
				t.Errorf("%s: onionreply %v", tc.name, d)
			}
		default:
			t.Errorf("%s: data %T", tc.name, e1.Data)
		}
	}
	c := New(hash, &Record{Hash: hash, Status: StatusFailed}, nil)
	step(t, c, t0, WaitSendPay{Reply: 1}, "reply to=1 error 209 Payment failure reason unknown")
}

// Every event a state does not accept is refused and changes nothing.
func TestUnexpectedEvents(t *testing.T) {
	states := map[string]func() *Core{
		"new": func() *Core { return New(hash, nil, nil) },
		"persisting": func() *Core {
			c := New(hash, nil, nil)
			c.Step(t0, SendPay{Reply: 1, Route: routeABC(1000)})
			return c
		},
		"in flight": func() *Core { return New(hash, &Record{Hash: hash, Status: StatusPending}, routeABC(1000)) },
		"complete":  func() *Core { return New(hash, &Record{Hash: hash, Status: StatusComplete, Preimage: &pre}, nil) },
	}
	events := []Event{Persisted{}, Settled{Preimage: pre}, Failed{}, RouteFound{Route: routeABC(1000)}, RouteNotFound{Err: graph.ErrNoRoute}}
	accepts := map[string]map[string]bool{
		"persisting": {"payment.Persisted": true},
		"in flight":  {"payment.Settled": true, "payment.Failed": true},
	}
	for name, mk := range states {
		for _, ev := range events {
			c := mk()
			before := fmt.Sprintf("%+v", *c)
			_, err := c.Step(t0, ev)
			ok := accepts[name][fmt.Sprintf("%T", ev)]
			if ok && err != nil {
				t.Errorf("%s: %T refused: %v", name, ev, err)
			}
			if !ok {
				if !errors.Is(err, ErrUnexpected) {
					t.Errorf("%s: %T accepted", name, ev)
				}
				if after := fmt.Sprintf("%+v", *c); after != before {
					t.Errorf("%s: %T changed the core", name, ev)
				}
			}
		}
	}
}

// Restart: a pending record means an HTLC may be in flight; the core waits
// for its outcome and sends nothing.
func TestRecoveredInFlight(t *testing.T) {
	c := New(hash, &Record{Hash: hash, Destination: nodeC, Amount: 1000, Status: StatusPending}, routeABC(1000))
	step(t, c, t0, SendPay{Reply: 1, Route: routeABC(1000)}, "reply to=1 error 200 Payment is still in progress")
	step(t, c, t0, WaitSendPay{Reply: 2})
	step(t, c, t0, Settled{Preimage: pre}, "persist-outcome complete", "reply to=2 complete")
}

// Spec vector 7: with no channel to the first hop's node, sendpay answers
// 204 at once, after the record's checks (a paid hash still answers
// complete, a pending one 200), and writes and sends nothing: a failed
// record stays as it was.
func TestSendPayNoPeer(t *testing.T) {
	noPeer := remoteFailure(204, 0, nid(1), chAB, lnwire.CodeUnknownNextPeer)
	noPeer.Message = "No connection to first peer found"
	c := New(hash, nil, nil)
	effects := step(t, c, t0, SendPay{Reply: 1, Route: routeABC(1000), NoPeer: &noPeer}, "reply to=1 error 204 No connection to first peer found")
	if d, ok := effects[0].(Reply).Err.Data.(FailureData); !ok || d.Record != nil || d.Routing != noPeer.Routing {
		t.Fatalf("data %+v", effects[0].(Reply).Err.Data)
	}
	if c.Record() != nil || !c.Done() {
		t.Fatalf("record %+v after an immediate failure", c.Record())
	}
	step(t, c, t0, WaitSendPay{Reply: 2}, "reply to=2 error 208 Never attempted payment for '"+fmt.Sprintf("%x", hash)+"'")

	failed := &Record{Hash: hash, Destination: nodeC, Amount: 1000, Status: StatusFailed, Failure: &noPeer}
	c = New(hash, failed, nil)
	step(t, c, t0, SendPay{Reply: 1, Route: routeABC(1000), NoPeer: &noPeer}, "reply to=1 error 204 No connection to first peer found")
	if r := c.Record(); r.Status != StatusFailed {
		t.Fatalf("record %+v", r)
	}
	paid := New(hash, &Record{Hash: hash, Destination: nodeC, Amount: 1000, Status: StatusComplete, Preimage: &pre}, nil)
	step(t, paid, t0, SendPay{Reply: 1, Route: routeABC(1000), NoPeer: &noPeer}, "reply to=1 complete")
	busy := New(hash, nil, nil)
	step(t, busy, t0, SendPay{Reply: 1, Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, busy, t0, SendPay{Reply: 2, Route: routeABC(1000), NoPeer: &noPeer}, "reply to=2 error 200 Payment is still in progress")
}

// delpay (Core Lightning's, on the one payment per hash this engine keeps):
// only a record of the status named goes; a pending one never does, nor a
// failed one a pay is still retrying; once the ledger has deleted it the
// hash is as if never paid, and nothing brings it back.
func TestDelPay(t *testing.T) {
	h := fmt.Sprintf("%x", hash)
	c := New(hash, nil, nil)
	step(t, c, t0, DelPay{Reply: 1, Status: StatusFailed}, "reply to=1 error 208 Unknown payment with payment_hash: "+h)
	step(t, c, t0, SendPay{Reply: 2, Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, DelPay{Reply: 3, Status: StatusComplete},
		"reply to=3 error 208 Payment with hash "+h+" has pending status but it different from the one provided complete")
	step(t, c, t0, Persisted{}, "send-htlc hops=2", "reply to=2 pending (Monitor status with listpayments or waitsendpay)")
	step(t, c, t0, DelPay{Reply: 4, Status: StatusFailed},
		"reply to=4 error 208 Payment with hash "+h+" has pending status but it different from the one provided failed")
	step(t, c, t0, Settled{Preimage: pre}, "persist-outcome complete")
	step(t, c, t0, DelPay{Reply: 5, Status: StatusFailed},
		"reply to=5 error 208 Payment with hash "+h+" has complete status but it different from the one provided failed")
	step(t, c, t0, DelPay{Reply: 6, Status: StatusComplete, Part: &[2]uint64{1, 0}},
		"reply to=6 error 208 No payment for that payment_hash with that partid and groupid")
	step(t, c, t0, DelPay{Reply: 7, Status: StatusComplete, Part: &[2]uint64{0, 0}}, "delete-rows single")
	// While the ledger deletes, the hash is busy.
	step(t, c, t0, SendPay{Reply: 8, Route: routeABC(1000)}, "reply to=8 error 200 Payment is still in progress")
	step(t, c, t0, WaitSendPay{Reply: 9}, "reply to=9 complete")
	step(t, c, t0, Deleted{}, "reply to=7 deleted 0/0 complete")
	if c.Record() != nil || !c.Done() {
		t.Fatalf("record %+v after delpay", c.Record())
	}
	step(t, c, t0, WaitSendPay{Reply: 10}, "reply to=10 error 208 Never attempted payment for '"+h+"'")
	// The hash can be paid again, as a new payment.
	step(t, c, t0, SendPay{Reply: 11, Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")

	// A failed record a pay is still retrying counts as pending.
	p := New(hash, nil, nil)
	step(t, p, t0, Pay{Reply: 1, Invoice: invoice(msat(1000)), Params: DefaultPayParams()}, "persist-outcome pending", "find-route exclude=[]")
	step(t, p, t0, RouteFound{Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, p, t0, Persisted{}, "send-htlc hops=2")
	step(t, p, t0, Failed{Failure: remoteFailure(204, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)},
		"persist-outcome failed", "report-failure", "find-route exclude=["+graph.SCIDDir{SCID: chBC}.String()+"]")
	step(t, p, t0, DelPay{Reply: 2, Status: StatusFailed},
		"reply to=2 error 208 Payment with hash "+h+" has pending status but it different from the one provided failed")

	// A ledger that cannot delete leaves the record as it was.
	f := New(hash, &Record{Hash: hash, Destination: nodeC, Amount: 1000, Status: StatusFailed}, nil)
	step(t, f, t0, DelPay{Reply: 1, Status: StatusFailed}, "delete-rows single")
	step(t, f, t0, Deleted{Err: errors.New("disk full")}, "reply to=1 error -1 ledger delete failed: disk full")
	if r := f.Record(); r == nil || r.Status != StatusFailed || !f.Done() {
		t.Fatalf("record %+v after a failed delete", r)
	}
}
