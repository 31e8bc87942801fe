package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/simnet"
)

// These tests walk spec section 13's vectors through the socket, on
// simnet's sub300 network: A is our node, B the first hop's node, C the
// destination. Where the engine follows the original man pages over v0.7
// (DEVELOPERS.md precedence), the test says so.

func mustNode(t *testing.T, s string) graph.NodeID {
	t.Helper()
	id, err := graph.ParseNodeID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustSCID(t *testing.T, s string) graph.SCID {
	t.Helper()
	v, err := graph.ParseSCID(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// feeRoute finds an invoice of amount whose getroute route has two hops
// or more, the second charging a fee (so B's fee can be cut short); skip
// skips that many such destinations.
func (r *rig) feeRoute(t *testing.T, amount uint64, skip int) (invoiceJSON, []hopJSON) {
	t.Helper()
	for _, d := range r.payable(t, 400, amount, 0) {
		route := r.route(t, d, amount)
		if len(route) >= 2 && route[0].Amount > route[1].Amount {
			if skip > 0 {
				skip--
				continue
			}
			return r.invoice(t, d, amount, nil), route
		}
	}
	t.Fatal("no route of two hops with a fee")
	return invoiceJSON{}, nil
}

// routingData decodes the data of a 203/204 error.
type routingData struct {
	ErringIndex     int    `json:"erring_index"`
	OriginIndex     int    `json:"origin_index"`
	FailCode        int    `json:"failcode"`
	FailCodeName    string `json:"failcodename"`
	ErringNode      string `json:"erring_node"`
	ErringChannel   string `json:"erring_channel"`
	ErringDirection int    `json:"erring_direction"`
	ChannelUpdate   string `json:"channel_update"`
	PaymentHash     string `json:"payment_hash"`
	Status          string `json:"status"`
	ID              uint64 `json:"id"`
}

func dataOf(t *testing.T, e *Error) routingData {
	t.Helper()
	var d routingData
	raw, _ := e.Data.(json.RawMessage)
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%d %s: data %s: %v", e.Code, e.Message, raw, err)
	}
	return d
}

// Vectors 1, 2, 5, 6 and 8: sendpay and waitsendpay's rules around one
// successful payment.
func TestSpecSendpaySuccess(t *testing.T) {
	r := sub300Rig(t)
	const amt = 100_000
	inv, route := r.feeRoute(t, amt, 0)
	hash := inv.PaymentHash

	// Vector 8: waitsendpay of a hash never sent is 208.
	if e := r.fails(t, "waitsendpay", []any{hash}, 208); e.Message != fmt.Sprintf("Never attempted payment for '%s'", hash) {
		t.Fatal(e.Message)
	}
	// Vector 5: an empty route, a hop without delay, a hop whose two
	// amounts disagree.
	if e := r.fails(t, "sendpay", []any{[]any{}, hash}, CodeInvalidParams); e.Message != "Empty route" {
		t.Fatal(e.Message)
	}
	noDelay := map[string]any{"id": route[0].ID, "channel": route[0].Channel, "msatoshi": route[0].Amount}
	if e := r.fails(t, "sendpay", []any{[]any{noDelay}, hash}, CodeInvalidParams); e.Message != "route[0]: must have id, channel and delay" {
		t.Fatal(e.Message)
	}
	twoAmounts := map[string]any{"id": route[0].ID, "channel": route[0].Channel, "delay": route[0].Delay, "msatoshi": 1000, "amount_msat": "1001msat"}
	if e := r.fails(t, "sendpay", []any{[]any{twoAmounts}, hash}, CodeInvalidParams); e.Message != "route[0]: msatoshi 1000msat != amount_msat 1001msat" {
		t.Fatal(e.Message)
	}
	noAmount := map[string]any{"id": route[0].ID, "channel": route[0].Channel, "delay": route[0].Delay}
	if e := r.fails(t, "sendpay", []any{[]any{noAmount}, hash}, CodeInvalidParams); e.Message != "route[0]: must have msatoshi or amount_msat" {
		t.Fatal(e.Message)
	}
	// Vector 6: with msatoshi, the final amount must lie in
	// [msatoshi, 2*msatoshi]; outside it is -32602 and nothing is sent.
	r.fails(t, "sendpay", map[string]any{"route": route, "payment_hash": hash, "msatoshi": amt + 1}, CodeInvalidParams)
	r.fails(t, "sendpay", map[string]any{"route": route, "payment_hash": hash, "msatoshi": amt/2 - 1}, CodeInvalidParams)
	if r.n.InFlight() != 0 {
		t.Fatal("a refused sendpay sent an HTLC")
	}

	// Vector 1: sendpay answers pending, waitsendpay complete with the
	// preimage; the same sendpay again is complete at once, no HTLC.
	var sent paymentJSON
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": hash, "bolt11": inv.Bolt11, "label": "v1", "msatoshi": amt}, &sent)
	if sent.Status != "pending" || sent.Message != "Monitor status with listpayments or waitsendpay" || sent.PaymentHash != hash ||
		sent.AmountMsat != amt || sent.AmountSentMsat != route[0].Amount || sent.Destination != inv.Destination || sent.ID != 1 || sent.Label != "v1" {
		t.Fatalf("sendpay: %+v", sent)
	}
	var done paymentJSON
	r.ok(t, "waitsendpay", []any{hash}, &done)
	if done.Status != "complete" || done.ID != 1 || done.CompletedAt == nil {
		t.Fatalf("waitsendpay: %+v", done)
	}
	checkPreimage(t, done.Preimage, hash)
	var again paymentJSON
	r.ok(t, "sendpay", []any{route, hash}, &again)
	if again.Status != "complete" || again.Preimage != done.Preimage || again.Message != "" {
		t.Fatalf("sendpay after success: %+v", again)
	}
	// Vector 8: waitsendpay of a complete payment answers at once.
	r.ok(t, "waitsendpay", map[string]any{"payment_hash": hash, "timeout": 0}, &again)
	if again.Status != "complete" {
		t.Fatalf("waitsendpay again: %+v", again)
	}
	if d := r.n.Delivered(mustHash(t, hash)); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}

	// Vector 2: another amount, or another destination, is 201.
	more := append([]hopJSON(nil), route...)
	more[len(more)-1].Amount++
	more[0].Amount++
	if e := r.fails(t, "sendpay", []any{more, hash}, 201); e.Message != fmt.Sprintf("Already succeeded with amount %dmsat", amt) {
		t.Fatal(e.Message)
	}
	other := r.payable(t, 2, amt, 0)
	dest2 := other[0]
	if dest2 == inv.Destination {
		dest2 = other[1]
	}
	if e := r.fails(t, "sendpay", []any{r.route(t, dest2, amt), hash}, 201); e.Message != "Already succeeded to "+inv.Destination {
		t.Fatal(e.Message)
	}

	// Vector 6, accepted side: an overpaying final amount within 2x is
	// sent, and msatoshi is what is recorded.
	inv6 := r.invoice(t, inv.Destination, amt, nil)
	over := r.route(t, inv.Destination, amt*2)
	r.ok(t, "sendpay", map[string]any{"route": over, "payment_hash": inv6.PaymentHash, "payment_secret": inv6.PaymentSecret, "msatoshi": amt}, &sent)
	r.ok(t, "waitsendpay", []any{inv6.PaymentHash}, &done)
	if done.Status != "complete" || done.AmountMsat != amt || done.AmountSentMsat != over[0].Amount {
		t.Fatalf("overpaid: %+v", done)
	}
}

func mustHash(t *testing.T, s string) [32]byte {
	t.Helper()
	v, err := parseHash("hash", json.RawMessage(`"`+s+`"`))
	if err != nil {
		t.Fatal(err)
	}
	return v.([32]byte)
}

// Vectors 3, 4, 7, 8 and 9: a pending payment, failures and their
// routing failure objects, and a retry after failure.
func TestSpecSendpayFailures(t *testing.T) {
	r := sub300Rig(t)
	const amt = 2_000_000
	inv, route := r.feeRoute(t, amt, 0)
	hash := inv.PaymentHash
	self := r.n.Self().String()

	// Vector 7: a first hop to a node we have no channel with: sendpay
	// itself answers 204 "No connection to first peer found",
	// erring_index 0, unknown_next_peer, our node, route[0]'s channel and
	// direction; nothing is written, so waitsendpay knows no payment.
	bad := append([]hopJSON(nil), route...)
	bad[0].ID, bad[0].Channel = r.notPeer(t), "1x2x3"
	e := r.fails(t, "sendpay", []any{bad, hash, nil, nil, inv.Bolt11}, 204)
	if d := dataOf(t, e); e.Message != "No connection to first peer found" || d.ErringIndex != 0 || d.OriginIndex != -1 ||
		d.FailCode != 16394 || d.ErringNode != self || d.ErringChannel != "1x2x3" || d.PaymentHash != "" ||
		d.ErringDirection != int(graph.Direction(r.n.Self(), mustNode(t, bad[0].ID))) {
		t.Fatalf("no first peer: %s %+v", e.Message, d)
	}
	r.fails(t, "waitsendpay", []any{hash}, 208)

	// Vector 9, remote: B is paid too small a fee: 204 from erring_index
	// 1, erring_node B, erring_channel BC, fee_insufficient (UPDATE|12)
	// with B's channel_update.
	cheap := append([]hopJSON(nil), route...)
	cheap[0].Amount = cheap[1].Amount
	r.ok(t, "sendpay", []any{cheap, hash, nil, nil, inv.Bolt11}, nil)
	e = r.fails(t, "waitsendpay", []any{hash}, 204)
	if d := dataOf(t, e); d.ErringIndex != 1 || d.OriginIndex != 0 || d.ErringNode != route[0].ID || d.ErringChannel != route[1].Channel ||
		d.FailCode != 0x100c || d.FailCodeName != "WIRE_FEE_INSUFFICIENT" || d.ChannelUpdate == "" || d.ErringDirection != route[1].Direction {
		t.Fatalf("fee_insufficient: %s %+v", e.Message, d)
	}

	// Vector 9, remote: B cannot send on BC: temporary_channel_failure
	// (0x1007), 204 from erring_index 1.
	bc, b := mustSCID(t, route[1].Channel), mustNode(t, route[0].ID)
	st, _ := r.n.Channel(bc)
	side := 0
	if st.Nodes[1] == b {
		side = 1
	}
	saved := st.Balance[side]
	if err := r.n.SetBalance(bc, b, 0); err != nil {
		t.Fatal(err)
	}
	r.ok(t, "sendpay", []any{route, hash, nil, nil, inv.Bolt11}, nil)
	e = r.fails(t, "waitsendpay", []any{hash}, 204)
	if d := dataOf(t, e); d.ErringIndex != 1 || d.ErringNode != route[0].ID || d.ErringChannel != route[1].Channel || d.FailCode != 0x1007 {
		t.Fatalf("temporary_channel_failure: %+v", d)
	}
	if err := r.n.SetBalance(bc, b, saved); err != nil {
		t.Fatal(err)
	}

	// Vector 9, destination: a wrong payment secret is
	// incorrect_or_unknown_payment_details (PERM|15): 203, erring_index
	// = route length, erring_node C, erring_channel 0:0:0 (the original
	// pages).
	wrong := strings.Repeat("11", 32)
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": hash, "payment_secret": wrong}, nil)
	e = r.fails(t, "waitsendpay", []any{hash}, 203)
	if d := dataOf(t, e); d.ErringIndex != len(route) || d.ErringNode != inv.Destination || d.ErringChannel != "0:0:0" || d.FailCode != 0x400f {
		t.Fatalf("wrong secret: %+v", d)
	}
	var rows struct {
		Payments []paymentJSON `json:"payments"`
	}
	r.ok(t, "listsendpays", map[string]any{"payment_hash": hash}, &rows)
	if len(rows.Payments) != 1 || rows.Payments[0].Status != "failed" || rows.Payments[0].CompletedAt != nil {
		t.Fatalf("after failures: %+v", rows)
	}

	// Vectors 3 and 8 with a held destination: sendpay while pending is
	// 200 (the original pages' rule, which the engine follows over v0.7's
	// success), waitsendpay with timeout 0 is 200 "Timed out while
	// waiting", and exactly one HTLC set is out.
	if err := r.n.Hold(mustNode(t, inv.Destination)); err != nil {
		t.Fatal(err)
	}
	// Vector 4: after a failure, sendpay is accepted again (the secret
	// comes from the bolt11).
	var sent paymentJSON
	r.ok(t, "sendpay", []any{route, hash, "retry", nil, inv.Bolt11}, &sent)
	if sent.Status != "pending" || sent.Label != "retry" {
		t.Fatalf("sendpay after failure: %+v", sent)
	}
	waitFor(t, "the HTLC to reach the destination", func() bool { return r.n.InFlight() == len(route) })
	if e := r.fails(t, "sendpay", []any{route, hash}, 200); e.Message != "Payment is still in progress" {
		t.Fatal(e.Message)
	}
	if e := r.fails(t, "waitsendpay", []any{hash, 0}, 200); e.Message != "Timed out while waiting" {
		t.Fatal(e.Message)
	}
	if n := r.n.InFlight(); n != len(route) {
		t.Fatalf("%d HTLCs in flight, want %d", n, len(route))
	}
	r.ok(t, "listsendpays", map[string]any{"payment_hash": hash}, &rows)
	if len(rows.Payments) != 1 || rows.Payments[0].Status != "pending" || rows.Payments[0].Label != "retry" {
		t.Fatalf("pending row: %+v", rows)
	}
	// Two waiters, answered together on release.
	ctx := context.Background()
	waits := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			var p paymentJSON
			err := r.c.Call(ctx, "waitsendpay", []any{hash}, &p)
			if err == nil && p.Status != "complete" {
				err = fmt.Errorf("status %s", p.Status)
			}
			waits <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	r.n.Release(mustNode(t, inv.Destination))
	for i := 0; i < 2; i++ {
		if err := <-waits; err != nil {
			t.Fatalf("waiter: %v", err)
		}
	}
	// Vector 4: still one row for the hash.
	r.ok(t, "listsendpays", []any{nil, hash}, &rows)
	if len(rows.Payments) != 1 || rows.Payments[0].Status != "complete" {
		t.Fatalf("after success: %+v", rows)
	}
}

type payFailureData struct {
	Attempts []struct {
		Route   []hopJSON `json:"route"`
		Failure *struct {
			Code int         `json:"code"`
			Data routingData `json:"data"`
		} `json:"failure"`
	} `json:"attempts"`
}

// everyRouteHasFee reports whether every route from self to the node with
// id dest (hex) pays some fee for amount: self has no channel to it, and
// each channel into it charges at least 1 msat, which the node before the
// destination on any route takes.
func everyRouteHasFee(g *graph.Graph, self graph.NodeID, dest string, amount graph.MilliSat) bool {
	var d graph.NodeID
	if d.UnmarshalText([]byte(dest)) != nil {
		return false
	}
	ok := true
	g.Channels(func(c graph.ChannelInfo) bool {
		for dir, ends := range [2][2]graph.NodeID{{c.Node1, c.Node2}, {c.Node2, c.Node1}} {
			from, to := ends[0], ends[1]
			if to != d || c.Policy[dir] == nil {
				continue
			}
			if from == self {
				ok = false
			} else if fee, err := graph.Fee(amount, c.Policy[dir].BaseMsat, c.Policy[dir].FeePPM); err == nil && fee == 0 {
				ok = false
			}
		}
		return ok
	})
	return ok
}

// Vector 13: pay's fee and delay limits.
func TestSpecPayLimits(t *testing.T) {
	r := sub300Rig(t)
	const amt = 100_000
	inv, route := r.feeRoute(t, amt, 0)
	for skip := 1; !everyRouteHasFee(r.n.Graph(), r.n.Self(), route[len(route)-1].ID, amt); skip++ {
		inv, route = r.feeRoute(t, amt, skip)
	}
	fee := route[0].Amount - amt
	// Every route costs something over 0.0001% with exemptfee 0: 206
	// "Route wanted fee of ...", no data.
	e := r.fails(t, "pay", map[string]any{"bolt11": inv.Bolt11, "maxfeepercent": 0.0001, "exemptfee": 0}, 206)
	if !strings.HasPrefix(e.Message, "Route wanted fee of ") || e.Data != nil {
		t.Fatalf("206: %q %v", e.Message, e.Data)
	}
	// maxfee is HEAD's single limit: the same.
	r.fails(t, "pay", map[string]any{"bolt11": inv.Bolt11, "maxfee": 0}, 206)
	r.fails(t, "pay", map[string]any{"bolt11": inv.Bolt11, "maxfee": 0, "exemptfee": 0}, CodeInvalidParams)
	// maxdelay 0: "Route wanted delay of N blocks".
	e = r.fails(t, "pay", map[string]any{"bolt11": inv.Bolt11, "maxdelay": 0}, 206)
	if !strings.HasPrefix(e.Message, "Route wanted delay of ") || !strings.HasSuffix(e.Message, " blocks") {
		t.Fatalf("206 delay: %q", e.Message)
	}
	if r.n.InFlight() != 0 || r.n.Delivered(mustHash(t, inv.PaymentHash)).Settlements != 0 {
		t.Fatal("a too expensive pay sent something")
	}
	// An exemptfee above the fee lets it through on the first route.
	var p payResult
	r.ok(t, "pay", map[string]any{"bolt11": inv.Bolt11, "maxfeepercent": 0.0001, "exemptfee": fee}, &p)
	if p.Status != "complete" || p.AmountSentMsat-p.AmountMsat > fee {
		t.Fatalf("exempt: %+v (fee %d)", p, fee)
	}
}

// Vector 14: pay's amount rules, expiry, and paying twice.
func TestSpecPayAmounts(t *testing.T) {
	r := sub300Rig(t)
	dest := r.payable(t, 1, 30_000, 0)[0]
	inv := r.invoice(t, dest, 30_000, nil)
	if e := r.fails(t, "pay", []any{inv.Bolt11, 30_000}, CodeInvalidParams); e.Message != "msatoshi parameter unnecessary" {
		t.Fatal(e.Message)
	}
	anyInv := r.invoice(t, dest, "any", nil)
	if e := r.fails(t, "pay", []any{anyInv.Bolt11}, CodeInvalidParams); e.Message != "msatoshi parameter required" {
		t.Fatal(e.Message)
	}
	var p payResult
	r.ok(t, "pay", map[string]any{"bolt11": anyInv.Bolt11, "msatoshi": "31sat"}, &p)
	if p.Status != "complete" || p.AmountMsat != 31_000 {
		t.Fatalf("any-amount pay: %+v", p)
	}
	if e := r.fails(t, "pay", []any{"lnbcrt1garbage"}, CodeInvalidParams); !strings.HasPrefix(e.Message, "Invalid bolt11: ") {
		t.Fatal(e.Message)
	}
	// Expired at call time: 207, no data.
	old := r.invoice(t, dest, 30_000, map[string]any{"expiry": 60})
	r.n.SetNow(r.n.Now().Add(61 * time.Second))
	if e := r.fails(t, "pay", []any{old.Bolt11}, 207); e.Message != "Invoice expired" || e.Data != nil {
		t.Fatalf("expired: %+v", e)
	}
	// Paid twice: the same preimage, one settlement.
	var p1, p2 payResult
	r.ok(t, "pay", []any{inv.Bolt11}, &p1)
	r.ok(t, "pay", []any{inv.Bolt11}, &p2)
	if p1.Preimage != p2.Preimage {
		t.Fatalf("preimages %s and %s", p1.Preimage, p2.Preimage)
	}
	if d := r.n.Delivered(mustHash(t, inv.PaymentHash)); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}
}

