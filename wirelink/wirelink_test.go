package wirelink

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/simnet"
)

// send adds req through l and waits for its outcome.
func send(t testing.TB, l link.Link, req link.AddHTLC) link.Result {
	t.Helper()
	ch := make(chan link.Result, 1)
	if err := l.AddHTLC(context.Background(), req, func(r link.Result) { ch <- r }); err != nil {
		t.Fatalf("AddHTLC %d: %v", req.ID, err)
	}
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("htlc %d: no outcome after 30s", req.ID)
		return link.Result{}
	}
}

// Payments through the socket end exactly as through Net.Link() on a twin
// network (same seed, same invoices, same onions): the same preimages and
// failure onions, one settlement per hash.
func TestSettleLikeDirect(t *testing.T) {
	const seed = 1
	direct, err := simnet.Load(sub300, simnet.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	r := newRig(t, simnet.Options{Seed: seed})
	c := dial(t, r.path, Options{Seed: seed})
	want := payments(t, direct, 20, seed, 2_000_000, false)
	got := payments(t, r.n, 20, seed, 2_000_000, false)
	settles := 0
	for i := range want {
		if !reflect.DeepEqual(want[i].req, got[i].req) {
			t.Fatalf("payment %d differs between the twin networks", i)
		}
		w := send(t, direct.Link(), want[i].req)
		g := send(t, c, got[i].req)
		sameResult(t, g, w)
		if w.Preimage != nil {
			settles++
			settled(t, g, got[i].req.PaymentHash)
		}
		if d := r.n.Delivered(got[i].req.PaymentHash); d.Settlements != direct.Delivered(want[i].req.PaymentHash).Settlements {
			t.Fatalf("payment %d: delivered %+v through the socket", i, d)
		}
	}
	if settles < 10 {
		t.Fatalf("only %d of 20 payments settled: the test proves little", settles)
	}
	if r.n.InFlight() != 0 || c.Stats().Pending != 0 {
		t.Fatalf("%d htlcs in flight, %d pending at the client", r.n.InFlight(), c.Stats().Pending)
	}
	eventually(t, "the server to forget delivered outcomes", func() bool { return r.srv.s.Stats().Kept == 0 })
}

// Every kind of failure comes back as the backend reported it: the failure
// onion byte for byte (and readable by the payer), malformed with its code
// and hash, and local refusals as the same link errors with the same text.
func TestFailuresIdentical(t *testing.T) {
	r := newRig(t, simnet.Options{Seed: 3, MaxHTLCs: 1})
	c := dial(t, r.path, Options{})
	ps := payments(t, r.n, 4, 3, 1_000_000, true)
	check := func(name string, req link.AddHTLC, ok func(link.Result) bool) link.Result {
		t.Helper()
		res := send(t, c, req)
		want, found := r.rec.result(req.ID)
		if !found {
			t.Fatalf("%s: the backend reported nothing", name)
		}
		sameResult(t, res, want)
		if !ok(res) {
			t.Fatalf("%s: unexpected outcome %+v", name, res)
		}
		return res
	}

	// An unknown payment hash: the destination fails it, encrypted.
	req := ps[0].req
	req.PaymentHash[0] ^= 1
	req.ID = 100
	o, err := htlc.BuildOnion(htlc.OnionParams{Route: ps[0].route, PaymentHash: req.PaymentHash,
		BlockHeight: r.n.Height()}, seededReader{rand.New(rand.NewPCG(3, 100))})
	if err != nil {
		t.Fatal(err)
	}
	req.Onion = o.Packet
	res := check("unknown hash", req, func(r link.Result) bool { return len(r.Reason) > 0 })
	f, err := htlc.ReadFailure(r.n.Self(), ps[0].route, o.Circuit, res.Reason)
	if err != nil || f.Routing == nil || f.Routing.FailCode != lnwire.CodeIncorrectOrUnknownPaymentDetails {
		t.Fatalf("unknown hash: failure %+v %v", f, err)
	}

	// A garbage failure onion: unreadable, but the same bytes.
	if err := r.n.SetFault(ps[1].dest, simnet.Fault{Garbage: true}); err != nil {
		t.Fatal(err)
	}
	check("garbage", ps[1].req, func(r link.Result) bool { return r.Reason != nil })

	// A corrupted onion: the first hop answers malformed.
	req = ps[2].req
	req.Onion[200] ^= 1
	check("malformed", req, func(r link.Result) bool {
		return r.Malformed != nil && r.Malformed.Code == lnwire.CodeInvalidOnionHmac
	})

	// Local refusals, each mapped back to its link error.
	req = ps[3].req
	req.ID, req.Channel = 101, graph.NewSCID(1, 2, 3) // not ours
	check("unknown channel", req, func(r link.Result) bool { return errors.Is(r.Local, link.ErrUnknownChannel) })
	req = ps[3].req
	req.ID, req.Amount = 102, simnet.DefaultLocalCapacity*1000+1
	check("insufficient balance", req, func(r link.Result) bool { return errors.Is(r.Local, link.ErrInsufficientBalance) })

	// One slot per channel: hold one HTLC, the next on its channel is
	// refused for want of a slot.
	if err := r.n.Hold(ps[3].dest); err != nil {
		t.Fatal(err)
	}
	first := newOutcomes()
	if err := c.AddHTLC(context.Background(), ps[3].req, first.done); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first htlc to be held", func() bool { return r.n.InFlight() == len(ps[3].route) })
	req = ps[3].req
	req.ID = 103
	check("no slot", req, func(r link.Result) bool { return errors.Is(r.Local, link.ErrTooManyHTLCs) })
	r.n.Release(ps[3].dest)
	first.wait(t, []uint64{ps[3].req.ID})
	settled(t, first.result(ps[3].req.ID), ps[3].req.PaymentHash)
}

// 1,000 HTLCs from 16 goroutines through one client (run with -race): each
// done is called once with what the backend reported, each HTLC reached
// the backend once, and the destinations settled exactly what the client
// saw settle. Every fourth HTLC carries a hash its onion does not commit
// to, which the node answers malformed, and every fourth names a channel
// that is not ours, which our side refuses. The payments go to our peers,
// one onion to peel each, so that -race stays quick.
func TestConcurrent(t *testing.T) {
	const total, workers = 1000, 16
	r := newRig(t, simnet.Options{Seed: 5})
	c := dial(t, r.path, Options{})
	ps := direct(t, r.n, 40, 5, 10_000)
	payment := func(id uint64) link.AddHTLC {
		req := ps[id%uint64(len(ps))].req
		req.ID = id
		switch id % 4 {
		case 0:
			req.PaymentHash[31] ^= 1
		case 1:
			req.Channel = graph.NewSCID(1, 2, 3)
		}
		return req
	}
	out := newOutcomes()
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := uint64(w + 1); id <= total; id += workers {
				if err := c.AddHTLC(context.Background(), payment(id), out.done); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := make([]uint64, total)
	for i := range all {
		all[i] = uint64(i + 1)
	}
	out.wait(t, all)
	perHash := map[[32]byte]int{}
	settles, malformed, local := 0, 0, 0
	for _, id := range all {
		want, _ := r.rec.result(id)
		sameResult(t, out.result(id), want)
		if out.count(id) != 1 || r.rec.added(id) != 1 {
			t.Fatalf("htlc %d: %d outcomes, added %d times", id, out.count(id), r.rec.added(id))
		}
		switch {
		case want.Preimage != nil:
			settled(t, want, payment(id).PaymentHash)
			perHash[payment(id).PaymentHash]++
			settles++
		case want.Malformed != nil:
			malformed++
		case errors.Is(want.Local, link.ErrUnknownChannel):
			local++
		}
	}
	for _, p := range ps {
		if d := r.n.Delivered(p.req.PaymentHash); d.Settlements != perHash[p.req.PaymentHash] {
			t.Fatalf("hash %x: delivered %d times, the client saw %d", p.req.PaymentHash[:4], d.Settlements,
				perHash[p.req.PaymentHash])
		}
	}
	if settles != total/2 || malformed != total/4 || local != total/4 {
		t.Fatalf("%d settled, %d malformed, %d refused of %d", settles, malformed, local, total)
	}
}

// ErrDuplicateID: an id in flight at this client is refused without
// reaching the server; an id in flight at the server (added by a client
// since gone) is refused by it; both are errors, and done is not called.
func TestDuplicateID(t *testing.T) {
	r := newRig(t, simnet.Options{Seed: 6})
	ps := payments(t, r.n, 1, 6, 50_000, true)
	hops := held(t, r.n, ps)
	old := dial(t, r.path, Options{})
	out := newOutcomes()
	if err := old.AddHTLC(context.Background(), ps[0].req, out.done); err != nil {
		t.Fatal(err)
	}
	err := old.AddHTLC(context.Background(), ps[0].req, out.done)
	if !errors.Is(err, link.ErrDuplicateID) || r.rec.added(ps[0].req.ID) != 1 {
		t.Fatalf("same id at the same client: %v, added %d times", err, r.rec.added(ps[0].req.ID))
	}
	eventually(t, "the htlc to be held", func() bool { return r.n.InFlight() == hops })
	old.Close()
	c := dial(t, r.path, Options{})
	other := newOutcomes()
	err = c.AddHTLC(context.Background(), ps[0].req, other.done)
	if !errors.Is(err, link.ErrDuplicateID) {
		t.Fatalf("same id at the server: %v", err)
	}
	r.n.Release(ps[0].dest)
	eventually(t, "the backend to settle", func() bool { _, ok := r.rec.result(ps[0].req.ID); return ok })
	time.Sleep(50 * time.Millisecond)
	if out.count(ps[0].req.ID) != 0 || other.count(ps[0].req.ID) != 0 {
		t.Fatalf("done called for a closed client (%d) or a refused add (%d)", out.count(ps[0].req.ID),
			other.count(ps[0].req.ID))
	}
	if d := r.n.Delivered(ps[0].req.PaymentHash); d.Settlements != 1 {
		t.Fatalf("delivered %+v", d)
	}
}

// A new client (a restarted daemon) finds through Reattach the HTLCs an
// old client added: those that resolved while no client was connected and
// those still held; an id never added is unknown.
func TestReattachNewClient(t *testing.T) {
	r := newRig(t, simnet.Options{Seed: 7})
	ps := payments(t, r.n, 10, 7, 30_000, true)
	hops := held(t, r.n, ps)
	old := dial(t, r.path, Options{})
	gone := newOutcomes()
	for _, p := range ps {
		if err := old.AddHTLC(context.Background(), p.req, gone.done); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every htlc to be held", func() bool { return r.n.InFlight() == hops })
	old.Close()
	for _, p := range ps[:5] {
		r.n.Release(p.dest)
	}
	eventually(t, "half to settle", func() bool {
		for _, p := range ps[:5] {
			if _, ok := r.rec.result(p.req.ID); !ok {
				return false
			}
		}
		return true
	})
	c := dial(t, r.path, Options{})
	out := newOutcomes()
	for _, p := range ps {
		if err := c.Reattach(context.Background(), link.AddHTLC{ID: p.req.ID}, out.done); err != nil {
			t.Fatalf("reattach %d: %v", p.req.ID, err)
		}
	}
	if err := c.Reattach(context.Background(), link.AddHTLC{ID: 9999}, out.done); !errors.Is(err, link.ErrUnknownHTLC) {
		t.Fatalf("reattach of an id never added: %v", err)
	}
	out.wait(t, ids(ps[:5]))
	for _, p := range ps[5:] {
		r.n.Release(p.dest)
	}
	out.wait(t, ids(ps))
	for _, p := range ps {
		id := p.req.ID
		settled(t, out.result(id), p.req.PaymentHash)
		if out.count(id) != 1 || gone.count(id) != 0 || r.rec.added(id) != 1 {
			t.Fatalf("htlc %d: %d outcomes, %d to the closed client, added %d times", id, out.count(id),
				gone.count(id), r.rec.added(id))
		}
		if d := r.n.Delivered(p.req.PaymentHash); d.Settlements != 1 {
			t.Fatalf("htlc %d: delivered %+v", id, d)
		}
	}
}

// A context cancelled before the add is an error and nothing is sent; so
// is one that ends while the client waits for a connection, and so is a
// wait past ConnectWait. What failed is never sent after reconnecting.
func TestContextAndDisconnect(t *testing.T) {
	r := newRig(t, simnet.Options{Seed: 8})
	ps := payments(t, r.n, 4, 8, 30_000, true)
	c := dial(t, r.path, Options{ConnectWait: 300 * time.Millisecond})
	out := newOutcomes()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.AddHTLC(ctx, ps[0].req, out.done); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	r.srv.stop()
	eventually(t, "the client to notice", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.cur == nil })
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.AddHTLC(ctx, ps[1].req, out.done); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline while disconnected: %v", err)
	}
	start := time.Now()
	if err := c.AddHTLC(context.Background(), ps[2].req, out.done); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("disconnected past ConnectWait: %v", err)
	}
	if err := c.Reattach(context.Background(), link.AddHTLC{ID: 1}, out.done); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("reattach disconnected past ConnectWait: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("failing took %v", d)
	}
	r.srv = startServer(t, r.path, r.rec, ServerOptions{})
	eventually(t, "a reconnect", func() bool { return c.Stats().Connects == 2 })
	settled(t, send(t, c, ps[3].req), ps[3].req.PaymentHash)
	for _, p := range ps[:3] {
		if r.rec.added(p.req.ID) != 0 || out.count(p.req.ID) != 0 {
			t.Fatalf("htlc %d was sent (%d) or answered (%d)", p.req.ID, r.rec.added(p.req.ID), out.count(p.req.ID))
		}
	}
}

