package simnet

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

// durableCase is one payment of the durable tests: an invoice and the
// HTLC that pays it over a route of at least two hops.
type durableCase struct {
	hash, secret [32]byte
	dest         graph.NodeID
	p            *payment
}

// durableInvoices has n issue count invoices of amount to seeded
// destinations two hops or more away, with an HTLC built for each.
func durableInvoices(t *testing.T, n *Net, count int, amount graph.MilliSat, firstID uint64) []durableCase {
	t.Helper()
	g := n.Graph()
	var out []durableCase
	for _, dest := range g.Nodes() {
		if len(out) == count {
			break
		}
		if dest == n.Self() {
			continue
		}
		cltv := uint32(DefaultMinFinalCLTV)
		route, err := g.GetRoute(graph.GetRouteParams{ID: dest, FromID: n.Self(), AmountMsat: amount, RiskFactor: 1, CLTV: &cltv})
		if err != nil || len(route) < 2 {
			continue
		}
		bolt11, err := n.Invoice(dest, amount, "durable", 0, n.Now())
		if err != nil {
			t.Fatal(err)
		}
		inv := decode(t, bolt11)
		out = append(out, durableCase{hash: inv.PaymentHash, secret: *inv.PaymentSecret, dest: dest,
			p: newPayment(t, n, route, inv.PaymentHash, inv.PaymentSecret, firstID+uint64(len(out)))})
	}
	if len(out) < count {
		t.Fatalf("only %d destinations two hops away", len(out))
	}
	return out
}

// committed is every channel's balance per side as if every HTLC in
// flight failed: what a durable network keeps on disk.
func committed(n *Net) map[graph.SCID][2]graph.MilliSat {
	out := map[graph.SCID][2]graph.MilliSat{}
	for scid, s := range snapshot(n) {
		out[scid] = [2]graph.MilliSat{s.Balance[0] + s.Pending[0], s.Balance[1] + s.Pending[1]}
	}
	return out
}

// conserved fails unless every channel holds its capacity, in balances
// and HTLCs in flight.
func conserved(t *testing.T, n *Net) {
	t.Helper()
	n.Graph().Channels(func(c graph.ChannelInfo) bool {
		s, _ := n.Channel(c.SCID)
		if got := s.Balance[0] + s.Balance[1] + s.Pending[0] + s.Pending[1]; got != graph.MilliSat(c.Capacity)*1000 {
			t.Errorf("channel %s holds %s, capacity %d sat", c.SCID, got, c.Capacity)
		}
		return true
	})
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %s", what)
		}
	}
}

