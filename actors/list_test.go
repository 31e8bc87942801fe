package actors

import (
	"context"
	"testing"

	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
)

// Spec sections 7 and 10: listsendpays in insertion order, by hash or by
// bolt11 (not both), and listpays rows.
func TestEngineLists(t *testing.T) {
	r := newEngineRig(t, sub300)
	ctx := context.Background()
	bolts := r.invoices(t, 3, 15_000)
	var hashes [][32]byte
	for _, b := range bolts {
		if _, err := r.e.Pay(ctx, PayRequest{Bolt11: b, Label: "l", Params: payment.DefaultPayParams()}); err != nil {
			t.Fatal(err)
		}
		inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
		hashes = append(hashes, inv.PaymentHash)
	}
	all, err := r.e.ListSendPays("", nil)
	if err != nil || len(all) != 3 {
		t.Fatalf("listsendpays: %d rows, %v", len(all), err)
	}
	for i, rec := range all {
		if rec.Hash != hashes[i] || rec.Status != payment.StatusComplete || rec.Bolt11 != bolts[i] || rec.Label != "l" || rec.Amount != 15_000 {
			t.Errorf("row %d: %+v", i, rec)
		}
	}
	one, err := r.e.ListSendPays("", &hashes[1])
	if err != nil || len(one) != 1 || one[0].Hash != hashes[1] {
		t.Fatalf("by hash: %+v %v", one, err)
	}
	byBolt, err := r.e.ListSendPays(bolts[2], nil)
	if err != nil || len(byBolt) != 1 || byBolt[0].Hash != hashes[2] {
		t.Fatalf("by bolt11: %+v %v", byBolt, err)
	}
	if _, err := r.e.ListSendPays(bolts[0], &hashes[0]); code(err) != payment.CodeInvalidParams {
		t.Fatalf("both: %v", err)
	}
	if _, err := r.e.ListSendPays("lnbcrt1nope", nil); code(err) != payment.CodeInvalidParams {
		t.Fatalf("bad bolt11: %v", err)
	}
	unknown := [32]byte{42}
	if none, err := r.e.ListSendPays("", &unknown); err != nil || len(none) != 0 {
		t.Fatalf("unknown hash: %+v %v", none, err)
	}
	pays, err := r.e.ListPays(bolts[0], nil)
	if err != nil || len(pays) != 1 || pays[0].Status != payment.StatusComplete || pays[0].Preimage == nil || pays[0].AmountSent < 15_000 {
		t.Fatalf("listpays: %+v %v", pays, err)
	}
	if allPays, err := r.e.ListPays("", nil); err != nil || len(allPays) != 3 {
		t.Fatalf("listpays all: %d %v", len(allPays), err)
	}
}