// Close: in-flight callbacks are dropped, later calls fail with
// ErrClosed, a second Close is harmless, and no goroutine is left behind.
func TestClose(t *testing.T) {
	r := newRig(t, simnet.Options{Seed: 9})
	ps := payments(t, r.n, 2, 9, 30_000, true)
	hops := held(t, r.n, ps[:1])
	c := dial(t, r.path, Options{})
	out := newOutcomes()
	if err := c.AddHTLC(context.Background(), ps[0].req, out.done); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the htlc to be held", func() bool { return r.n.InFlight() == hops })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	noGoroutines(t, "*Client")
	if err := c.AddHTLC(context.Background(), ps[1].req, out.done); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("AddHTLC after Close: %v", err)
	}
	if err := c.Reattach(context.Background(), link.AddHTLC{ID: ps[0].req.ID}, out.done); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Reattach after Close: %v", err)
	}
	r.n.Release(ps[0].dest)
	eventually(t, "the backend to settle", func() bool { _, ok := r.rec.result(ps[0].req.ID); return ok })
	time.Sleep(20 * time.Millisecond)
	if out.count(ps[0].req.ID) != 0 || r.rec.added(ps[1].req.ID) != 0 {
		t.Fatalf("done called after Close (%d) or an add after Close sent (%d)", out.count(ps[0].req.ID),
			r.rec.added(ps[1].req.ID))
	}
	// The outcome waits at the server for whoever asks.
	if st := r.srv.s.Stats(); st.Kept != 1 {
		t.Fatalf("server keeps %d outcomes, want 1", st.Kept)
	}
	r.srv.stop()
	noGoroutines(t, "*Client", "*Server", "*conn")
}

// The same protocol runs over TCP.
func TestTCP(t *testing.T) {
	n, err := simnet.Load(sub300, simnet.Options{Seed: 15})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, n.Link(), ServerOptions{Logger: quiet}) }()
	c, err := Dial(context.Background(), "tcp", l.Addr().String(), Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ps := direct(t, n, 1, 15, 25_000)
	settled(t, send(t, c, ps[0].req), ps[0].req.PaymentHash)
	c.Close()
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	noGoroutines(t, "*Client", "*Server", "*conn")
}
