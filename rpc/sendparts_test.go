package rpc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// partsRig is the sub300 rig with a destination two hops or more away
// whose routes for parts of 600,000 and 400,000 msat charge fees, an
// invoice of 1,000,000 msat on it, and a route for each part.
func partsRig(t *testing.T) (*rig, invoiceJSON, []hopJSON, []hopJSON) {
	r := sub300Rig(t)
	for _, dest := range r.payable(t, 400, 600_000, 0) {
		route1, route2 := r.route(t, dest, 600_000), r.route(t, dest, 400_000)
		if len(route1) >= 2 && len(route2) >= 2 && route1[0].Amount > 600_000 && route2[0].Amount > 400_000 {
			return r, r.invoice(t, dest, 1_000_000, nil), route1, route2
		}
	}
	t.Fatal("no destination with fees on both parts' routes")
	return nil, invoiceJSON{}, nil, nil
}

// sendPart is sendpay's params for one part of inv: its route, the total
// and the invoice's payment secret.
func sendPart(inv invoiceJSON, route []hopJSON, partid, groupid uint64, total uint64) map[string]any {
	return map[string]any{"route": route, "payment_hash": inv.PaymentHash, "amount_msat": total, "bolt11": inv.Bolt11,
		"payment_secret": inv.PaymentSecret, "partid": partid, "groupid": groupid}
}

// refuses checks a call's error code and message.
func (r *rig) refuses(t *testing.T, method string, params map[string]any, code int, msg string) {
	t.Helper()
	if e := r.fails(t, method, params, code); e.Message != msg {
		t.Fatalf("%s: error %d %q, want %q", method, e.Code, e.Message, msg)
	}
}

type partRow struct {
	ID       uint64 `json:"id"`
	GroupID  uint64 `json:"groupid"`
	PartID   uint64 `json:"partid"`
	Status   string `json:"status"`
	Amount   uint64 `json:"amount_msat"`
	Sent     uint64 `json:"amount_sent_msat"`
	Preimage string `json:"payment_preimage"`
}

type payRow struct {
	Status string  `json:"status"`
	Amount *uint64 `json:"amount_msat"`
	Sent   uint64  `json:"amount_sent_msat"`
	Parts  uint64  `json:"number_of_parts"`
	Bolt11 string  `json:"bolt11"`
}

