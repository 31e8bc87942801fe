package simnet

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/payengine/payengine/link"
)

// HTLCs held at a node wait as parked steps, not goroutines: 200 held at
// B leave the goroutine count where it was, and Release lets every one of
// them settle.
func TestHeldHTLCsHoldNoGoroutine(t *testing.T) {
	s := newSmall(t, Options{Seed: 31})
	if err := s.n.Hold(s.b); err != nil {
		t.Fatal(err)
	}
	const k = 200
	before := runtime.NumGoroutine()
	results := make(chan link.Result, k)
	for id := uint64(1); id <= k; id++ {
		p := newPayment(t, s.n, s.route, s.hash, s.secret, id)
		if err := s.n.Link().AddHTLC(context.Background(), p.req, func(r link.Result) { results <- r }); err != nil {
			t.Fatal(err)
		}
	}
	// Each held HTLC holds our channel and A's to B.
	waitFor(t, "every HTLC held at B", func() bool { return s.n.InFlight() == 2*k })
	waitFor(t, "no goroutine per held HTLC", func() bool { return runtime.NumGoroutine() < before+k/10 })
	select {
	case r := <-results:
		t.Fatalf("a held HTLC resolved: %+v", r)
	default:
	}
	s.n.Release(s.b)
	for range k {
		select {
		case r := <-results:
			checkPreimage(t, r, s.hash)
		case <-time.After(30 * time.Second):
			t.Fatal("released HTLCs did not all resolve")
		}
	}
	if d := s.n.Delivered(s.hash); d.Parts != k {
		t.Fatalf("delivered %d parts, want %d", d.Parts, k)
	}
}

// An HTLC waiting out a slow node's delay waits behind a timer; Close
// lets it go on at once, without the rest of the delay, and waits for its
// outcome, as it did for a sleeping HTLC.
func TestCloseCutsADelayShort(t *testing.T) {
	s := newSmall(t, Options{Seed: 32})
	if err := s.n.SetFault(s.c, Fault{Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	p := newPayment(t, s.n, s.route, s.hash, s.secret, 1)
	res := make(chan link.Result, 1)
	if err := s.n.Link().AddHTLC(context.Background(), p.req, func(r link.Result) { res <- r }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the HTLC reaches C", func() bool { return s.n.InFlight() == 3 })
	start := time.Now()
	if err := s.n.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Close took %v", d)
	}
	select {
	case r := <-res:
		checkPreimage(t, r, s.hash)
	default:
		t.Fatal("Close returned before the delayed HTLC's outcome")
	}
	if s.n.InFlight() != 0 {
		t.Fatalf("%d in flight after Close", s.n.InFlight())
	}
}
