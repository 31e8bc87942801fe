package actors

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
)

// payResult is what PayAsync's done was given.
type payResult struct {
	rec *payment.Record
	err error
}

// payAsync starts a pay with PayAsync and returns where its one answer
// comes (buffered for more, so a second answer would show).
func payAsync(t *testing.T, r *engineRig, ctx context.Context, bolt string) <-chan payResult {
	t.Helper()
	out := make(chan payResult, 2)
	err := r.e.PayAsync(ctx, PayRequest{Bolt11: bolt, Params: payment.DefaultPayParams()},
		func(rec *payment.Record, err error) { out <- payResult{rec, err} })
	if err != nil {
		t.Fatalf("PayAsync: %v", err)
	}
	return out
}

// one reads the single answer of a PayAsync, and checks no second comes.
func one(t *testing.T, ch <-chan payResult) payResult {
	t.Helper()
	var res payResult
	select {
	case res = <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("PayAsync never answered")
	}
	select {
	case again := <-ch:
		t.Fatalf("PayAsync answered twice: %+v, then %+v", res, again)
	case <-time.After(100 * time.Millisecond):
	}
	return res
}

// PayAsync answers what Pay answers, without a goroutine of the caller's
// waiting: the paid record; an invalid invoice at once, as its error; the
// context's end or the engine's stop while the HTLC is held, after which
// the payment goes on as Pay's would.
func TestEnginePayAsync(t *testing.T) {
	r := newEngineRig(t, sub300)
	bolts := r.invoices(t, 3, 20_000)

	res := one(t, payAsync(t, r, context.Background(), bolts[0]))
	if res.err != nil || res.rec.Status != payment.StatusComplete || res.rec.Preimage == nil {
		t.Fatalf("pay: %+v %v", res.rec, res.err)
	}
	inv0, _ := htlc.Decode(bolts[0], htlc.DecodeOptions{Network: htlc.Regtest})
	if d := r.n.Delivered(inv0.PaymentHash); d.Settlements != 1 {
		t.Fatalf("settled %d times", d.Settlements)
	}
	again, err := r.e.Pay(context.Background(), PayRequest{Bolt11: bolts[0], Params: payment.DefaultPayParams()})
	if err != nil || *again.Preimage != *res.rec.Preimage {
		t.Fatalf("Pay of the invoice PayAsync paid: %+v %v", again, err)
	}

	called := false
	err = r.e.PayAsync(context.Background(), PayRequest{Bolt11: "lnbcrt1garbage", Params: payment.DefaultPayParams()},
		func(*payment.Record, error) { called = true })
	if code(err) != payment.CodeInvalidParams || called {
		t.Fatalf("garbage bolt11: %v, done called: %v", err, called)
	}

	// The context ends while the HTLC is held: done hears of it, and the
	// payment completes once the payee lets go.
	inv1, _ := htlc.Decode(bolts[1], htlc.DecodeOptions{Network: htlc.Regtest})
	if err := r.n.Hold(inv1.Payee); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := payAsync(t, r, ctx, bolts[1])
	waitFor(t, func() bool { return r.n.InFlight() > 0 })
	cancel()
	if res := one(t, ch); !errors.Is(res.err, context.Canceled) || res.rec != nil {
		t.Fatalf("cancelled: %+v %v", res.rec, res.err)
	}
	r.n.Release(inv1.Payee)
	rec, err := r.e.WaitSendPay(context.Background(), inv1.PaymentHash, nil)
	if err != nil || rec.Status != payment.StatusComplete {
		t.Fatalf("the cancelled caller's payment: %+v %v", rec, err)
	}
	waitFor(t, func() bool { return r.e.Live() == 0 })

	// The engine stops while the HTLC is held: done gets ErrStopped, and a
	// later PayAsync is refused at once.
	inv2, _ := htlc.Decode(bolts[2], htlc.DecodeOptions{Network: htlc.Regtest})
	if err := r.n.Hold(inv2.Payee); err != nil {
		t.Fatal(err)
	}
	defer r.n.Release(inv2.Payee)
	ch = payAsync(t, r, context.Background(), bolts[2])
	waitFor(t, func() bool { return r.n.InFlight() > 0 })
	r.e.Stop()
	if res := one(t, ch); !errors.Is(res.err, ErrStopped) {
		t.Fatalf("stopped: %+v %v", res.rec, res.err)
	}
	err = r.e.PayAsync(context.Background(), PayRequest{Bolt11: bolts[2], Params: payment.DefaultPayParams()},
		func(*payment.Record, error) { called = true })
	if !errors.Is(err, ErrStopped) || called {
		t.Fatalf("PayAsync after Stop: %v, done called: %v", err, called)
	}
}
