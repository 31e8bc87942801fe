package simnet

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
)

// mppCase is an invoice of its parts' sum and one route per part to its
// destination, each leaving by another of our channels.
type mppCase struct {
	dest   graph.NodeID
	hash   [32]byte
	secret [32]byte
	total  graph.MilliSat
	routes []graph.Route
	parts  []graph.MilliSat
}

// mppInvoice finds a destination two hops or more away that len(parts)
// routes reach over distinct first channels, every hop's sender holding
// at least the whole total (so the parts cannot fail for balance), and has
// it issue an invoice for the sum of the parts.
func mppInvoice(t *testing.T, n *Net, parts ...graph.MilliSat) *mppCase {
	t.Helper()
	var total graph.MilliSat
	for _, p := range parts {
		total += p
	}
	g := n.Graph()
	cltv := uint32(DefaultMinFinalCLTV)
	for _, dest := range g.Nodes() {
		if dest == n.Self() {
			continue
		}
		var routes []graph.Route
		var exclude []graph.Exclusion
		for _, amt := range parts {
			route, err := g.GetRoute(graph.GetRouteParams{ID: dest, FromID: n.Self(), AmountMsat: amt, RiskFactor: 1,
				CLTV: &cltv, Exclude: exclude})
			if err != nil || len(route) < 2 || !carries(n, route, total) {
				break
			}
			routes = append(routes, route)
			exclude = append(exclude, graph.ExcludeChannel(graph.SCIDDir{SCID: route[0].Channel, Dir: graph.Direction(n.Self(), route[0].ID)}))
		}
		if len(routes) < len(parts) {
			continue
		}
		bolt11, err := n.Invoice(dest, total, "mpp", 0, n.Now())
		if err != nil {
			t.Fatal(err)
		}
		inv := decode(t, bolt11)
		return &mppCase{dest: dest, hash: inv.PaymentHash, secret: *inv.PaymentSecret, total: total, routes: routes, parts: parts}
	}
	t.Fatalf("no destination with %d routes", len(parts))
	return nil
}

// carries reports whether every hop's sender holds at least amt.
func carries(n *Net, route graph.Route, amt graph.MilliSat) bool {
	prev := n.Self()
	for _, hop := range route {
		s, _ := n.Channel(hop.Channel)
		if s.Balance[graph.Direction(prev, hop.ID)] < amt+hop.Amount {
			return false
		}
		prev = hop.ID
	}
	return true
}

// part builds the HTLC of part i with payment_data (secret, total), under
// HTLC id.
func (c *mppCase) part(t *testing.T, n *Net, i int, secret *[32]byte, total graph.MilliSat, id uint64) *payment {
	t.Helper()
	o, err := htlc.BuildOnion(htlc.OnionParams{Route: c.routes[i], PaymentHash: c.hash, PaymentSecret: secret,
		TotalMsat: total, BlockHeight: n.Height()}, newReader(id))
	if err != nil {
		t.Fatalf("build onion: %v", err)
	}
	return &payment{route: c.routes[i], onion: o, req: link.AddHTLC{ID: id, Channel: o.Channel, Amount: o.Amount,
		Expiry: o.Expiry, PaymentHash: c.hash, Onion: o.Packet}}
}

// add sends an HTLC without waiting; its outcome arrives on the channel.
func add(t *testing.T, l link.Link, req link.AddHTLC) chan link.Result {
	t.Helper()
	ch := make(chan link.Result, 2)
	if err := l.AddHTLC(context.Background(), req, func(r link.Result) { ch <- r }); err != nil {
		t.Fatalf("AddHTLC %d: %v", req.ID, err)
	}
	return ch
}