// reattach asks the link about id and waits for its outcome.
func reattach(t *testing.T, l link.Link, id uint64) link.Result {
	t.Helper()
	ch := make(chan link.Result, 2)
	if err := l.Reattach(context.Background(), link.AddHTLC{ID: id}, func(r link.Result) { ch <- r }); err != nil {
		t.Fatalf("reattach %d: %v", id, err)
	}
	select {
	case r := <-ch:
		select {
		case r2 := <-ch:
			t.Fatalf("reattach %d answered twice: %+v, %+v", id, r, r2)
		case <-time.After(50 * time.Millisecond):
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("reattach %d: no outcome", id)
		return link.Result{}
	}
}

// A durable network is closed, or abandoned as a kill would leave it (a
// Pebble checkpoint of the live store: exactly what its synced writes
// put on disk), and opened again on its directory: balances, invoices
// (paid, unpaid and cancelled), the ground truth and the height carry
// over; new invoices have new preimages and secrets; the HTLC that was in
// flight at a held destination gets exactly one outcome, which Reattach
// returns; every channel still holds its capacity.
func TestDurableRestart(t *testing.T) {
	for _, kill := range []bool{false, true} {
		name := map[bool]string{false: "close", true: "kill"}[kill]
		t.Run(name, func(t *testing.T) { durableRestart(t, kill) })
	}
}

func durableRestart(t *testing.T, kill bool) {
	dir := t.TempDir()
	opts := Options{Seed: 21, Dir: filepath.Join(dir, "run1")}
	n1, err := Load(sub300, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	const amount = 20_000
	height := n1.AdvanceHeight(3)
	cs := durableInvoices(t, n1, 5, amount, 100)
	paid, unpaid, cancelled, held := cs[0:2], cs[2], cs[3], cs[4]
	l1 := n1.Link()
	for _, c := range paid {
		checkPreimage(t, send(t, l1, c.p.req), c.hash)
	}
	if !n1.CancelInvoice(cancelled.hash) {
		t.Fatal("cancel: invoice unknown")
	}
	if err := n1.SetPolicy(n1.LocalChannels()[0], n1.Self(), graph.Policy{BaseMsat: 7, FeePPM: 9, CLTVDelta: 40, HTLCMax: 1 << 40}); err != nil {
		t.Fatal(err)
	}

	// The held payment: its destination sits on it.
	if err := n1.Hold(held.dest); err != nil {
		t.Fatal(err)
	}
	heldDone := make(chan link.Result, 1)
	if err := l1.AddHTLC(context.Background(), held.p.req, func(r link.Result) { heldDone <- r }); err != nil {
		t.Fatal(err)
	}
	// The ground truth counts an HTLC once it is on disk; then its hops
	// take their balance one by one up to the destination.
	waitFor(t, "the held HTLC reaches its destination", func() bool {
		return n1.Delivered(held.hash).HTLCs == 1 && n1.InFlight() == len(held.p.route)
	})
	conserved(t, n1)
	before := committed(n1)

	reopen := opts
	if kill {
		reopen.Dir = filepath.Join(dir, "killed")
		if err := n1.store.db.Checkpoint(reopen.Dir); err != nil {
			t.Fatal(err)
		}
	} else {
		if err := n1.Close(); err != nil {
			t.Fatal(err)
		}
		// Close lets the held HTLC go on: it settles, and its outcome is
		// written before done hears of it.
		checkPreimage(t, <-heldDone, held.hash)
		before = committed(n1)
	}

	// Another seed is another network: its directory is refused.
	other := reopen
	other.Seed++
	if _, err := Load(sub300, other); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("another seed on the directory: %v", err)
	}

	n2, err := Load(sub300, reopen)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if n2.Self() != n1.Self() || n2.Height() != height {
		t.Fatalf("reopened: self %s height %d, want %s %d", n2.Self(), n2.Height(), n1.Self(), height)
	}
	s, _ := n2.Channel(n1.LocalChannels()[0])
	if ours := s.Policy[map[bool]int{true: 0, false: 1}[s.Nodes[0] == n2.Self()]]; ours == nil || ours.BaseMsat != 7 {
		t.Fatalf("SetPolicy lost: %+v", ours)
	}
	if got := committed(n2); len(got) != len(before) {
		t.Fatalf("%d channels, want %d", len(got), len(before))
	} else {
		for scid, b := range before {
			if got[scid] != b {
				t.Errorf("channel %s: %v after the restart, %v before", scid, got[scid], b)
			}
		}
	}
	conserved(t, n2)
	for _, c := range paid {
		if d := n2.Delivered(c.hash); d.Settlements != 1 || d.HTLCs != 1 || d.Amount != amount {
			t.Fatalf("truth of a paid invoice after the restart: %+v", d)
		}
	}
	if kill {
		// The held HTLC holds our channel again, and nothing else, until
		// the link comes up.
		if d := n2.Delivered(held.hash); d.HTLCs != 1 || d.Settlements != 0 {
			t.Fatalf("truth of the held HTLC at reopening: %+v", d)
		}
		if n2.InFlight() != 1 {
			t.Fatalf("%d HTLCs in flight at reopening, want the held one on our channel", n2.InFlight())
		}
	}

	l2 := n2.Link()
	res := reattach(t, l2, held.p.req.ID)
	checkPreimage(t, res, held.hash)
	if res.ID != held.p.req.ID {
		t.Fatalf("reattach answered id %d", res.ID)
	}
	waitFor(t, "no HTLC in flight", func() bool { return n2.InFlight() == 0 })
	if d := n2.Delivered(held.hash); d.Settlements != 1 || d.HTLCs != 1 || d.Amount != amount {
		t.Fatalf("truth of the held HTLC: %+v, want settled once", d)
	}
	conserved(t, n2)
	// Outcomes of the earlier run are still there.
	for _, c := range paid {
		checkPreimage(t, reattach(t, l2, c.p.req.ID), c.hash)
	}
	if err := l2.Reattach(context.Background(), link.AddHTLC{ID: 99}, func(link.Result) {}); !errors.Is(err, link.ErrUnknownHTLC) {
		t.Fatalf("reattach of an id never taken: %v", err)
	}

	// The unpaid invoice is still known and settles; the cancelled one
	// stays cancelled.
	checkPreimage(t, send(t, l2, withID(unpaid.p.req, 200)), unpaid.hash)
	if r := send(t, l2, withID(cancelled.p.req, 201)); r.Preimage != nil {
		t.Fatal("the cancelled invoice settled after the restart")
	}
	conserved(t, n2)

	// New invoices: new hashes and secrets, though the seed is the same.
	seen := map[[32]byte]bool{}
	for _, c := range cs {
		seen[c.hash], seen[c.secret] = true, true
	}
	for _, c := range durableInvoices(t, n2, 5, amount, 300) {
		if seen[c.hash] || seen[c.secret] {
			t.Fatalf("invoice after the restart repeats a hash or secret: %x", c.hash)
		}
		checkPreimage(t, send(t, l2, c.p.req), c.hash)
	}
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}

	// A third run: what the second one did is there too.
	n3, err := Load(sub300, reopen)
	if err != nil {
		t.Fatal(err)
	}
	defer n3.Close()
	if d := n3.Delivered(held.hash); d.Settlements != 1 || d.HTLCs != 1 {
		t.Fatalf("truth of the held HTLC in the third run: %+v", d)
	}
	if d := n3.Delivered(unpaid.hash); d.Settlements != 1 {
		t.Fatalf("truth of the invoice paid in the second run: %+v", d)
	}
	if got, want := committed(n3), committed(n2); len(got) != len(want) {
		t.Fatal("channels differ")
	} else {
		for scid := range want {
			if got[scid] != want[scid] {
				t.Errorf("channel %s: %v in the third run, %v at the end of the second", scid, got[scid], want[scid])
			}
		}
	}
	checkPreimage(t, reattach(t, n3.Link(), held.p.req.ID), held.hash)
}

