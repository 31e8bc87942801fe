package actors

import (
	"context"
	"testing"
	"time"

	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
)

// Issue: stop and restart with a payment in flight (its HTLC held by the
// destination): the new engine finds the attempt in the ledger's pending
// index, asks the link what became of it, sends nothing, and records the
// settlement when the destination lets go.
func TestEngineRestartInFlight(t *testing.T) {
	r := newEngineRig(t, sub300)
	b := r.invoices(t, 1, 30_000)[0]
	inv, _ := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
	if err := r.n.Hold(inv.Payee); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.e.Pay(ctx, PayRequest{Bolt11: b, Params: payment.DefaultPayParams()}) // cut short by the stop
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, _ := r.l.Pending()
		if len(p) == 1 && r.n.InFlight() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HTLC never got in flight: %d pending, %d in flight", len(p), r.n.InFlight())
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.e.Stop()
	r.l.Close()
	<-done

	r.l, r.e = startEngine(t, r.n, r.dir)
	r.n.Release(inv.Payee)
	rec, err := r.e.WaitSendPay(context.Background(), inv.PaymentHash, nil)
	if err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("after restart: %+v %v", rec, err)
	}
	if d := r.n.Delivered(inv.PaymentHash); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}
	if p, _ := r.l.Pending(); len(p) != 0 {
		t.Fatalf("%d attempts still pending", len(p))
	}
	if r.n.InFlight() != 0 {
		t.Fatalf("%d HTLCs in flight", r.n.InFlight())
	}
	// And pay of the same invoice now answers from the record.
	again, err := r.e.Pay(context.Background(), PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
	if err != nil || again.Status != payment.StatusComplete || *again.Preimage != *rec.Preimage {
		t.Fatalf("pay after recovery: %+v %v", again, err)
	}
}