// Issue 13, item 3: a payment in two sendpay parts with the invoice's
// payment_secret, over the real engine on simnet. The destination holds the
// first part until the second brings the total (the onion carries
// payment_secret and total_msat); every rule of HEAD's check_progress
// answers with its code and message on the way; waitsendpay waits for each
// part; listsendpays shows a row per part and listpays their sum, in CLN's
// schemas (checked by every call); and the answers are the same, byte for
// byte, from the live actor, from one reloaded after it went idle, and
// after a restart.
func TestSendPayInTwoParts(t *testing.T) {
	r, inv, route1, route2 := partsRig(t)
	hash := inv.PaymentHash

	// What a part needs.
	noSecret := sendPart(inv, route1, 1, 1, 1_000_000)
	delete(noSecret, "payment_secret")
	r.refuses(t, "sendpay", noSecret, -32602, "partid requires payment_secret")
	noTotal := sendPart(inv, route1, 1, 1, 1_000_000)
	delete(noTotal, "amount_msat")
	r.refuses(t, "sendpay", noTotal, -32602, "Must specify msatoshi with partid")
	r.refuses(t, "sendpay", sendPart(inv, route1, 1, 1, 500_000), -32602, "msatoshi (500000msat) less than final (600000msat)")
	r.refuses(t, "sendpay", sendPart(inv, route1, 1, 0, 1_000_000), -32602, "groupid 0 holds the single-part payment here: give parts a groupid of 1 or more")

	var first partRow
	r.ok(t, "sendpay", sendPart(inv, route1, 1, 1, 1_000_000), &first)
	if first.Status != "pending" || first.PartID != 1 || first.GroupID != 1 || first.Amount != 600_000 || first.Sent != route1[0].Amount {
		t.Fatalf("part 1: %+v", first)
	}
	// The destination holds it: the total has not arrived.
	waitFor(t, "the first part at the destination", func() bool { return r.n.OpenSets() == 1 })
	r.refuses(t, "waitsendpay", map[string]any{"payment_hash": hash, "partid": 1, "timeout": 0}, 200, "Timed out while waiting")

	// HEAD's refusals while part 1 is pending.
	r.refuses(t, "sendpay", sendPart(inv, route2, 2, 1, 999_999), -32602, "msatoshi was previously 1000000msat, now 999999msat")
	r.refuses(t, "sendpay", map[string]any{"route": route1, "payment_hash": hash, "payment_secret": inv.PaymentSecret},
		200, "Already have parallel payment in progress")
	r.refuses(t, "sendpay", sendPart(inv, route2, 2, 2, 1_000_000), 200, "Payment with groupid=1 still in progress, cannot retry before that completes.")
	noGroup := sendPart(inv, route2, 2, 0, 1_000_000)
	delete(noGroup, "groupid") // a new group by default
	r.refuses(t, "sendpay", noGroup, 200, "Payment with groupid=1 still in progress, cannot retry before that completes.")
	var again partRow
	r.ok(t, "sendpay", sendPart(inv, route1, 1, 1, 1_000_000), &again)
	if again != first {
		t.Fatalf("part 1 sent again: %+v, want %+v", again, first)
	}

	// Part 2 is held on its way, so both are pending and make the total.
	dest := mustNode(t, inv.Destination)
	if err := r.n.Hold(dest); err != nil {
		t.Fatal(err)
	}
	r.ok(t, "sendpay", sendPart(inv, route2, 2, 1, 1_000_000), nil)
	r.refuses(t, "sendpay", sendPart(inv, route2, 3, 1, 1_000_000), 200, "Already have 1000000msat of 1000000msat payments in progress")
	r.n.Release(dest)

	wait := func(partid uint64) string {
		return r.answer(t, "waitsendpay", map[string]any{"payment_hash": hash, "partid": partid, "groupid": 1})
	}
	w1, w2 := wait(1), wait(2)
	for i, w := range []string{w1, w2} {
		if !strings.HasPrefix(w, "result ") || !strings.Contains(w, `"status":"complete"`) || !strings.Contains(w, fmt.Sprintf(`"partid":%d`, i+1)) {
			t.Fatalf("waitsendpay part %d: %s", i+1, w)
		}
	}
	// After success: another part is refused, the same one is the
	// stored success.
	r.refuses(t, "sendpay", sendPart(inv, route2, 3, 1, 1_000_000), 201, "Already succeeded other parts")
	var done partRow
	r.ok(t, "sendpay", sendPart(inv, route2, 2, 1, 1_000_000), &done)
	if done.Status != "complete" || done.Preimage == "" || done.PartID != 2 {
		t.Fatalf("part 2 sent again after success: %+v", done)
	}

	var list struct{ Payments []partRow }
	r.ok(t, "listsendpays", map[string]any{"payment_hash": hash}, &list)
	if len(list.Payments) != 2 {
		t.Fatalf("listsendpays: %+v", list)
	}
	for i, p := range list.Payments {
		wantAmt, wantSent := uint64(600_000), route1[0].Amount
		if i == 1 {
			wantAmt, wantSent = 400_000, route2[0].Amount
		}
		if p.PartID != uint64(i+1) || p.GroupID != 1 || p.Status != "complete" || p.Amount != wantAmt || p.Sent != wantSent || p.Preimage == "" {
			t.Errorf("listsendpays row %d: %+v", i, p)
		}
	}
	var pays struct{ Pays []payRow }
	r.ok(t, "listpays", map[string]any{"payment_hash": hash}, &pays)
	if len(pays.Pays) != 1 {
		t.Fatalf("listpays: %+v", pays)
	}
	if p := pays.Pays[0]; p.Status != "complete" || p.Amount == nil || *p.Amount != 1_000_000 || p.Sent != route1[0].Amount+route2[0].Amount ||
		p.Parts != 2 || p.Bolt11 != inv.Bolt11 {
		t.Fatalf("listpays: %+v", p)
	}
	// The simnet truth: one settlement of the whole amount.
	if tr := r.n.Delivered(mustHash(t, hash)); tr.Settlements != 1 || uint64(tr.Amount) != 1_000_000 || tr.Parts != 2 {
		t.Fatalf("simnet saw %+v", tr)
	}

	sameAfterReload(t, r, []call{
		{"waitsendpay", map[string]any{"payment_hash": hash, "partid": 1, "groupid": 1}},
		{"waitsendpay", map[string]any{"payment_hash": hash, "partid": 2}},
		{"listsendpays", map[string]any{"payment_hash": hash}},
		{"listpays", map[string]any{"payment_hash": hash}},
	})
}

type call struct {
	method string
	params map[string]any
}

// sameAfterReload checks each call answers the same live, once the payment
// actors went idle (reloaded from the ledger), and after a restart.
func sameAfterReload(t *testing.T, r *rig, calls []call) {
	t.Helper()
	live := make([]string, len(calls))
	for i, c := range calls {
		live[i] = r.answer(t, c.method, c.params)
	}
	check := func(when string) {
		t.Helper()
		for i, c := range calls {
			if got := r.answer(t, c.method, c.params); got != live[i] {
				t.Errorf("%s %v %s:\n got %s\nwant %s", c.method, c.params, when, got, live[i])
			}
		}
	}
	waitFor(t, "the payment actors to stop", func() bool { return r.e.Live() == 0 })
	check("after the actor went idle")
	r.restart(t)
	check("after a restart")
}

