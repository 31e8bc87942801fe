package simnet

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

// oursPayment has our node i issue nothing but pay: an invoice of dest
// for amount, and the HTLC with id that pays it from our node i over a
// route of two hops or more.
func oursPayment(t *testing.T, n *Net, i int, dest graph.NodeID, amount graph.MilliSat, id uint64) durableCase {
	t.Helper()
	cltv := uint32(DefaultMinFinalCLTV)
	route, err := n.Graph().GetRoute(graph.GetRouteParams{ID: dest, FromID: n.SelfOf(i), AmountMsat: amount, RiskFactor: 1, CLTV: &cltv})
	if err != nil {
		t.Fatalf("route from our node %d to %s: %v", i, dest, err)
	}
	if len(route) < 2 {
		t.Fatalf("route from our node %d to %s has %d hops", i, dest, len(route))
	}
	bolt11, err := n.Invoice(dest, amount, "ours", 0, n.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv := decode(t, bolt11)
	return durableCase{hash: inv.PaymentHash, secret: *inv.PaymentSecret, dest: dest,
		p: newPayment(t, n, route, inv.PaymentHash, inv.PaymentSecret, id)}
}

// oursDest is a destination two hops or more from every node of ours,
// not one of our peers.
func oursDest(t *testing.T, n *Net) graph.NodeID {
	t.Helper()
	cltv := uint32(DefaultMinFinalCLTV)
	for _, dest := range n.Graph().Nodes() {
		ok := true
		for i := range n.Ours() {
			route, err := n.Graph().GetRoute(graph.GetRouteParams{ID: dest, FromID: n.SelfOf(i), AmountMsat: 50_000, RiskFactor: 1, CLTV: &cltv})
			if dest == n.SelfOf(i) || err != nil || len(route) < 2 {
				ok = false
			}
		}
		if ok {
			return dest
		}
	}
	t.Fatal("no destination two hops from all our nodes")
	return graph.NodeID{}
}

// loadLink returns our node i's link, failing the test if there is none.
func loadLink(t *testing.T, n *Net, i int) link.Link {
	t.Helper()
	l, err := n.LinkFor(i)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// With Options.Ours 3, node 0 is the one-node network's node (same id,
// channels and balances, every other channel's split unchanged), and
// nodes 1 and 2 have their own ids, aliases and channels to the same
// peers, all balance on their side, none to each other.
func TestOursLayout(t *testing.T) {
	one, err := Load(sub300, Options{Seed: 21})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	n, err := Load(sub300, Options{Seed: 21, Ours: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Ours() != 3 || n.Self() != one.Self() || n.SelfOf(0) != one.Self() || !slices.Equal(n.LocalChannelsOf(0), one.LocalChannels()) {
		t.Fatalf("node 0 is not the one-node network's: %s %v, want %s %v", n.SelfOf(0), n.LocalChannelsOf(0), one.Self(), one.LocalChannels())
	}
	if n.SelfOf(3) != (graph.NodeID{}) || n.LocalChannelsOf(-1) != nil {
		t.Fatal("a node of ours out of range has an id or channels")
	}
	if _, err := n.LinkFor(3); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("LinkFor(3): %v", err)
	}
	// Every channel of the one-node network is unchanged.
	before := snapshot(one)
	sameBalances(t, before, snapshot(n))
	if got, want := n.Graph().NumChannels(), one.Graph().NumChannels()+2*len(one.LocalChannels()); got != want {
		t.Fatalf("%d channels, want %d", got, want)
	}
	ours := map[graph.NodeID]int{}
	for i := range 3 {
		ours[n.SelfOf(i)] = i
	}
	if len(ours) != 3 {
		t.Fatalf("our nodes share ids: %v", ours)
	}
	if a := n.Graph().Alias(n.SelfOf(2)); a != DefaultLocalAlias+"-2" {
		t.Fatalf("node 2's alias %q", a)
	}
	block0 := n.LocalChannelsOf(0)[0].Block()
	for i := range 3 {
		scids := n.LocalChannelsOf(i)
		if len(scids) != DefaultLocalChannels {
			t.Fatalf("node %d has %d channels", i, len(scids))
		}
		for j, scid := range scids {
			if scid != graph.NewSCID(block0+uint32(i), uint32(j+1), 0) {
				t.Fatalf("node %d channel %d is %s", i, j, scid)
			}
			c, ok := n.Graph().Channel(scid)
			if !ok {
				t.Fatalf("no channel %s", scid)
			}
			us, peer := c.Node1, c.Node2
			if ours[us] != i || us != n.SelfOf(i) {
				us, peer = peer, us
			}
			if us != n.SelfOf(i) {
				t.Fatalf("channel %s of node %d has ends %s %s", scid, i, c.Node1, c.Node2)
			}
			if _, isOurs := ours[peer]; isOurs {
				t.Fatalf("channel %s joins two of our nodes", scid)
			}
			if sp, ok := n.Spendable(scid); !ok || sp != DefaultLocalCapacity*1000 {
				t.Fatalf("channel %s spendable %s %v", scid, sp, ok)
			}
			if c0, _ := n.Graph().Channel(n.LocalChannelsOf(0)[j]); c0.Node1 != peer && c0.Node2 != peer {
				t.Fatalf("node %d's channel %d goes to %s, not node 0's peer", i, j, peer)
			}
		}
	}
	if _, err := Load(sub300, Options{Seed: 21, Ours: -1}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Ours -1: %v", err)
	}
}

// Two of our nodes pay invoices of one destination, each over its own
// link: each HTLC takes its first hop on its own node's channel, and the
// other node's channels do not move.
func TestOursTwoNodesPay(t *testing.T) {
	n, err := Load(sub300, Options{Seed: 21, Ours: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	dest := oursDest(t, n)
	for i := range 2 {
		c := oursPayment(t, n, i, dest, 40_000, 1)
		if !slices.Contains(n.LocalChannelsOf(i), c.p.req.Channel) {
			t.Fatalf("node %d's route starts on %s, not one of its channels", i, c.p.req.Channel)
		}
		// Another node's link does not have this node's channel.
		other := loadLink(t, n, 1-i)
		if r := send(t, other, link.AddHTLC{ID: 99 + uint64(i), Channel: c.p.req.Channel, Amount: c.p.req.Amount,
			Expiry: c.p.req.Expiry, PaymentHash: [32]byte{byte(i + 1)}, Onion: c.p.req.Onion}); !errors.Is(r.Local, link.ErrUnknownChannel) {
			t.Fatalf("node %d's channel over node %d's link: %+v", i, 1-i, r)
		}
		before := snapshot(n)
		r := send(t, loadLink(t, n, i), c.p.req)
		checkPreimage(t, r, c.hash)
		if d := n.Delivered(c.hash); d.Settlements != 1 || d.HTLCs != 1 {
			t.Fatalf("node %d: truth %+v", i, d)
		}
		after := snapshot(n)
		for j := range 2 {
			for _, scid := range n.LocalChannelsOf(j) {
				b, a := before[scid], after[scid]
				moved := a.Balance != b.Balance
				if moved != (j == i && scid == c.p.req.Channel) {
					t.Fatalf("node %d paid: node %d's channel %s went from %v to %v", i, j, scid, b.Balance, a.Balance)
				}
			}
		}
		if sp, _ := n.Spendable(c.p.req.Channel); sp != DefaultLocalCapacity*1000-c.p.req.Amount {
			t.Fatalf("node %d's channel can send %s after paying %s", i, sp, c.p.req.Amount)
		}
	}
	conserved(t, n)
}

// HTLC ids are per link: the same id on two nodes' links is two HTLCs,
// each with its own outcome for Reattach, while the same id twice on one
// link is refused.
func TestOursIDsPerLink(t *testing.T) {
	n, err := Load(sub300, Options{Seed: 21, Ours: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	dest := oursDest(t, n)
	const id = 7
	cs := []durableCase{oursPayment(t, n, 0, dest, 30_000, id), oursPayment(t, n, 1, dest, 30_000, id)}
	links := []link.Link{loadLink(t, n, 0), loadLink(t, n, 1)}
	if err := n.Hold(dest); err != nil {
		t.Fatal(err)
	}
	results := make(chan link.Result, 2)
	for i, c := range cs {
		if err := links[i].AddHTLC(context.Background(), c.p.req, func(r link.Result) { results <- r }); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	if err := links[0].AddHTLC(context.Background(), cs[0].p.req, func(link.Result) {}); !errors.Is(err, link.ErrDuplicateID) {
		t.Fatalf("id %d twice on one link: %v", id, err)
	}
	waitFor(t, "both HTLCs in flight", func() bool { return n.InFlight() >= 2 })
	n.Release(dest)
	<-results
	<-results
	for i, c := range cs {
		checkPreimage(t, reattach(t, links[i], id), c.hash)
	}
}

// A durable network of two nodes of ours killed with an HTLC of the same
// id in flight on each link: after the restart each link's HTLC resumes
// and gets its own outcome, each hash settles once, and after a clean
// restart both outcomes are still there. A directory of two nodes does not
// load as a one-node network.
func TestOursDurableRestart(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Seed: 21, Ours: 2, Dir: filepath.Join(dir, "run1")}
	n1, err := Load(sub300, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	dest := oursDest(t, n1)
	const id = 3
	cs := []durableCase{oursPayment(t, n1, 0, dest, 25_000, id), oursPayment(t, n1, 1, dest, 25_000, id)}
	if err := n1.Hold(dest); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		if err := loadLink(t, n1, i).AddHTLC(context.Background(), c.p.req, func(link.Result) {}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both HTLCs taken", func() bool {
		return n1.Delivered(cs[0].hash).HTLCs == 1 && n1.Delivered(cs[1].hash).HTLCs == 1
	})
	killed := opts
	killed.Dir = filepath.Join(dir, "killed")
	if err := n1.store.db.Checkpoint(killed.Dir); err != nil {
		t.Fatal(err)
	}

	if _, err := Load(sub300, Options{Seed: 21, Dir: killed.Dir}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("two nodes' directory loaded as one node's: %v", err)
	}
	n2, err := Load(sub300, killed)
	if err != nil {
		t.Fatal(err)
	}
	if got := n2.InFlight(); got != 2 {
		t.Fatalf("%d HTLCs resumed, want 2", got)
	}
	conserved(t, n2)
	for i, c := range cs {
		checkPreimage(t, reattach(t, loadLink(t, n2, i), id), c.hash)
	}
	waitFor(t, "no HTLC in flight", func() bool { return n2.InFlight() == 0 })
	for _, c := range cs {
		if d := n2.Delivered(c.hash); d.Settlements != 1 || d.HTLCs != 1 {
			t.Fatalf("truth %+v", d)
		}
	}
	conserved(t, n2)
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	n3, err := Load(sub300, killed)
	if err != nil {
		t.Fatal(err)
	}
	defer n3.Close()
	for i, c := range cs {
		checkPreimage(t, reattach(t, loadLink(t, n3, i), id), c.hash)
	}
	if err := loadLink(t, n3, 1).Reattach(context.Background(), link.AddHTLC{ID: id + 1}, func(link.Result) {}); !errors.Is(err, link.ErrUnknownHTLC) {
		t.Fatalf("unknown id on node 1: %v", err)
	}
}

// A state directory written by the code before Options.Ours
// (testdata/onenode-v1: seed 21, HTLC 1 settled, HTLC 2 in flight at a
// kill) loads: HTLC 1's stored outcome and HTLC 2, resumed, both settle
// their invoices, once.
func TestOursOneNodeDirLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	if err := os.CopyFS(dir, os.DirFS("testdata/onenode-v1")); err != nil {
		t.Fatal(err)
	}
	n, err := Load(sub300, Options{Seed: 21, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.InFlight() != 1 {
		t.Fatalf("%d HTLCs resumed, want 1", n.InFlight())
	}
	l := n.Link()
	for id, h := range []string{"029f6d4ce46566adbc3562f502bac7e08392d79ce7aef48592d4ddcc894c6315",
		"b08d247aa5eefbcdb322ff17db1ab8e0794ffac0153a5f874915e0680edc8eb0"} {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		hash := [32]byte(b)
		checkPreimage(t, reattach(t, l, uint64(id+1)), hash)
		waitFor(t, "the truth of a settled HTLC", func() bool { return n.Delivered(hash).Settlements == 1 })
		if d := n.Delivered(hash); d.HTLCs != 1 || d.Settlements != 1 {
			t.Fatalf("HTLC %d: truth %+v", id+1, d)
		}
	}
	waitFor(t, "no HTLC in flight", func() bool { return n.InFlight() == 0 })
	conserved(t, n)
}

// The feasibility oracle answers from the node it is given: with node 1's
// channels emptied, nothing can leave node 1 while node 0 (Feasible's
// default source) still reaches the destination in full.
func TestOursFeasibleFrom(t *testing.T) {
	n, err := Load(sub300, Options{Seed: 21, Ours: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	dest := oursDest(t, n)
	const amt = 50_000
	if got := n.MaxFlowFrom(n.SelfOf(1), dest, amt); got != amt {
		t.Fatalf("node 1 before: %s", got)
	}
	for _, scid := range n.LocalChannelsOf(1) {
		if err := n.SetBalance(scid, n.SelfOf(1), 0); err != nil {
			t.Fatal(err)
		}
	}
	if f := n.FeasibleFrom(n.SelfOf(1), dest, amt); f.MaxFlow != 0 || f.SinglePath {
		t.Fatalf("node 1 emptied: %+v", f)
	}
	if f, g := n.Feasible(dest, amt), n.FeasibleFrom(n.Self(), dest, amt); f != g || f.MaxFlow != amt {
		t.Fatalf("node 0: Feasible %+v, FeasibleFrom %+v", f, g)
	}
	if got := n.MaxFlowFrom(graph.NodeID{}, dest, amt); got != 0 {
		t.Fatalf("from an unknown node: %s", got)
	}
}