// outcomeOf waits for one outcome and checks no second one follows.
func outcomeOf(t *testing.T, ch chan link.Result) link.Result {
	t.Helper()
	select {
	case r := <-ch:
		select {
		case r2 := <-ch:
			t.Fatalf("two outcomes: %+v, %+v", r, r2)
		case <-time.After(20 * time.Millisecond):
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no outcome after 30 s")
		return link.Result{}
	}
}

// pending fails if an outcome is there.
func pending(t *testing.T, what string, chs ...chan link.Result) {
	t.Helper()
	time.Sleep(20 * time.Millisecond)
	for i, ch := range chs {
		select {
		case r := <-ch:
			t.Fatalf("%s: part %d ended: %+v", what, i, r)
		default:
		}
	}
}

// heldParts is how many parts the destination holds for hash.
func heldParts(n *Net, hash [32]byte) int {
	n.mppMu.Lock()
	defer n.mppMu.Unlock()
	if s := n.sets[hash]; s != nil {
		return len(s.parts)
	}
	return 0
}

// failCode reads a failure from the destination and returns its BOLT 4
// code.
func failCode(t *testing.T, n *Net, p *payment, r link.Result) lnwire.FailCode {
	t.Helper()
	if r.Reason == nil {
		t.Fatalf("not failed: %+v", r)
	}
	f, err := htlc.ReadFailure(n.Self(), p.route, p.onion.Circuit, r.Reason)
	if err != nil || f.Routing == nil {
		t.Fatalf("unreadable failure %+v: %v", f, err)
	}
	if !f.Routing.Destination {
		t.Fatalf("failed at hop %d, not the destination: %s", f.Routing.ErringIndex, f.Message)
	}
	return lnwire.FailCode(f.Routing.FailCode)
}

// Three parts over three routes, each final payload with the invoice's
// secret and the total: the first two are held (nothing settles, nothing
// fails) until the third completes the set, then all three settle with
// the preimage; the ground truth has one settlement of three parts, and
// the balances moved by the parts' hops only.
func TestMPPSettlesTogether(t *testing.T) {
	n, err := Load(sub300, Options{Seed: 31})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := mppInvoice(t, n, 30_000, 50_000, 20_000)
	l := n.Link()
	before := snapshot(n)
	var ps []*payment
	var chs []chan link.Result
	for i := range 3 {
		ps = append(ps, c.part(t, n, i, &c.secret, c.total, uint64(i+1)))
	}
	for i := range 2 {
		chs = append(chs, add(t, l, ps[i].req))
	}
	waitFor(t, "two parts held", func() bool { return heldParts(n, c.hash) == 2 })
	pending(t, "two of three parts", chs...)
	if d := n.Delivered(c.hash); d.Settlements != 0 || d.Parts != 0 || d.HTLCs != 2 {
		t.Fatalf("truth with two parts held: %+v", d)
	}
	if n.OpenSets() != 1 {
		t.Fatalf("%d open sets", n.OpenSets())
	}
	chs = append(chs, add(t, l, ps[2].req))
	for i, ch := range chs {
		r := outcomeOf(t, ch)
		checkPreimage(t, r, c.hash)
		if r.ID != ps[i].req.ID {
			t.Fatalf("part %d answered as %d", i, r.ID)
		}
	}
	if d := n.Delivered(c.hash); d != (Delivery{Amount: c.total, Settlements: 1, Parts: 3, HTLCs: 3}) {
		t.Fatalf("truth: %+v", d)
	}
	if n.InFlight() != 0 || n.OpenSets() != 0 {
		t.Fatalf("%d in flight, %d open sets", n.InFlight(), n.OpenSets())
	}
	after := snapshot(n)
	moved := map[graph.SCID][2]int64{}
	for _, p := range ps {
		prev := n.Self()
		for _, hop := range p.route {
			m := moved[hop.Channel]
			d := graph.Direction(prev, hop.ID)
			m[d] -= int64(hop.Amount)
			m[1-d] += int64(hop.Amount)
			moved[hop.Channel] = m
			prev = hop.ID
		}
	}
	for scid, b := range before {
		a, m := after[scid], moved[scid]
		for d := range 2 {
			if int64(a.Balance[d])-int64(b.Balance[d]) != m[d] {
				t.Fatalf("channel %s side %d: %s -> %s, want a move of %d", scid, d, b.Balance[d], a.Balance[d], m[d])
			}
		}
	}

	// A late part of the same payment (the preimage is out) settles at
	// once and is no second settlement; a single-part payment of the
	// whole invoice again is one (a double payment shows).
	checkPreimage(t, send(t, l, c.part(t, n, 0, &c.secret, c.total, 10).req), c.hash)
	if d := n.Delivered(c.hash); d.Settlements != 1 || d.Parts != 4 {
		t.Fatalf("after a late part: %+v", d)
	}
	whole := &mppCase{hash: c.hash, routes: []graph.Route{routeFor(t, n, c.dest, c.total)}}
	checkPreimage(t, send(t, l, whole.part(t, n, 0, &c.secret, c.total, 11).req), c.hash)
	if d := n.Delivered(c.hash); d.Settlements != 2 || d.Parts != 5 {
		t.Fatalf("after paying again in one part: %+v", d)
	}
}

// routeFor is the getroute route for amt to dest.
func routeFor(t *testing.T, n *Net, dest graph.NodeID, amt graph.MilliSat) graph.Route {
	t.Helper()
	cltv := uint32(DefaultMinFinalCLTV)
	r, err := n.Graph().GetRoute(graph.GetRouteParams{ID: dest, FromID: n.Self(), AmountMsat: amt, RiskFactor: 1, CLTV: &cltv})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Two parts of three: they stay held while the network's clock moves 59
// s, then both fail with mpp_timeout (23) from the destination once it has
// moved 60 s past the first; every balance is back. The payer may then
// pay again: all three parts settle.
func TestMPPTimeout(t *testing.T) {
	n, err := Load(sub300, Options{Seed: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := mppInvoice(t, n, 40_000, 40_000, 20_000)
	l := n.Link()
	before := snapshot(n)
	start := n.Now()
	p0, p1 := c.part(t, n, 0, &c.secret, c.total, 1), c.part(t, n, 1, &c.secret, c.total, 2)
	ch0 := add(t, l, p0.req)
	waitFor(t, "the first part held", func() bool { return heldParts(n, c.hash) == 1 })
	n.SetNow(start.Add(30 * time.Second))
	ch1 := add(t, l, p1.req)
	waitFor(t, "two parts held", func() bool { return heldParts(n, c.hash) == 2 })
	n.SetNow(start.Add(59 * time.Second))
	pending(t, "59 s after the first part", ch0, ch1)
	n.SetNow(start.Add(60 * time.Second))
	for i, p := range []*payment{p0, p1} {
		if code := failCode(t, n, p, outcomeOf(t, []chan link.Result{ch0, ch1}[i])); code != lnwire.CodeMPPTimeout {
			t.Fatalf("part %d failed with %v, want mpp_timeout", i, code)
		}
	}
	if n.InFlight() != 0 || n.OpenSets() != 0 {
		t.Fatalf("%d in flight, %d open sets", n.InFlight(), n.OpenSets())
	}
	sameBalances(t, before, snapshot(n))
	if d := n.Delivered(c.hash); d.Settlements != 0 || d.Parts != 0 || d.Amount != 0 {
		t.Fatalf("truth after the timeout: %+v", d)
	}

	var chs []chan link.Result
	for i := range 3 {
		chs = append(chs, add(t, l, c.part(t, n, i, &c.secret, c.total, uint64(10+i)).req))
	}
	for _, ch := range chs {
		checkPreimage(t, outcomeOf(t, ch), c.hash)
	}
	if d := n.Delivered(c.hash); d.Settlements != 1 || d.Parts != 3 || d.HTLCs != 5 {
		t.Fatalf("truth after paying again: %+v", d)
	}
}

// The parts' checks: a total_msat unlike the held parts' is refused
// (incorrect_or_unknown_payment_details) and the held part stays; so are a
// part without payment_secret, one with a wrong secret, a total below the
// invoice or above twice it, and a part larger than its total. None of
// them opens a set or disturbs the
// held part, which the right second part then completes.
func TestMPPRefusedParts(t *testing.T) {
	n, err := Load(sub300, Options{Seed: 33})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := mppInvoice(t, n, 30_000, 30_000)
	l := n.Link()
	held := c.part(t, n, 0, &c.secret, c.total, 1)
	ch := add(t, l, held.req)
	waitFor(t, "the first part held", func() bool { return heldParts(n, c.hash) == 1 })
	wrong := [32]byte{1}
	for i, bad := range []struct {
		name   string
		secret *[32]byte
		total  graph.MilliSat
	}{
		{"another total", &c.secret, c.total + 1000},
		{"no payment_secret", nil, 0},
		{"a wrong secret", &wrong, c.total},
		{"a total below the invoice", &c.secret, c.total - 1},
		{"a total over twice the invoice", &c.secret, 2*c.total + 1},
	} {
		p := c.part(t, n, 1, bad.secret, bad.total, uint64(10+i))
		if code := failCode(t, n, p, send(t, l, p.req)); code != lnwire.CodeIncorrectOrUnknownPaymentDetails {
			t.Fatalf("%s: failed with %v", bad.name, code)
		}
		if heldParts(n, c.hash) != 1 || n.OpenSets() != 1 {
			t.Fatalf("%s: %d parts held in %d sets", bad.name, heldParts(n, c.hash), n.OpenSets())
		}
	}
	pending(t, "the held part", ch)
	// A part larger than its total (an invoice of 20,000 msat, total
	// 20,000, the part 30,000) is refused too, though the total is right.
	small, err := n.Invoice(c.dest, 20_000, "small", 0, n.Now())
	if err != nil {
		t.Fatal(err)
	}
	si := decode(t, small)
	sc := &mppCase{hash: si.PaymentHash, routes: c.routes}
	big := sc.part(t, n, 1, si.PaymentSecret, 20_000, 30)
	if code := failCode(t, n, big, send(t, l, big.req)); code != lnwire.CodeIncorrectOrUnknownPaymentDetails {
		t.Fatalf("a part larger than its total: %v", code)
	}
	checkPreimage(t, send(t, l, c.part(t, n, 1, &c.secret, c.total, 20).req), c.hash)
	checkPreimage(t, outcomeOf(t, ch), c.hash)
	if d := n.Delivered(c.hash); d.Settlements != 1 || d.Parts != 2 || d.Amount != c.total {
		t.Fatalf("truth: %+v", d)
	}
}

// On a wall clock the destination times a set out by itself; Close fails
// the parts of a set still open with mpp_timeout, each once.
func TestMPPWallClockAndClose(t *testing.T) {
	n, err := Load(sub300, Options{Seed: 34, WallClock: true, MPPTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := mppInvoice(t, n, 10_000, 10_000)
	l := n.Link()
	p := c.part(t, n, 0, &c.secret, c.total, 1)
	start := time.Now()
	if code := failCode(t, n, p, send(t, l, p.req)); code != lnwire.CodeMPPTimeout {
		t.Fatalf("failed with %v", code)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("timed out after %s", el)
	}

	m, err := Load(sub300, Options{Seed: 34})
	if err != nil {
		t.Fatal(err)
	}
	c = mppInvoice(t, m, 10_000, 10_000)
	p = c.part(t, m, 0, &c.secret, c.total, 1)
	ch := add(t, m.Link(), p.req)
	waitFor(t, "the part held", func() bool { return heldParts(m, c.hash) == 1 })
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if code := failCode(t, m, p, outcomeOf(t, ch)); code != lnwire.CodeMPPTimeout {
		t.Fatalf("at Close: failed with %v", code)
	}
	conserved(t, m)
}

// A durable network with two parts of three held at its destination is
// restarted: closed (Close fails them with mpp_timeout, written), or
// killed (a checkpoint of its store). After a kill the parts resume along
// their routes and join their set again, with its first deadline: the
// third part completes it and all settle, or the clock passes the
// deadline and both fail with mpp_timeout. Each part gets exactly one
// outcome, Reattach returns it, every channel holds its capacity, and a
// settled set stays settled across another restart.
func TestMPPDurableRestart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kill     bool
		complete bool
	}{{"close", false, false}, {"kill-complete", true, true}, {"kill-timeout", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Seed: 35, Dir: filepath.Join(dir, "run1")}
			n1, err := Load(sub300, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer n1.Close()
			c := mppInvoice(t, n1, 30_000, 30_000, 40_000)
			l1 := n1.Link()
			start := n1.Now()
			var ps []*payment
			var chs []chan link.Result
			for i := range 3 {
				ps = append(ps, c.part(t, n1, i, &c.secret, c.total, uint64(i+1)))
			}
			for i := range 2 {
				chs = append(chs, add(t, l1, ps[i].req))
			}
			waitFor(t, "two parts held", func() bool { return heldParts(n1, c.hash) == 2 })
			n1.SetNow(start.Add(20 * time.Second))
			before := committed(n1)

			reopen := opts
			if tc.kill {
				reopen.Dir = filepath.Join(dir, "killed")
				if err := n1.store.db.Checkpoint(reopen.Dir); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := n1.Close(); err != nil {
					t.Fatal(err)
				}
				for i, ch := range chs {
					if code := failCode(t, n1, ps[i], outcomeOf(t, ch)); code != lnwire.CodeMPPTimeout {
						t.Fatalf("part %d at Close: %v", i, code)
					}
				}
				before = committed(n1)
			}
			n2, err := Load(sub300, reopen)
			if err != nil {
				t.Fatal(err)
			}
			defer n2.Close()
			conserved(t, n2)
			got := committed(n2)
			for scid, b := range before {
				if got[scid] != b {
					t.Fatalf("channel %s: %v after the restart, %v before", scid, got[scid], b)
				}
			}
			l2 := n2.Link()
			if !tc.kill {
				if n2.OpenSets() != 0 {
					t.Fatalf("%d open sets after Close", n2.OpenSets())
				}
				for i, p := range ps[:2] {
					if code := failCode(t, n2, p, reattach(t, l2, p.req.ID)); code != lnwire.CodeMPPTimeout {
						t.Fatalf("part %d reattached: %v", i, code)
					}
				}
				if d := n2.Delivered(c.hash); d.Settlements != 0 || d.Parts != 0 || d.HTLCs != 2 {
					t.Fatalf("truth: %+v", d)
				}
				return
			}
			waitFor(t, "the resumed parts held again", func() bool { return heldParts(n2, c.hash) == 2 })
			if n2.OpenSets() != 1 {
				t.Fatalf("%d open sets", n2.OpenSets())
			}
			if tc.complete {
				checkPreimage(t, send(t, l2, ps[2].req), c.hash)
				for _, p := range ps[:2] {
					checkPreimage(t, reattach(t, l2, p.req.ID), c.hash)
				}
				if d := n2.Delivered(c.hash); d != (Delivery{Amount: c.total, Settlements: 1, Parts: 3, HTLCs: 3}) {
					t.Fatalf("truth: %+v", d)
				}
			} else {
				// The deadline is the first part's, 60 s after start.
				n2.SetNow(start.Add(59 * time.Second))
				if heldParts(n2, c.hash) != 2 {
					t.Fatal("the parts were not held until the first deadline")
				}
				n2.SetNow(start.Add(60 * time.Second))
				for i, p := range ps[:2] {
					if code := failCode(t, n2, p, reattach(t, l2, p.req.ID)); code != lnwire.CodeMPPTimeout {
						t.Fatalf("part %d: %v", i, code)
					}
				}
				if d := n2.Delivered(c.hash); d.Settlements != 0 || d.Parts != 0 || d.Amount != 0 {
					t.Fatalf("truth: %+v", d)
				}
			}
			waitFor(t, "nothing in flight", func() bool { return n2.InFlight() == 0 })
			conserved(t, n2)
			if err := n2.Close(); err != nil {
				t.Fatal(err)
			}
			n3, err := Load(sub300, reopen)
			if err != nil {
				t.Fatal(err)
			}
			defer n3.Close()
			if d, want := n3.Delivered(c.hash), n2.Delivered(c.hash); d != want {
				t.Fatalf("truth in the third run %+v, the second ended with %+v", d, want)
			}
			if n3.OpenSets() != 0 {
				t.Fatalf("%d open sets in the third run", n3.OpenSets())
			}
			if tc.complete {
				// The set settled: a part of it still out settles at once.
				checkPreimage(t, send(t, n3.Link(), c.part(t, n3, 0, &c.secret, c.total, 50).req), c.hash)
				if d := n3.Delivered(c.hash); d.Settlements != 1 || d.Parts != 4 {
					t.Fatalf("truth after a late part: %+v", d)
				}
			}
		})
	}
}

// The oracle counts what a multi-part payment can do: htlc_maximum bounds
// each HTLC, not a channel's total, so a channel of 5,000 sat with an
// htlc_maximum of 1,000 sat carries 3,000 sat in three parts (but not over
// one path), and with two HTLC slots, 2,000 sat.
func TestMaxFlowCountsParts(t *testing.T) {
	for _, tc := range []struct {
		slots int
		want  graph.MilliSat
	}{{0, 3_000_000}, {2, 2_000_000}} {
		a, b := graph.NodeID{2, 1}, graph.NodeID{2, 2}
		pol := &graph.Policy{HTLCMax: 1_000_000, CLTVDelta: 40}
		var bld graph.Builder
		bld.AddChannel(graph.Channel{SCID: graph.NewSCID(1, 1, 0), Node1: a, Node2: b, Capacity: 5_000,
			Policy: [2]*graph.Policy{pol, pol}})
		g, err := bld.Build()
		if err != nil {
			t.Fatal(err)
		}
		n, err := New(g, Options{Seed: 3, LocalChannels: 1, LocalCapacity: 100_000, MaxHTLCs: tc.slots})
		if err != nil {
			t.Fatal(err)
		}
		peer, _ := n.SimID(a)
		other, _ := n.SimID(b)
		s, _ := n.Channel(n.LocalChannels()[0])
		if s.Nodes[0] != peer && s.Nodes[1] != peer {
			peer, other = other, peer
		}
		if err := n.SetBalance(graph.NewSCID(1, 1, 0), peer, 5_000_000); err != nil {
			t.Fatal(err)
		}
		if got := n.Feasible(other, 3_000_000); got != (Feasibility{MaxFlow: tc.want}) {
			t.Errorf("%d slots: %+v, want a flow of %s and no single path", tc.slots, got, tc.want)
		}
		if got := n.Feasible(other, 1_000_000); got != (Feasibility{MaxFlow: 1_000_000, SinglePath: true}) {
			t.Errorf("%d slots, 1,000 sat: %+v", tc.slots, got)
		}
		n.Close()
	}
}
