package rpc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Core Lightning's delpay through the socket: a complete or failed
// payment goes with its attempts when its status is named, and comes back
// in the answer as listsendpays showed it (validated against CLN's delpay
// schema in rig.call); a pending one never goes; bad input is -32602 and
// unknown or mismatched payments 208, with CLN's messages. A deleted
// payment stays deleted: in listsendpays and listpays, in the live actor
// (waitsendpay, sendpay), and after a restart.
func TestDelPay(t *testing.T) {
	r := sub300Rig(t)
	const amt = 1_000_000
	inv, route := r.feeRoute(t, amt, 0)
	rows := func(hash string) []json.RawMessage {
		var res struct {
			Payments []json.RawMessage `json:"payments"`
		}
		r.ok(t, "listsendpays", map[string]any{"payment_hash": hash}, &res)
		return res.Payments
	}
	pays := func() int {
		var res struct {
			Pays []json.RawMessage `json:"pays"`
		}
		r.ok(t, "listpays", nil, &res)
		return len(res.Pays)
	}

	// A complete payment.
	paid := r.invoice(t, inv.Destination, amt, nil)
	var p payResult
	r.ok(t, "pay", []any{paid.Bolt11}, &p)
	before := rows(paid.PaymentHash)
	if len(before) != 1 {
		t.Fatalf("rows %s", before)
	}
	// A failed one (wrong secret: 203).
	failed := r.invoice(t, inv.Destination, amt, nil)
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": failed.PaymentHash, "payment_secret": strings.Repeat("44", 32)}, nil)
	r.fails(t, "waitsendpay", []any{failed.PaymentHash}, 203)
	// A pending one, held at the destination.
	held := r.invoice(t, inv.Destination, amt, nil)
	if err := r.n.Hold(mustNode(t, inv.Destination)); err != nil {
		t.Fatal(err)
	}
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": held.PaymentHash, "bolt11": held.Bolt11}, nil)
	if n := pays(); n != 3 {
		t.Fatalf("%d pays before delpay", n)
	}

	// Bad input.
	for _, tc := range []struct {
		params any
		msg    string
	}{
		{map[string]any{"payment_hash": paid.PaymentHash}, "missing required parameter: status"},
		{map[string]any{"payment_hash": paid.PaymentHash, "status": "pending"}, "'status' should be complete or failed, not 'pending': Cannot delete pending status"},
		{map[string]any{"payment_hash": paid.PaymentHash, "status": "paid"}, "'status' should be complete or failed, not 'paid'"},
		{map[string]any{"payment_hash": "00", "status": "complete"}, "'payment_hash' should be a 32 byte hex value, not '00'"},
		{map[string]any{"payment_hash": paid.PaymentHash, "status": "complete", "partid": 0}, "Must set both partid and groupid, or neither"},
		{map[string]any{"payment_hash": paid.PaymentHash, "status": "complete", "groupid": 0}, "Must set both partid and groupid, or neither"},
		{map[string]any{"payment_hash": paid.PaymentHash, "status": "complete", "partid": -1, "groupid": 0}, "'partid' should be an integer, not '-1'"},
		{[]any{paid.PaymentHash, "complete", 0, 0, 0}, "too many parameters: got 5, expected 4"},
	} {
		if e := r.fails(t, "delpay", tc.params, CodeInvalidParams); e.Message != tc.msg {
			t.Errorf("delpay %v: %q, want %q", tc.params, e.Message, tc.msg)
		}
	}
	// Unknown, mismatched, pending: 208, nothing deleted.
	unknown := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		params any
		msg    string
	}{
		{[]any{unknown, "complete"}, "Unknown payment with payment_hash: " + unknown},
		{[]any{paid.PaymentHash, "failed"}, fmt.Sprintf("Payment with hash %s has complete status but it different from the one provided failed", paid.PaymentHash)},
		{[]any{failed.PaymentHash, "complete"}, fmt.Sprintf("Payment with hash %s has failed status but it different from the one provided complete", failed.PaymentHash)},
		{[]any{held.PaymentHash, "failed"}, fmt.Sprintf("Payment with hash %s has pending status but it different from the one provided failed", held.PaymentHash)},
		{[]any{held.PaymentHash, "complete"}, fmt.Sprintf("Payment with hash %s has pending status but it different from the one provided complete", held.PaymentHash)},
		{map[string]any{"payment_hash": paid.PaymentHash, "status": "complete", "partid": 1, "groupid": 0}, "No payment for that payment_hash with that partid and groupid"},
	} {
		if e := r.fails(t, "delpay", tc.params, 208); e.Message != tc.msg {
			t.Errorf("delpay %v: %q, want %q", tc.params, e.Message, tc.msg)
		}
	}
	if n := pays(); n != 3 {
		t.Fatalf("%d pays after refused delpays", n)
	}

	// The complete one goes: the answer is its listsendpays row.
	var del struct {
		Payments []json.RawMessage `json:"payments"`
	}
	r.ok(t, "delpay", map[string]any{"payment_hash": paid.PaymentHash, "status": "complete", "partid": 0, "groupid": 0}, &del)
	if len(del.Payments) != 1 || string(del.Payments[0]) != string(before[0]) {
		t.Fatalf("delpay answered %s, listsendpays showed %s", del.Payments, before)
	}
	r.ok(t, "delpay", []any{failed.PaymentHash, "failed"}, &del)
	if len(del.Payments) != 1 || !strings.Contains(string(del.Payments[0]), `"status":"failed"`) {
		t.Fatalf("delpay failed: %s", del.Payments)
	}
	gone := func(when string) {
		t.Helper()
		for _, h := range []string{paid.PaymentHash, failed.PaymentHash} {
			if rs := rows(h); len(rs) != 0 {
				t.Fatalf("%s: listsendpays still shows %s", when, rs)
			}
			r.fails(t, "waitsendpay", []any{h, 0}, 208)
			r.fails(t, "delpay", []any{h, "failed"}, 208)
			if atts, err := r.l.Attempts(mustHash(t, h), 0); err != nil || len(atts) != 0 {
				t.Fatalf("%s: %d attempts left (%v)", when, len(atts), err)
			}
		}
		if n := pays(); n != 1 {
			t.Fatalf("%s: listpays shows %d pays, want the pending one", when, n)
		}
	}
	gone("after delpay")

	// The live actor forgot it too: the same sendpay is a new payment,
	// not the old success.
	var again paymentJSON
	r.n.Release(mustNode(t, inv.Destination))
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": failed.PaymentHash, "payment_secret": strings.Repeat("44", 32)}, &again)
	if again.Status != "pending" || again.ID <= 3 {
		t.Fatalf("sendpay after delpay: %+v", again)
	}
	r.fails(t, "waitsendpay", []any{failed.PaymentHash}, 203)
	r.ok(t, "delpay", []any{failed.PaymentHash, "failed"}, nil)
	r.ok(t, "waitsendpay", []any{held.PaymentHash}, nil)

	r.restart(t)
	gone("after a restart")
	r.ok(t, "delpay", []any{held.PaymentHash, "complete"}, nil)
	if n := pays(); n != 0 {
		t.Fatalf("%d pays left", n)
	}
}