// withID is req under another HTLC id.
func withID(req link.AddHTLC, id uint64) link.AddHTLC {
	req.ID = id
	return req
}

// A durable network's records read back as they were written.
func TestDurableRecords(t *testing.T) {
	pre := [32]byte{1, 2}
	for _, r := range []link.Result{
		{ID: 1, Preimage: &pre},
		{ID: 2, Reason: []byte{9, 8, 7}},
		{ID: 3, Reason: []byte{}},
		{ID: 4, Malformed: &link.Malformed{Code: 0xc005, OnionHash: [32]byte{4}}},
		{ID: 5, Local: errors.Join(link.ErrInsufficientBalance, errors.New("x"))},
		{ID: 6, Local: errors.New("other")},
	} {
		got, err := decodeResult(r.ID, encodeResult(r))
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		switch {
		case r.Preimage != nil && (got.Preimage == nil || *got.Preimage != *r.Preimage),
			r.Reason != nil && string(got.Reason) != string(r.Reason) || (r.Reason == nil) != (got.Reason == nil),
			r.Malformed != nil && (got.Malformed == nil || *got.Malformed != *r.Malformed),
			r.Local != nil && (got.Local == nil || got.Local.Error() != r.Local.Error() ||
				errors.Is(r.Local, link.ErrInsufficientBalance) != errors.Is(got.Local, link.ErrInsufficientBalance)):
			t.Fatalf("%+v read back as %+v", r, got)
		}
	}
	if _, err := decodeResult(1, []byte{recordVersion, 9}); !errors.Is(err, errCorrupt) {
		t.Fatalf("unknown kind: %v", err)
	}
	req := link.AddHTLC{ID: 7, Channel: 5, Amount: 1234, Expiry: 99, PaymentHash: [32]byte{3}}
	req.Onion[0], req.Onion[link.OnionSize-1] = 1, 2
	if got, err := decodeHTLC(7, encodeHTLC(&req)); err != nil || !reflect.DeepEqual(got, req) {
		t.Fatalf("htlc read back as %+v, %v", got, err)
	}
	if _, err := decodeHTLC(7, encodeHTLC(&req)[:100]); !errors.Is(err, errCorrupt) {
		t.Fatalf("short htlc: %v", err)
	}
	inv := storedInvoice{inv: invoice{node: 3, amount: 5, preimage: pre, secret: [32]byte{6}, minFinal: 18, expires: 77, draw: 4}, cancelled: true}
	if got, err := decodeInvoice(encodeInvoice(inv)); err != nil || got != inv {
		t.Fatalf("invoice read back as %+v, %v", got, err)
	}
	p := graph.Policy{BaseMsat: 1, FeePPM: 2, CLTVDelta: 3, HTLCMin: 4, HTLCMax: 5, Disabled: true, LastUpdate: 6}
	if got, err := decodePolicy(encodePolicy(p)); err != nil || got != p {
		t.Fatalf("policy read back as %+v, %v", got, err)
	}
	a, b := invoiceDraw([32]byte{}, 1, 0)
	c, d := invoiceDraw([32]byte{}, 1, 1)
	e, _ := invoiceDraw([32]byte{}, 2, 0)
	f, _ := invoiceDraw([32]byte{1}, 1, 0)
	if a == c || a == b || a == e || b == d || a == f {
		t.Fatal("invoice draws repeat")
	}
}

// An in-memory network is unchanged: no store, and an id it never took
// is unknown to Reattach.
func TestInMemoryHasNoStore(t *testing.T) {
	n, err := Load(sub300, Options{Seed: 21})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.store != nil {
		t.Fatal("an in-memory network opened a store")
	}
	if err := n.Link().Reattach(context.Background(), link.AddHTLC{ID: 1}, func(link.Result) {}); !errors.Is(err, link.ErrUnknownHTLC) {
		t.Fatal(err)
	}
}