// Issue 13, item 3: a part alone is failed by the destination with
// mpp_timeout (BOLT 4: 60 s after it arrived, on simnet's clock); its
// (groupid, partid) cannot be used again, and a new group pays the hash in
// full. Failed parts show in listsendpays, and listpays sums each group.
func TestSendPayPartTimesOut(t *testing.T) {
	r, inv, route1, route2 := partsRig(t)
	hash := inv.PaymentHash
	r.ok(t, "sendpay", sendPart(inv, route1, 1, 1, 1_000_000), nil)
	waitFor(t, "the part at the destination", func() bool { return r.n.OpenSets() == 1 })
	r.n.SetNow(r.n.Now().Add(61 * time.Second))
	e := r.fails(t, "waitsendpay", map[string]any{"payment_hash": hash, "partid": 1}, 204)
	d := dataOf(t, e)
	if d.FailCodeName != "WIRE_MPP_TIMEOUT" || d.ErringIndex != len(route1) || d.Status != "failed" {
		t.Fatalf("waitsendpay of the part alone: %s %+v", e.Message, d)
	}
	r.refuses(t, "sendpay", sendPart(inv, route1, 1, 1, 1_000_000), 201,
		fmt.Sprintf("There already is a payment with payment_hash=%s, groupid=1, partid=1. Either change the partid, or wait for the payment to complete and start a new group.", hash))

	// A new group (by default) pays it in two parts.
	for i, rt := range [][]hopJSON{route1, route2} {
		p := sendPart(inv, rt, uint64(i+1), 0, 1_000_000)
		p["groupid"] = 2
		r.ok(t, "sendpay", p, nil)
	}
	for _, partid := range []int{1, 2} {
		r.ok(t, "waitsendpay", map[string]any{"payment_hash": hash, "partid": partid}, nil)
	}
	var list struct{ Payments []partRow }
	r.ok(t, "listsendpays", map[string]any{"bolt11": inv.Bolt11}, &list)
	var got []string
	for _, p := range list.Payments {
		got = append(got, fmt.Sprintf("%d/%d %s", p.GroupID, p.PartID, p.Status))
	}
	if strings.Join(got, " ") != "1/1 failed 2/1 complete 2/2 complete" {
		t.Fatalf("listsendpays: %v", got)
	}
	var pays struct{ Pays []payRow }
	r.ok(t, "listpays", map[string]any{"bolt11": inv.Bolt11}, &pays)
	if len(pays.Pays) != 2 || pays.Pays[0].Status != "failed" || pays.Pays[0].Amount != nil || pays.Pays[0].Sent != 0 ||
		pays.Pays[1].Status != "complete" || *pays.Pays[1].Amount != 1_000_000 || pays.Pays[1].Parts != 2 {
		b, _ := json.Marshal(pays)
		t.Fatalf("listpays: %s", b)
	}
	sameAfterReload(t, r, []call{
		{"waitsendpay", map[string]any{"payment_hash": hash, "partid": 1, "groupid": 1}},
		{"waitsendpay", map[string]any{"payment_hash": hash, "partid": 2}},
		{"listsendpays", map[string]any{"payment_hash": hash}},
		{"listpays", map[string]any{"payment_hash": hash}},
	})
}

// A part in flight when payd stops is taken up at the restart: the ledger
// holds it under its (groupid, partid), the restarted engine asks the link
// what became of it, and the part sent after the restart completes the
// payment with it.
func TestSendPayPartAcrossRestart(t *testing.T) {
	r, inv, route1, route2 := partsRig(t)
	hash := inv.PaymentHash
	r.ok(t, "sendpay", sendPart(inv, route1, 1, 1, 1_000_000), nil)
	waitFor(t, "the first part at the destination", func() bool { return r.n.OpenSets() == 1 })
	r.restart(t)
	// The restarted engine knows part 1 is pending in group 1.
	r.refuses(t, "sendpay", sendPart(inv, route2, 2, 1, 999_999), -32602, "msatoshi was previously 1000000msat, now 999999msat")
	r.refuses(t, "waitsendpay", map[string]any{"payment_hash": hash, "partid": 1, "timeout": 0}, 200, "Timed out while waiting")
	r.ok(t, "sendpay", sendPart(inv, route2, 2, 1, 1_000_000), nil)
	for _, partid := range []int{1, 2} {
		var p partRow
		r.ok(t, "waitsendpay", map[string]any{"payment_hash": hash, "partid": partid}, &p)
		if p.Status != "complete" || p.Preimage == "" {
			t.Fatalf("part %d: %+v", partid, p)
		}
	}
	if tr := r.n.Delivered(mustHash(t, hash)); tr.Settlements != 1 || uint64(tr.Amount) != 1_000_000 || tr.Parts != 2 {
		t.Fatalf("simnet saw %+v", tr)
	}
}