// Vector 15: pay's retries: around a failing channel, not after a
// destination's PERM failure, 210 after retry_for, 205 and 210 when routes
// run out.
func TestSpecPayRetry(t *testing.T) {
	r := sub300Rig(t)
	const amt = 200_000

	// B charges more than its gossip says on BC: the first attempt fails
	// with fee_insufficient, the pay excludes BC and succeeds elsewhere,
	// and getroute has learnt to avoid BC.
	inv, route := r.feeRoute(t, amt, 0)
	b, bc := mustNode(t, route[0].ID), mustSCID(t, route[1].Channel)
	if err := r.n.SetPolicy(bc, b, graph.Policy{BaseMsat: 1_000_000, FeePPM: 1_000_000, CLTVDelta: 40, HTLCMax: 1 << 62}); err != nil {
		t.Fatal(err)
	}
	var p payResult
	r.ok(t, "pay", []any{inv.Bolt11}, &p)
	if p.Status != "complete" {
		t.Fatalf("pay around a failing channel: %+v", p)
	}
	for _, h := range r.route(t, inv.Destination, amt) {
		if h.Channel == route[1].Channel && h.Direction == route[1].Direction {
			t.Fatalf("getroute still goes through %s after its failure", h.Channel)
		}
	}

	// 203 from the destination ends the pay at once: its invoice expires
	// while the HTLC is held before it.
	inv2, route2 := r.feeRoute(t, amt, 1)
	c := mustNode(t, inv2.Destination)
	if err := r.n.Hold(c); err != nil {
		t.Fatal(err)
	}
	res := make(chan *Error, 1)
	go func() {
		err := r.c.Call(context.Background(), "pay", []any{inv2.Bolt11}, &p)
		e, _ := err.(*Error)
		res <- e
	}()
	waitFor(t, "the pay's HTLC at the destination", func() bool { return r.n.InFlight() > 0 })
	r.n.SetNow(r.n.Now().Add(2 * time.Hour))
	r.n.Release(c)
	e := <-res
	if e == nil || e.Code != 203 {
		t.Fatalf("pay to an expired invoice at the destination: %+v", e)
	}
	if d := dataOf(t, e); d.ErringNode != inv2.Destination || d.ErringChannel != "0:0:0" || d.FailCode != 0x400f || d.ErringIndex < 1 {
		t.Fatalf("203 data: %+v (route %v)", d, route2)
	}

	// After retry_for, the next 204 gives 210 "Gave up after 1 attempt",
	// with the attempt and its failure in data. The destination holds the
	// HTLC, then fails it with temporary_node_failure (no PERM bit: 204),
	// whichever route the pay's fuzz chose.
	inv3, _ := r.feeRoute(t, amt, 2)
	b3 := mustNode(t, inv3.Destination)
	if err := r.n.SetFault(b3, simnet.Fault{NodeFailure: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.n.Hold(b3); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := r.c.Call(context.Background(), "pay", map[string]any{"bolt11": inv3.Bolt11, "retry_for": 30}, &p)
		e, _ := err.(*Error)
		res <- e
	}()
	waitFor(t, "the pay's HTLC at the destination", func() bool { return r.n.InFlight() > 0 })
	r.n.SetNow(r.n.Now().Add(31 * time.Second))
	r.n.Release(b3)
	e = <-res
	if e == nil || e.Code != 210 || e.Message != "Gave up after 1 attempt: see paystatus" {
		t.Fatalf("after retry_for: %+v", e)
	}
	var data payFailureData
	if err := json.Unmarshal(e.Data.(json.RawMessage), &data); err != nil || len(data.Attempts) != 1 ||
		data.Attempts[0].Failure == nil || data.Attempts[0].Failure.Code != 204 || data.Attempts[0].Failure.Data.ErringNode != inv3.Destination ||
		len(data.Attempts[0].Route) == 0 || data.Attempts[0].Route[len(data.Attempts[0].Route)-1].ID != inv3.Destination {
		t.Fatalf("210 data: %s (%v)", e.Data, err)
	}
	r.n.SetFault(b3, simnet.Fault{})

	// No route before any attempt: 205.
	big := r.invoice(t, inv.Destination, "10.0btc", nil)
	if e := r.fails(t, "pay", []any{big.Bolt11}, 205); e.Message != "Could not find a route" {
		t.Fatal(e.Message)
	}

	// Routes run out after an attempt: a leaf node whose only channel
	// cannot carry the payment: 210 "Ran out of routes to try after 1
	// attempt".
	leaf, in := r.leaf(t, amt)
	if err := r.n.SetBalance(in.scid, in.from, 0); err != nil {
		t.Fatal(err)
	}
	out := r.invoice(t, leaf.String(), amt, nil)
	if e := r.fails(t, "pay", []any{out.Bolt11}, 210); !strings.HasPrefix(e.Message, "Ran out of routes to try after 1 attempt") {
		t.Fatal(e.Message)
	}
}

type edgeInto struct {
	scid graph.SCID
	from graph.NodeID
}

// leaf finds a node we can pay amount to that has a single channel, and
// that channel.
func (r *rig) leaf(t *testing.T, amount uint64) (graph.NodeID, edgeInto) {
	t.Helper()
	g := r.n.Graph()
	count := map[graph.NodeID]int{}
	last := map[graph.NodeID]edgeInto{}
	g.Channels(func(c graph.ChannelInfo) bool {
		count[c.Node1]++
		count[c.Node2]++
		last[c.Node1] = edgeInto{c.SCID, c.Node2}
		last[c.Node2] = edgeInto{c.SCID, c.Node1}
		return true
	})
	for _, id := range g.Nodes() {
		if count[id] != 1 || id == r.n.Self() || last[id].from == r.n.Self() {
			continue
		}
		if route, e := r.call(t, "getroute", map[string]any{"id": id.String(), "msatoshi": amount, "riskfactor": 1, "cltv": simnet.DefaultMinFinalCLTV}); e == nil && len(route) > 0 {
			return id, last[id]
		}
	}
	t.Fatal("no payable leaf node")
	return graph.NodeID{}, edgeInto{}
}

// notPeer returns a node of the network we have no channel with, other
// than those named.
func (r *rig) notPeer(t *testing.T, except ...string) string {
	t.Helper()
	peers := map[graph.NodeID]bool{}
	g := r.n.Graph()
	for _, scid := range r.n.LocalChannels() {
		if c, ok := g.Channel(scid); ok {
			peers[c.Node1], peers[c.Node2] = true, true
		}
	}
	for _, n := range g.Nodes() {
		if !peers[n] && !slices.Contains(except, n.String()) {
			return n.String()
		}
	}
	t.Fatal("every node is our peer")
	return ""
}
