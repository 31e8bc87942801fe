package payment

import (
	"fmt"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

var secret = [32]byte{5, 5}

func gid(v uint64) *uint64 { return &v }

// part is a sendpay of one part: partid, groupid (nil: the default), the
// final hop's amount and the total, with the payment secret.
func part(reply ReplyTo, partid uint64, group *uint64, final, total graph.MilliSat) SendPay {
	return SendPay{Reply: reply, Route: routeABC(final), Amount: msat(total), Secret: &secret, PartID: partid, GroupID: group}
}

// sendAndPersist sends a part and lets its write complete.
func sendAndPersist(t *testing.T, c *Core, ev SendPay, handle uint64) {
	t.Helper()
	step(t, c, t0, ev, fmt.Sprintf("persist-part group=%d part=%d amount=%d sent=%d total=%d; group sent=%d",
		*ev.GroupID, ev.PartID, ev.Route[1].Amount, ev.Route[0].Amount, *ev.Amount, groupSent(c, *ev.GroupID)+ev.Route[0].Amount))
	step(t, c, t0, Persisted{Part: handle}, "send-htlc hops=2",
		fmt.Sprintf("reply to=%d pending (Monitor status with listpayments or waitsendpay) part %d/%d", ev.Reply, *ev.GroupID, ev.PartID))
}

func groupSent(c *Core, group uint64) graph.MilliSat {
	var sum graph.MilliSat
	for _, p := range c.sparts {
		if p.rec.GroupID == group && p.rec.Status != StatusFailed {
			sum += p.rec.AmountSent
		}
	}
	return sum
}

// Spec section 5, HEAD's rules: what a part must carry. partid ≠ 0
// requires amount_msat (the total) and payment_secret; a part's final
// amount is at most the total; group 0 is this engine's single-part
// payment. Nothing is written for a refused part.
func TestSendPartRequires(t *testing.T) {
	noSecret := part(1, 1, gid(1), 500, 1000)
	noSecret.Secret = nil
	noAmount := part(1, 1, gid(1), 500, 1000)
	noAmount.Amount = nil
	for i, tt := range []struct {
		ev   SendPay
		want string
	}{
		{noAmount, "reply to=1 error -32602 Must specify msatoshi with partid"},
		{noSecret, "reply to=1 error -32602 partid requires payment_secret"},
		{part(1, 1, gid(1), 1001, 1000), "reply to=1 error -32602 msatoshi (1000msat) less than final (1001msat)"},
		{part(1, 1, gid(0), 500, 1000), "reply to=1 error -32602 groupid 0 holds the single-part payment here: give parts a groupid of 1 or more"},
		{part(1, 1, gid(1), 1000, 1000), "persist-part group=1 part=1 amount=1000 sent=1001 total=1000; group sent=1001"},
		// No groupid: a new group, the highest plus one (1 for the first).
		{part(1, 7, nil, 400, 1000), "persist-part group=1 part=7 amount=400 sent=401 total=1000; group sent=401"},
	} {
		c := New(hash, nil, nil)
		effects, err := c.Step(t0, tt.ev)
		if got := describe(effects); err != nil || len(got) != 1 || got[0] != tt.want {
			t.Errorf("#%d: %v %q, want %q", i, err, got, tt.want)
		}
		if c.Done() != (tt.want[:5] == "reply") {
			t.Errorf("#%d: done %v", i, c.Done())
		}
	}
}

// Spec vector 17 (HEAD's test_partial_payment): total 1000 in parts of 501
// and 499, partid 1 and 2, groupid 1; every refusal of check_progress on
// the way, then after success.
func TestSendPartsVector17(t *testing.T) {
	c := New(hash, nil, nil)
	h1, h2 := sendPartBit|1, sendPartBit|2
	sendAndPersist(t, c, part(1, 1, gid(1), 501, 1000), h1)
	// All parts give the same total.
	step(t, c, t0, part(2, 2, gid(1), 499, 999), "reply to=2 error -32602 msatoshi was previously 1000msat, now 999msat")
	sendAndPersist(t, c, part(3, 2, gid(1), 499, 1000), h2)
	// Pending parts make the total: no more.
	step(t, c, t0, part(4, 3, gid(1), 1000, 1000), "reply to=4 error 200 Already have 1000msat of 1000msat payments in progress")
	// The same part again is the pending part; with another total or
	// destination it is refused.
	step(t, c, t0, part(5, 2, gid(1), 499, 1000), "reply to=5 pending (Monitor status with listpayments or waitsendpay) part 1/2")
	// (check_progress meets the rows by partid: part 1's total first.)
	step(t, c, t0, part(6, 1, gid(1), 501, 1001), "reply to=6 error 201 Already pending with amount 1000msat (not 1001msat)")
	step(t, c, t0, part(6, 2, gid(1), 499, 1001), "reply to=6 error -32602 msatoshi was previously 1000msat, now 1001msat")
	toB := part(7, 1, gid(1), 499, 1000)
	toB.Route = graph.Route{{ID: nodeB, Channel: chAB, Amount: 499, Delay: 9}}
	step(t, c, t0, toB, "reply to=7 error 201 Already pending to "+nodeC.String())
	// Parallel and non-parallel parts do not mix; another group waits.
	step(t, c, t0, SendPay{Reply: 8, Route: routeABC(1000)}, "reply to=8 error 200 Already have parallel payment in progress")
	step(t, c, t0, part(9, 1, gid(2), 501, 1000), "reply to=9 error 200 Payment with groupid=1 still in progress, cannot retry before that completes.")
	step(t, c, t0, part(10, 3, nil, 501, 1000), "reply to=10 error 200 Payment with groupid=1 still in progress, cannot retry before that completes.")
	step(t, c, t0, Pay{Reply: 11, Invoice: Invoice{Payee: nodeC, Amount: msat(1000), CreatedAt: t0, Expiry: time.Hour}, Params: DefaultPayParams()},
		"reply to=11 error 200 Payment is still in progress")
	// waitsendpay of each part: the latest group by default.
	step(t, c, t0, WaitSendPay{Reply: 12, PartID: 1})
	step(t, c, t0, WaitSendPay{Reply: 13, PartID: 2, GroupID: gid(1)})
	if c.Done() {
		t.Fatal("done with parts in flight")
	}
	step(t, c, t0, Settled{Preimage: pre, Part: h1}, "persist-part-outcome 1/1 complete; group complete", "reply to=12 complete part 1/1")
	step(t, c, t0, Settled{Preimage: pre, Part: h2}, "persist-part-outcome 1/2 complete; group complete", "reply to=13 complete part 1/2")
	if !c.Done() {
		t.Fatal("not done once every part settled")
	}
	if g := c.groupRecord(1); g.Amount != 1000 || g.AmountSent != 1002 || g.Parts != 2 || g.Status != StatusComplete {
		t.Fatalf("group row %+v", g)
	}
	// After success: another part is refused; the same one succeeds at
	// once, as long as its total and destination are the same.
	step(t, c, t0, part(14, 3, gid(1), 1000, 1000), "reply to=14 error 201 Already succeeded other parts")
	step(t, c, t0, part(15, 2, gid(1), 499, 1000), "reply to=15 complete part 1/2")
	step(t, c, t0, part(16, 2, gid(1), 499, 999), "reply to=16 error 201 Already succeeded with amount 1000msat (not 999msat)")
	step(t, c, t0, SendPay{Reply: 17, Route: routeABC(1000)}, "reply to=17 error 201 Already succeeded other parts")
	step(t, c, t0, Pay{Reply: 18, Invoice: Invoice{Payee: nodeC, Amount: msat(1000), CreatedAt: t0, Expiry: time.Hour}, Params: DefaultPayParams()},
		"reply to=18 complete")
	step(t, c, t0, WaitSendPay{Reply: 19, PartID: 2}, "reply to=19 complete part 1/2")
}

// HEAD: a (groupid, partid) that has a row is not used again, even failed;
// a failed part's waiters get its failure; a new group may start once no
// part is pending.
func TestSendPartFailedAndReused(t *testing.T) {
	c := New(hash, nil, nil)
	h1 := sendPartBit | 1
	sendAndPersist(t, c, part(1, 1, gid(1), 600, 1000), h1)
	step(t, c, t0, WaitSendPay{Reply: 2, PartID: 1, GroupID: gid(1)})
	// The destination's own temporary failure (mpp_timeout) blames no
	// channel; the part fails, the group with it.
	f := remoteFailure(CodeTryOtherRoute, 2, nodeC, chBC, lnwire.CodeMPPTimeout)
	step(t, c, t0, Failed{Failure: f, Part: h1}, "persist-part-outcome 1/1 failed; group failed", "reply to=2 error 204 failed: "+lnwire.CodeMPPTimeout.String())
	step(t, c, t0, WaitSendPay{Reply: 3, PartID: 1}, "reply to=3 error 204 failed: "+lnwire.CodeMPPTimeout.String())
	step(t, c, t0, part(4, 1, gid(1), 600, 1000), fmt.Sprintf("reply to=4 error 201 There already is a payment with payment_hash=%x, groupid=1, partid=1. "+
		"Either change the partid, or wait for the payment to complete and start a new group.", hash))
	// Another partid in the same group, with another total since no part
	// of it is pending: accepted.
	step(t, c, t0, part(5, 2, gid(1), 600, 1200), "persist-part group=1 part=2 amount=600 sent=601 total=1200; group sent=601")
	// A channel failure along the way is reported to the graph.
	step(t, c, t0, Persisted{Part: sendPartBit | 2}, "send-htlc hops=2", "reply to=5 pending (Monitor status with listpayments or waitsendpay) part 1/2")
	step(t, c, t0, Failed{Failure: remoteFailure(CodeTryOtherRoute, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure), Part: sendPartBit | 2},
		"persist-part-outcome 1/2 failed; group failed", "report-failure")
	// A new group (no groupid: the highest plus one).
	step(t, c, t0, part(6, 1, nil, 600, 1000), "persist-part group=2 part=1 amount=600 sent=601 total=1000; group sent=601")
	// An event for no such part is refused.
	if _, err := c.Step(t0, Settled{Part: sendPartBit | 9}); err == nil {
		t.Fatal("settled of an unknown part accepted")
	}
}

// The single-part payment (group 0, partid 0) and parts: a part waits for
// a pending one, and is refused once it succeeded; once it failed, parts
// go on in group 1.
func TestSendPartAndSinglePayment(t *testing.T) {
	c := New(hash, nil, nil)
	step(t, c, t0, SendPay{Reply: 1, Route: routeABC(1000)}, "persist-attempt amount=1000 sent=1001")
	step(t, c, t0, part(2, 1, gid(1), 500, 1000), "reply to=2 error 200 Payment with groupid=0 still in progress, cannot retry before that completes.")
	step(t, c, t0, Persisted{}, "send-htlc hops=2", "reply to=1 pending (Monitor status with listpayments or waitsendpay)")
	step(t, c, t0, Failed{Failure: remoteFailure(CodeTryOtherRoute, 1, nodeB, chBC, lnwire.CodeTemporaryChannelFailure)}, "persist-outcome failed", "report-failure")
	step(t, c, t0, part(3, 1, nil, 500, 1000), "persist-part group=1 part=1 amount=500 sent=501 total=1000; group sent=501")

	paid := New(hash, &Record{Hash: hash, Destination: nodeC, Amount: 1000, Status: StatusComplete, Preimage: &pre}, nil)
	step(t, paid, t0, part(1, 1, gid(1), 500, 1000), "reply to=1 error 201 Already succeeded other parts")
}

// HEAD's waitsendpay with partid and groupid.
func TestWaitSendPart(t *testing.T) {
	zero, sec := time.Duration(0), time.Second
	c := New(hash, nil, nil)
	step(t, c, t0, WaitSendPay{Reply: 1, PartID: 1}, fmt.Sprintf("reply to=1 error 208 Never attempted payment part 1 for '%x'", hash))
	step(t, c, t0, part(2, 1, gid(3), 500, 1000), "persist-part group=3 part=1 amount=500 sent=501 total=1000; group sent=501")
	step(t, c, t0, WaitSendPay{Reply: 3, PartID: 1, Timeout: &zero}, "reply to=3 error 200 Timed out while waiting")
	step(t, c, t0, WaitSendPay{Reply: 4, PartID: 1, GroupID: gid(2)}, fmt.Sprintf("reply to=4 error 208 Never attempted payment part 1 for '%x'", hash))
	// partid 0 in a group of parts names nothing.
	step(t, c, t0, WaitSendPay{Reply: 5, GroupID: gid(3)}, fmt.Sprintf("reply to=5 error 208 Never attempted payment part 0 for '%x'", hash))
	step(t, c, t0, WaitSendPay{Reply: 6, PartID: 1, Timeout: &sec}, "start-timer to=6 after=1s")
	step(t, c, t0, WaitTimeout{Reply: 6}, "reply to=6 error 200 Timed out while waiting")
	step(t, c, t0, WaitTimeout{Reply: 6})
}

// After a restart: a pending part is awaited under the handle RestoreParts
// gave; a settled one answers waitsendpay at once.
func TestRestoreParts(t *testing.T) {
	c := New(hash, nil, nil)
	mk := func(partid uint64, st Status) PartRow {
		return PartRow{Record: Record{Hash: hash, GroupID: 1, PartID: partid, Destination: nodeC, Amount: 500, AmountSent: 501, CreatedAt: t0, Status: st},
			Total: 1000, Route: routeABC(500)}
	}
	handles := c.RestoreParts([]PartRow{mk(1, StatusComplete), mk(2, StatusPending)})
	if c.Done() {
		t.Fatal("done with a part in flight")
	}
	step(t, c, t0, WaitSendPay{Reply: 1, PartID: 1}, "reply to=1 complete part 1/1")
	step(t, c, t0, WaitSendPay{Reply: 2, PartID: 2})
	step(t, c, t0, part(3, 3, gid(1), 500, 1000), "reply to=3 error 201 Already succeeded other parts")
	step(t, c, t0, Settled{Preimage: pre, Part: handles[1]}, "persist-part-outcome 1/2 complete; group complete", "reply to=2 complete part 1/2")
	if !c.Done() {
		t.Fatal("not done")
	}
}

// Spec section 10 (v24.02): listpays sums a group's parts that did not
// fail; complete if any part is, else pending if any is, else failed.
func TestSumParts(t *testing.T) {
	at := func(s int64) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	row := func(st Status, amt graph.MilliSat, created, completed int64) Record {
		r := Record{Status: st, Amount: amt, AmountSent: amt + 1, CreatedAt: at(created)}
		if completed > 0 {
			r.CompletedAt = at(completed)
			if st == StatusComplete {
				r.Preimage = &pre
			}
		}
		return r
	}
	for i, tt := range []struct {
		parts     []Record
		status    Status
		amt, sent graph.MilliSat
		n         int
		completed time.Time
	}{
		{[]Record{row(StatusComplete, 501, 2, 9), row(StatusComplete, 499, 1, 8)}, StatusComplete, 1000, 1002, 2, at(8)},
		{[]Record{row(StatusFailed, 600, 1, 3), row(StatusPending, 400, 4, 0)}, StatusPending, 400, 401, 1, time.Time{}},
		{[]Record{row(StatusFailed, 600, 1, 3), row(StatusComplete, 400, 4, 6), row(StatusPending, 600, 5, 0)}, StatusComplete, 1000, 1002, 2, at(6)},
		{[]Record{row(StatusFailed, 600, 1, 3), row(StatusFailed, 400, 4, 5)}, StatusFailed, 0, 0, 0, time.Time{}},
	} {
		s := SumParts(tt.parts)
		if s.Status != tt.status || s.Amount != tt.amt || s.AmountSent != tt.sent || s.Parts != tt.n || !s.CompletedAt.Equal(tt.completed) || !s.CreatedAt.Equal(at(1)) {
			t.Errorf("#%d: %+v", i, s)
		}
		if (s.Preimage != nil) != (tt.status == StatusComplete) {
			t.Errorf("#%d: preimage %v", i, s.Preimage)
		}
	}
}
