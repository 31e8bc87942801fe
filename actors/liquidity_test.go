package actors

import (
	"context"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
)

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The engine's liquidity knowledge: our channels exact from the start; an
// HTLC in flight reserves its amount on every hop until it settles; the
// settlement teaches the remote channels and moves our own balance; and
// what was learned survives a restart through the ledger.
func TestEngineKnowledgeFollowsPayments(t *testing.T) {
	r := newEngineRig(t, sub300)
	k := r.e.Knowledge()
	for _, c := range r.e.Channels() {
		d := ownDir(r.n.Graph(), r.n.Self(), c.SCID)
		got, ok := k.At(r.n.Now()).Channel(d)
		if !ok || !got.Exact || got.Lo != c.Spendable || got.Hi != c.Spendable {
			t.Fatalf("own channel %s at start: %+v %v, want exactly %s", d, got, ok, c.Spendable)
		}
	}
	var b string
	var inv *htlc.Invoice
	for _, cand := range r.invoices(t, 20, 50_000_000) {
		inv, _ = htlc.Decode(cand, htlc.DecodeOptions{Network: htlc.Regtest})
		if rt, err := r.n.Graph().GetRoute(graph.GetRouteParams{FromID: r.n.Self(), ID: inv.Payee, AmountMsat: 50_000_000, RiskFactor: 1}); err == nil && len(rt) >= 2 {
			b = cand
			break
		}
	}
	if b == "" {
		t.Fatal("no payee two hops away")
	}
	if err := r.n.Hold(inv.Payee); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.e.Pay(ctx, PayRequest{Bolt11: b, Params: payment.DefaultPayParams()})
		done <- err
	}()
	var route graph.Route
	eventually(t, "the HTLC in flight and reserved", func() bool {
		p, _ := r.l.Pending()
		if len(p) != 1 || r.n.InFlight() == 0 {
			return false
		}
		route = p[0].Route
		v := k.At(r.n.Now())
		for _, h := range route {
			if c, ok := v.Channel(graph.SCIDDir{SCID: h.Channel, Dir: h.Direction}); !ok || c.Reserved != h.Amount {
				return false
			}
		}
		return true
	})
	r.n.Release(inv.Payee)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	own := graph.SCIDDir{SCID: route[0].Channel, Dir: route[0].Direction}
	after, _ := r.n.Spendable(route[0].Channel)
	eventually(t, "reservations released and our balance moved", func() bool {
		v := k.At(r.n.Now())
		for _, h := range route {
			if c, _ := v.Channel(graph.SCIDDir{SCID: h.Channel, Dir: h.Direction}); c.Reserved != 0 {
				return false
			}
		}
		c, _ := v.Channel(own)
		return c.Exact && c.Lo == after
	})
	remote := graph.SCIDDir{SCID: route[1].Channel, Dir: route[1].Direction}
	learned, ok := k.At(r.n.Now()).Channel(remote)
	if !ok || learned.Exact || learned.Learned.IsZero() {
		t.Fatalf("remote channel %s after the settlement: %+v %v", remote, learned, ok)
	}

	r.e.Stop()
	r.l.Close()
	r.l, r.e = startEngine(t, r.n, r.dir)
	again, ok := r.e.Knowledge().At(r.n.Now()).Channel(remote)
	if !ok || again.Lo != learned.Lo || again.Hi != learned.Hi || !again.Learned.Equal(learned.Learned) {
		t.Fatalf("after a restart %s is %+v %v, want %+v", remote, again, ok, learned)
	}
}
