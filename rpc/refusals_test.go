package rpc

import (
	"strings"
	"testing"
)

// Issue 11, item 3: requests the engine must refuse at once, through the
// socket, writing nothing: a route no onion can carry, and pay of an
// amountless invoice with 0msat. And a route whose first channel does not
// lead to its first node: the HTLC goes on our channel to that node.
func TestSendPayRefusals(t *testing.T) {
	r := sub300Rig(t)
	const amt = 1_000_000
	inv, route := r.feeRoute(t, amt, 0)

	// 40 hops (B and C alternating over BC, say): more than an onion's
	// 1300 bytes of hop payloads.
	long := append([]hopJSON(nil), route...)
	for len(long) < 40 {
		long = append(long, route[len(route)-2], route[len(route)-1])
	}
	e := r.fails(t, "sendpay", map[string]any{"route": long, "payment_hash": inv.PaymentHash, "bolt11": inv.Bolt11}, CodeInvalidParams)
	if !strings.HasPrefix(e.Message, "route cannot be sent: invalid route: ") || !strings.Contains(e.Message, "at most 27") {
		t.Fatalf("too long: %q", e.Message)
	}
	// 26 hops with the payment secret: within 27, but the payloads take
	// more than 1300 bytes.
	e = r.fails(t, "sendpay", map[string]any{"route": long[:26], "payment_hash": inv.PaymentHash, "bolt11": inv.Bolt11}, CodeInvalidParams)
	if !strings.Contains(e.Message, "an onion carries 1300") {
		t.Fatalf("too big: %q", e.Message)
	}
	r.fails(t, "waitsendpay", []any{inv.PaymentHash}, 208)
	var rows struct {
		Payments []paymentJSON `json:"payments"`
	}
	r.ok(t, "listsendpays", nil, &rows)
	if len(rows.Payments) != 0 || r.n.InFlight() != 0 {
		t.Fatalf("a refused sendpay left %+v, %d HTLCs", rows.Payments, r.n.InFlight())
	}

	// route[0].channel is another of our channels: the HTLC goes to
	// route[0].id on our channel to it, and is paid (it used to reach a
	// node that could not read the onion: 204 INVALID_ONION_HMAC).
	other := append([]hopJSON(nil), route...)
	for _, scid := range r.n.LocalChannels() {
		if s := scid.String(); s != route[0].Channel {
			other[0].Channel = s
			break
		}
	}
	var p paymentJSON
	r.ok(t, "sendpay", map[string]any{"route": other, "payment_hash": inv.PaymentHash, "bolt11": inv.Bolt11}, &p)
	r.ok(t, "waitsendpay", []any{inv.PaymentHash}, &p)
	if p.Status != "complete" {
		t.Fatalf("over another channel of ours: %+v", p)
	}

	// pay of an amountless invoice with 0msat: -32602, not 205.
	anyInv := r.invoice(t, inv.Destination, "any", nil)
	for _, zero := range []any{0, "0msat", "0sat"} {
		e = r.fails(t, "pay", map[string]any{"bolt11": anyInv.Bolt11, "amount_msat": zero}, CodeInvalidParams)
		if e.Message != "msatoshi parameter must be positive, not 0msat" {
			t.Fatalf("pay 0: %q", e.Message)
		}
	}
	r.fails(t, "waitsendpay", []any{anyInv.PaymentHash}, 208)
}
