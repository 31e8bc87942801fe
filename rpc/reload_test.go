package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/simnet"
)

// answer is one call's whole answer as the server wrote it: the result,
// or the error's code, message and data bytes.
func (r *rig) answer(t *testing.T, method string, params any) string {
	t.Helper()
	res, e := r.call(t, method, params)
	if e == nil {
		return "result " + string(res)
	}
	data, _ := e.Data.(json.RawMessage)
	return fmt.Sprintf("error %d %q %s", e.Code, e.Message, data)
}

// Issue 11, item 2: every failure kind of spec vector 9 (and the local
// and unparseable ones of section 3) is answered byte for byte the same by
// the live payment actor, by one reloaded from the ledger after it went
// idle, and by one reloaded after a restart: waitsendpay, listsendpays,
// and pay's own error.
func TestFailuresAnswerTheSameAfterReload(t *testing.T) {
	r := sub300Rig(t)
	const amt = 2_000_000
	inv, route := r.feeRoute(t, amt, 0)
	dest := mustNode(t, inv.Destination)
	b := mustNode(t, route[len(route)-2].ID) // the node before the destination
	bc := mustSCID(t, route[len(route)-1].Channel)

	type kind struct {
		name  string
		code  int
		check string // a piece the live answer must hold
		send  func(hash string, inv invoiceJSON) any
		setup func()
		heal  func()
	}
	sendpay := func(rt []hopJSON) func(string, invoiceJSON) any {
		return func(hash string, inv invoiceJSON) any {
			return map[string]any{"route": rt, "payment_hash": hash, "bolt11": inv.Bolt11}
		}
	}
	cheap := append([]hopJSON(nil), route...)
	cheap[len(cheap)-2].Amount = cheap[len(cheap)-1].Amount
	for i := len(cheap) - 3; i >= 0; i-- {
		cheap[i].Amount = route[i].Amount - (route[len(route)-2].Amount - route[len(route)-1].Amount)
	}
	// The last hop's id swapped for another node: the node before the
	// destination forwards on BC to the destination, which cannot read
	// an onion made for another key; the node before reports
	// invalid_onion_hmac, blaming the swapped-in node, the payment's
	// destination, though the destination reported nothing.
	swapped := append([]hopJSON(nil), route...)
	swapped[len(swapped)-1].ID = r.notPeer(t, inv.Destination)
	huge := append([]hopJSON(nil), route...)
	huge[0].Amount = 1 << 50
	kinds := []kind{
		{name: "fee_insufficient", code: 204, check: `"failcodename":"WIRE_FEE_INSUFFICIENT"`, send: sendpay(cheap)},
		{name: "temporary_channel_failure", code: 204, check: `"failcodename":"WIRE_TEMPORARY_CHANNEL_FAILURE"`, send: sendpay(route),
			setup: func() {
				if err := r.n.SetFault(b, simnet.Fault{FailRate: 1}); err != nil {
					t.Fatal(err)
				}
			},
			heal: func() { r.n.SetFault(b, simnet.Fault{}) }},
		{name: "incorrect_or_unknown_payment_details", code: 203, check: `"erring_channel":"0:0:0"`,
			send: func(hash string, _ invoiceJSON) any {
				return map[string]any{"route": route, "payment_hash": hash, "payment_secret": strings.Repeat("33", 32)}
			}},
		{name: "destination temporary_node_failure", code: 204, check: `"erring_channel":"0:0:0"`, send: sendpay(route),
			setup: func() {
				if err := r.n.SetFault(dest, simnet.Fault{NodeFailure: true}); err != nil {
					t.Fatal(err)
				}
			},
			heal: func() { r.n.SetFault(dest, simnet.Fault{}) }},
		{name: "invalid_onion_hmac", code: 204, check: fmt.Sprintf(`"failcodename":"WIRE_INVALID_ONION_HMAC","erring_node":"%s","erring_channel":"%s"`, swapped[len(swapped)-1].ID, bc),
			send: sendpay(swapped)},
		{name: "unparseable", code: 202, check: `"onionreply"`, send: sendpay(route),
			setup: func() {
				if err := r.n.SetFault(b, simnet.Fault{Garbage: true}); err != nil {
					t.Fatal(err)
				}
			},
			heal: func() { r.n.SetFault(b, simnet.Fault{}) }},
		{name: "local", code: 204, check: `"erring_index":0,"origin_index":-1`, send: sendpay(huge)},
	}
	type seen struct{ hash, wait, list string }
	var all []seen
	check := func(when string, s seen) {
		t.Helper()
		if got := r.answer(t, "waitsendpay", []any{s.hash}); got != s.wait {
			t.Errorf("waitsendpay %s:\n got %s\nwant %s", when, got, s.wait)
		}
		if got := r.answer(t, "listsendpays", map[string]any{"payment_hash": s.hash}); got != s.list {
			t.Errorf("listsendpays %s:\n got %s\nwant %s", when, got, s.list)
		}
	}
	idle := func() { waitFor(t, "the payment actors to stop", func() bool { return r.e.Live() == 0 }) }
	// pay's own error (203: the invoice was cancelled) is waitsendpay's
	// answer after a reload.
	gone := r.invoice(t, inv.Destination, amt, nil)
	if !r.n.CancelInvoice(mustHash(t, gone.PaymentHash)) {
		t.Fatal("cancel")
	}
	payErr := r.answer(t, "pay", []any{gone.Bolt11})
	if !strings.HasPrefix(payErr, "error 203 ") {
		t.Fatalf("pay of a cancelled invoice: %s", payErr)
	}
	idle()
	ps := seen{hash: gone.PaymentHash, wait: payErr, list: r.answer(t, "listsendpays", map[string]any{"payment_hash": gone.PaymentHash})}
	check("pay after the actor went idle", ps)
	all = append(all, ps)

	// pay's 210 after retry_for: each of its data.attempts is paystatus's
	// attempt (route and failure), live, after the actor went idle, and
	// after a restart. The destination holds the HTLC, then fails it with
	// temporary_node_failure (204) once retry_for has passed.
	gaveUp := r.invoice(t, inv.Destination, amt, nil)
	if err := r.n.SetFault(dest, simnet.Fault{NodeFailure: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.n.Hold(dest); err != nil {
		t.Fatal(err)
	}
	res := make(chan *Error, 1)
	go func() {
		err := r.c.Call(context.Background(), "pay", map[string]any{"bolt11": gaveUp.Bolt11, "retry_for": 30}, nil)
		e, _ := err.(*Error)
		res <- e
	}()
	waitFor(t, "the pay's HTLC at the destination", func() bool { return r.n.InFlight() > 0 })
	r.n.SetNow(r.n.Now().Add(31 * time.Second))
	r.n.Release(dest)
	e := <-res
	r.n.SetFault(dest, simnet.Fault{})
	if e == nil || e.Code != 210 {
		t.Fatalf("pay after retry_for: %+v", e)
	}
	type attemptsJSON struct {
		Attempts []struct {
			Route   json.RawMessage `json:"route"`
			Failure json.RawMessage `json:"failure"`
		} `json:"attempts"`
	}
	var live attemptsJSON
	if err := json.Unmarshal(e.Data.(json.RawMessage), &live); err != nil || len(live.Attempts) != 1 {
		t.Fatalf("210 data %s: %v", e.Data, err)
	}
	paystatus := func(when string) {
		t.Helper()
		var st struct {
			Pay []attemptsJSON `json:"pay"`
		}
		r.ok(t, "paystatus", []any{gaveUp.Bolt11}, &st)
		if len(st.Pay) != 1 || len(st.Pay[0].Attempts) != len(live.Attempts) {
			t.Fatalf("paystatus %s: %+v", when, st)
		}
		for i, a := range st.Pay[0].Attempts {
			if w := live.Attempts[i]; string(a.Route) != string(w.Route) || string(a.Failure) != string(w.Failure) {
				t.Errorf("paystatus %s, attempt %d:\n got %s %s\nwant %s %s", when, i, a.Route, a.Failure, w.Route, w.Failure)
			}
		}
	}
	paystatus("live")
	idle()
	paystatus("after the actor went idle")

	for _, k := range kinds {
		in := r.invoice(t, inv.Destination, amt, nil)
		if k.setup != nil {
			k.setup()
		}
		r.ok(t, "sendpay", k.send(in.PaymentHash, in), nil)
		live := r.answer(t, "waitsendpay", []any{in.PaymentHash})
		if k.heal != nil {
			k.heal()
		}
		if !strings.HasPrefix(live, fmt.Sprintf("error %d ", k.code)) || !strings.Contains(live, k.check) {
			t.Fatalf("%s: live answer %s, want code %d with %s", k.name, live, k.code, k.check)
		}
		s := seen{hash: in.PaymentHash, wait: live, list: r.answer(t, "listsendpays", map[string]any{"payment_hash": in.PaymentHash})}
		idle()
		check(k.name+" after the actor went idle", s)
		all = append(all, s)
	}

	r.restart(t)
	for i, s := range all {
		check(fmt.Sprintf("#%d after a restart", i), s)
	}
	paystatus("after a restart")
}
