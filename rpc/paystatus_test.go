package rpc

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// paystatus lists each payment made with a bolt11 and every attempt the
// ledger keeps: strategy, times, state, route, failure or success, in the
// v0.7 pay plugin's shape; bad input is -32602.
func TestPayStatus(t *testing.T) {
	r := sub300Rig(t)
	const amt = 1_000_000
	inv, route := r.feeRoute(t, amt, 0)
	var st struct {
		Pay []payStatusJSON `json:"pay"`
	}
	r.ok(t, "paystatus", nil, &st)
	if len(st.Pay) != 0 {
		t.Fatalf("paystatus before any payment: %+v", st)
	}
	if e := r.fails(t, "paystatus", []any{"lnbc1garbage"}, CodeInvalidParams); !strings.HasPrefix(e.Message, "Invalid bolt11: ") {
		t.Fatal(e.Message)
	}
	r.fails(t, "paystatus", []any{inv.Bolt11, 1}, CodeInvalidParams)

	// Three attempts of one bolt11: our channel refuses the first (local
	// 204), the destination the second (wrong secret: 203), the third
	// settles.
	huge := append([]hopJSON(nil), route...)
	huge[0].Amount = 1 << 50
	r.ok(t, "sendpay", map[string]any{"route": huge, "payment_hash": inv.PaymentHash, "bolt11": inv.Bolt11, "label": "three"}, nil)
	r.fails(t, "waitsendpay", []any{inv.PaymentHash}, 204)
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": inv.PaymentHash, "bolt11": inv.Bolt11, "label": "three",
		"payment_secret": strings.Repeat("55", 32)}, nil)
	wrong := r.fails(t, "waitsendpay", []any{inv.PaymentHash}, 203)
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": inv.PaymentHash, "bolt11": inv.Bolt11, "label": "three"}, nil)
	var done paymentJSON
	r.ok(t, "waitsendpay", []any{inv.PaymentHash}, &done)
	// A payment without bolt11 is not a pay: not listed.
	bare := r.invoice(t, inv.Destination, amt, nil)
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": bare.PaymentHash, "payment_secret": bare.PaymentSecret}, nil)
	r.ok(t, "waitsendpay", []any{bare.PaymentHash}, nil)

	var raw struct {
		Pay []struct {
			Attempts []map[string]json.RawMessage `json:"attempts"`
		} `json:"pay"`
	}
	res, e := r.call(t, "paystatus", []any{inv.Bolt11})
	if e != nil {
		t.Fatal(e)
	}
	if err := json.Unmarshal(res, &st); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(res, &raw)
	if len(st.Pay) != 1 || len(st.Pay[0].Attempts) != 3 {
		t.Fatalf("paystatus: %s", res)
	}
	p := st.Pay[0]
	if p.Bolt11 != inv.Bolt11 || p.AmountMsat != amt || p.Destination != inv.Destination || p.Label != "three" {
		t.Fatalf("pay: %+v", p)
	}
	timeRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	wantStrategy := []string{"Initial attempt", "Excluded channel " + route[0].Channel + "/" + string(rune('0'+route[0].Direction)), ""}
	for i, a := range p.Attempts {
		if a.Strategy != wantStrategy[i] || !timeRE.MatchString(a.StartTime) || a.State != "completed" || len(a.Route) != len(route) {
			t.Fatalf("attempt %d: %+v", i, a)
		}
	}
	// The ledger keeps when an attempt settled (not when one failed).
	if a := p.Attempts[2]; !timeRE.MatchString(a.EndTime) || a.Duration == nil {
		t.Fatalf("settled attempt: %+v", a)
	}
	if f := p.Attempts[0].Failure; f == nil || f.Code != 204 || !strings.Contains(string(raw.Pay[0].Attempts[0]["failure"]), `"erring_index":0`) {
		t.Fatalf("attempt 0: %s", raw.Pay[0].Attempts[0]["failure"])
	}
	// The 203's failure is waitsendpay's code, message and routing
	// failure object (waitsendpay's data goes on with the payment's
	// fields).
	var f1 struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	json.Unmarshal(raw.Pay[0].Attempts[1]["failure"], &f1)
	if f1.Code != 203 || f1.Message != wrong.Message ||
		!strings.HasPrefix(string(wrong.Data.(json.RawMessage)), strings.TrimSuffix(string(f1.Data), "}")+",") {
		t.Fatalf("attempt 1: %s, waitsendpay said %s", raw.Pay[0].Attempts[1]["failure"], wrong.Data)
	}
	if s := p.Attempts[2].Success; s == nil || s.Preimage != done.Preimage || s.ID != done.ID || p.Attempts[2].Failure != nil {
		t.Fatalf("attempt 2: %+v, payment %+v", p.Attempts[2], done)
	}

	// A pending attempt: state pending, no end.
	held := r.invoice(t, inv.Destination, amt, nil)
	if err := r.n.Hold(mustNode(t, inv.Destination)); err != nil {
		t.Fatal(err)
	}
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": held.PaymentHash, "bolt11": held.Bolt11}, nil)
	st.Pay = nil
	r.ok(t, "paystatus", map[string]any{"bolt11": held.Bolt11}, &st)
	if len(st.Pay) != 1 || len(st.Pay[0].Attempts) != 1 || st.Pay[0].Attempts[0].State != "pending" || st.Pay[0].Attempts[0].EndTime != "" ||
		st.Pay[0].Attempts[0].Failure != nil || st.Pay[0].Attempts[0].Success != nil {
		t.Fatalf("pending: %+v", st)
	}
	r.n.Release(mustNode(t, inv.Destination))
	r.ok(t, "waitsendpay", []any{held.PaymentHash}, nil)
	st.Pay = nil
	r.ok(t, "paystatus", nil, &st)
	if len(st.Pay) != 2 || st.Pay[0].Bolt11 != inv.Bolt11 || st.Pay[1].Bolt11 != held.Bolt11 {
		t.Fatalf("all: %+v", st)
	}
}