// Two directories of the same seed issue different invoices: a network
// state deleted while a ledger that saw its payment hashes stays cannot
// hand them out again.
func TestDurableDirectoriesDiffer(t *testing.T) {
	var hashes [][32]byte
	for i := range 2 {
		n, err := Load(sub300, Options{Seed: 21, Dir: filepath.Join(t.TempDir(), "net")})
		if err != nil {
			t.Fatal(err)
		}
		bolt11, err := n.Invoice(n.Graph().Nodes()[0], 1000, "", 0, DefaultStartTime)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, decode(t, bolt11).PaymentHash)
		if err := n.Close(); err != nil {
			t.Fatal(i, err)
		}
	}
	if hashes[0] == hashes[1] {
		t.Fatal("two directories of one seed issued the same first invoice")
	}
}

// Many HTLCs in flight at once (each hop 10 to 30 ms) when a durable
// network is killed (a checkpoint of its live store): after the restart
// every HTLC has exactly one outcome, its destination settled exactly when
// that outcome is a preimage, an HTLC whose take had not reached the disk
// is unknown (and moved nothing), and every channel holds its capacity.
func TestDurableKillMany(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Seed: 23, Dir: filepath.Join(dir, "run1"), HopLatency: 10 * time.Millisecond, HopJitter: 20 * time.Millisecond}
	n1, err := Load(sub300, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	cs := durableInvoices(t, n1, 40, 20_000, 1000)
	l1 := n1.Link()
	for _, c := range cs {
		if err := l1.AddHTLC(context.Background(), c.p.req, func(link.Result) {}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(40 * time.Millisecond)
	killed := opts
	killed.Dir = filepath.Join(dir, "killed")
	if err := n1.store.db.Checkpoint(killed.Dir); err != nil {
		t.Fatal(err)
	}

	n2, err := Load(sub300, killed)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	conserved(t, n2)
	resumed := n2.InFlight() // each holds our channel until the link is up
	l2 := n2.Link()
	var known, settled, unknown int
	for _, c := range cs {
		ch := make(chan link.Result, 2)
		err := l2.Reattach(context.Background(), c.p.req, func(r link.Result) { ch <- r })
		d := n2.Delivered(c.hash)
		if errors.Is(err, link.ErrUnknownHTLC) {
			unknown++
			if d != (Delivery{}) {
				t.Fatalf("HTLC %d is unknown, yet the truth has %+v", c.p.req.ID, d)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		known++
		var r link.Result
		select {
		case r = <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("HTLC %d: no outcome", c.p.req.ID)
		}
		waitFor(t, "the truth of a settled HTLC", func() bool {
			return r.Preimage == nil || n2.Delivered(c.hash).Settlements == 1
		})
		d = n2.Delivered(c.hash)
		if d.HTLCs != 1 || (r.Preimage != nil) != (d.Settlements == 1) || d.Settlements > 1 {
			t.Fatalf("HTLC %d: outcome %+v, truth %+v", c.p.req.ID, r, d)
		}
		if r.Preimage != nil {
			checkPreimage(t, r, c.hash)
			settled++
		}
	}
	waitFor(t, "no HTLC in flight", func() bool { return n2.InFlight() == 0 })
	conserved(t, n2)
	t.Logf("%d HTLCs: %d known at the restart (%d settled, %d of them resumed), %d not yet on disk at the kill",
		len(cs), known, settled, resumed, unknown)
	if resumed == 0 {
		t.Fatal("no HTLC was in flight at the kill: the test proves nothing")
	}
}

// A state directory with a record that cannot be right is refused with
// an error, never a panic: a short key, balance moves that do not add up
// to zero, an HTLC record cut short.
func TestDurableCorruptState(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   storeOp
	}{
		{"short channel key", storeOp{kind: opSet, key: []byte{prefixChannel, 1}, value: int64s(0, 0)}},
		{"money made", storeOp{kind: opMerge, key: key8(prefixChannel, 0), value: int64s(5, 0)}},
		{"short htlc", storeOp{kind: opSet, key: key8(prefixPending, 1), value: []byte{recordVersion, 1}}},
		{"short policy key", storeOp{kind: opSet, key: []byte{prefixPolicy}, value: nil}},
	} {
		op := tc.op
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "net")
			n, err := Load(sub300, Options{Seed: 21, Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if op.key[0] == prefixChannel && len(op.key) == 9 {
				op.key = key8(prefixChannel, uint64(n.LocalChannels()[0]))
			}
			if err := n.store.write(op); err != nil {
				t.Fatal(err)
			}
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(sub300, Options{Seed: 21, Dir: dir}); !errors.Is(err, errCorrupt) {
				t.Fatalf("reopened: %v", err)
			}
		})
	}
}
