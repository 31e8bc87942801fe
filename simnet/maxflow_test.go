package simnet

import (
	"context"
	"flag"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

var (
	flowGraphs = flag.Int("simnet.flowgraphs", 300, "random small networks TestMaxFlowMatchesMinCut checks")
	flowSeed   = flag.Uint64("simnet.flowseed", 1, "seed of the random small networks")
)

const flowMainnet = "../graphdata/ln-mainnet-2026-02-03.describegraph.json.gz"

// publicCap is the oracle's capacity rule restated over the public
// ChannelState: what direction d of a channel can carry for a payment of
// amount to dest (htlc_minimum applies on the last hop only), in all over
// its free HTLC slots (all) and in one HTLC (one).
func publicCap(s ChannelState, d int, amount graph.MilliSat, dest graph.NodeID, maxHTLCs int) (all, one graph.MilliSat) {
	p := s.Policy[d]
	if p == nil || p.Disabled || s.HTLCs[d] >= maxHTLCs || (s.Nodes[1-d] == dest && amount < p.HTLCMin) {
		return 0, 0
	}
	perSlots := p.HTLCMax * graph.MilliSat(maxHTLCs-s.HTLCs[d])
	if perSlots/graph.MilliSat(maxHTLCs-s.HTLCs[d]) != p.HTLCMax { // overflow
		perSlots = math.MaxUint64
	}
	return min(s.Balance[d], perSlots), min(s.Balance[d], p.HTLCMax)
}

// arc is one direction of a channel with its capacities (in all, and in
// one HTLC), for brute force.
type arc struct {
	from, to int
	cap, one graph.MilliSat
}

// publicArcs lists every direction of every channel with its capacity for
// a payment of amount to dest, nodes numbered by their position in ids.
func publicArcs(t *testing.T, n *Net, ids []graph.NodeID, amount graph.MilliSat, dest graph.NodeID) []arc {
	t.Helper()
	pos := make(map[graph.NodeID]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	var out []arc
	n.Graph().Channels(func(c graph.ChannelInfo) bool {
		s, ok := n.Channel(c.SCID)
		if !ok {
			t.Fatalf("channel %s has no state", c.SCID)
		}
		for d := range 2 {
			all, one := publicCap(s, d, amount, dest, n.opts.MaxHTLCs)
			out = append(out, arc{pos[s.Nodes[d]], pos[s.Nodes[1-d]], all, one})
		}
		return true
	})
	return out
}

// bruteMinCut enumerates every cut (S, V\S) with s in S and t outside and
// returns the smallest capacity: the maximum flow, by the max-flow min-cut
// theorem.
func bruteMinCut(nodes int, arcs []arc, s, t int) graph.MilliSat {
	var others []int
	for v := range nodes {
		if v != s && v != t {
			others = append(others, v)
		}
	}
	best := graph.MilliSat(math.MaxUint64)
	in := make([]bool, nodes)
	for mask := 0; mask < 1<<len(others); mask++ {
		clear(in)
		in[s] = true
		for i, v := range others {
			in[v] = mask&(1<<i) != 0
		}
		var cut graph.MilliSat
		for _, a := range arcs {
			if in[a.from] && !in[a.to] {
				cut += a.cap
			}
		}
		best = min(best, cut)
	}
	return best
}

// brutePath enumerates simple paths from u and reports whether one reaches
// t over arcs that carry at least amount in one HTLC.
func brutePath(arcs []arc, u, t int, amount graph.MilliSat, onPath []bool) bool {
	if u == t {
		return true
	}
	onPath[u] = true
	defer func() { onPath[u] = false }()
	for _, a := range arcs {
		if a.from == u && !onPath[a.to] && a.one >= amount && brutePath(arcs, a.to, t, amount, onPath) {
			return true
		}
	}
	return false
}

// randomNet builds a small seeded network: 2 to 9 nodes, random channels
// with unknown, disabled and tight-limit policies, 1 to 3 channels of ours,
// and some balances and policies moved after the build.
func randomNet(t *testing.T, r *rand.Rand, seed uint64) *Net {
	t.Helper()
	k := 2 + r.IntN(8)
	ids := make([]graph.NodeID, k)
	var b graph.Builder
	for i := range ids {
		ids[i][0], ids[i][32] = 2, byte(i+1)
		b.AddNode(graph.Node{ID: ids[i]})
	}
	for c := range r.IntN(4*k + 1) {
		i, j := r.IntN(k), r.IntN(k)
		if i == j {
			continue
		}
		capacity := 1 + r.Uint64N(2000)
		if r.IntN(2) == 0 {
			capacity = 1000 // ties
		}
		b.AddChannel(graph.Channel{SCID: graph.NewSCID(100, uint32(c+1), 0), Node1: ids[i], Node2: ids[j],
			Capacity: capacity, Policy: [2]*graph.Policy{randomFlowPolicy(r, capacity), randomFlowPolicy(r, capacity)}})
	}
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	local := 1 + r.Uint64N(10_000)
	n, err := New(g, Options{Seed: seed, LocalChannels: 1 + r.IntN(4), LocalCapacity: local})
	if err != nil {
		t.Fatal(err)
	}
	n.Graph().Channels(func(c graph.ChannelInfo) bool {
		s, _ := n.Channel(c.SCID)
		side := r.IntN(2)
		total := s.Balance[0] + s.Balance[1]
		switch r.IntN(4) {
		case 0:
			if err := n.SetBalance(c.SCID, s.Nodes[side], graph.MilliSat(r.Uint64N(uint64(total)+1))); err != nil {
				t.Fatal(err)
			}
		case 1:
			if err := n.SetBalance(c.SCID, s.Nodes[side], total); err != nil { // one-way channels
				t.Fatal(err)
			}
		case 2:
			if p := randomFlowPolicy(r, c.Capacity); p != nil {
				if err := n.SetPolicy(c.SCID, s.Nodes[side], *p); err != nil {
					t.Fatal(err)
				}
			}
		}
		return true
	})
	return n
}

// randomFlowPolicy draws a policy: nil (unknown) or disabled now and then,
// htlc_minimum from 0 to half a million msat, htlc_maximum the capacity or
// less.
func randomFlowPolicy(r *rand.Rand, capacity uint64) *graph.Policy {
	if r.IntN(10) == 0 {
		return nil
	}
	p := &graph.Policy{HTLCMax: graph.MilliSat(capacity * 1000), Disabled: r.IntN(10) == 0, CLTVDelta: 40}
	switch r.IntN(4) {
	case 0:
		p.HTLCMin = graph.MilliSat(r.Uint64N(500_000))
	case 1:
		p.HTLCMin = 1000
	}
	if r.IntN(3) == 0 {
		p.HTLCMax = graph.MilliSat(r.Uint64N(capacity*1000 + 1))
	}
	return p
}

// TestMaxFlowMatchesMinCut checks the oracle on random small networks
// against enumeration: for every destination and several amounts (random
// ones, and each one's own minimum cut, to hit the boundary), MaxFlow is
// min(amount, the smallest cut) and SinglePath says whether some simple
// path carries the whole amount. Rerun a failure with the seed it prints:
//
//	go test ./simnet -run MaxFlowMatchesMinCut -simnet.flowgraphs 1 -simnet.flowseed SEED
func TestMaxFlowMatchesMinCut(t *testing.T) {
	checked, positive, split := 0, 0, 0
	for i := range *flowGraphs {
		seed := *flowSeed + uint64(i)
		r := rand.New(rand.NewPCG(seed, 0x666c6f77)) // "flow"
		n := randomNet(t, r, seed)
		ids := n.Graph().Nodes()
		self := -1
		for j, id := range ids {
			if id == n.Self() {
				self = j
			}
		}
		for dest, id := range ids {
			if dest == self {
				continue
			}
			// 1 msat, two random amounts, and one above any flow (the
			// full maximum flow).
			amounts := []graph.MilliSat{1, graph.MilliSat(1 + r.Uint64N(3_000_000)), graph.MilliSat(1 + r.Uint64N(300_000)), 1e12}
			for k := 0; k < len(amounts); k++ {
				amount := amounts[k]
				arcs := publicArcs(t, n, ids, amount, id)
				cut := bruteMinCut(len(ids), arcs, self, dest)
				want := min(cut, amount)
				wantPath := brutePath(arcs, self, dest, amount, make([]bool, len(ids)))
				got := n.Feasible(id, amount)
				if got.MaxFlow != want || got.SinglePath != wantPath {
					t.Fatalf("seed %d, destination %d, amount %s: got %+v, want max flow %s (min cut %s), single path %v",
						seed, dest, amount, got, want, cut, wantPath)
				}
				if mf := n.MaxFlow(id, amount); mf != want {
					t.Fatalf("seed %d, destination %d, amount %s: MaxFlow %s, Feasible said %s", seed, dest, amount, mf, want)
				}
				if k < 4 && cut > 0 && cut < amount {
					amounts = append(amounts, cut) // exactly the max flow: the early exit's boundary
				}
				checked++
				if want > 0 {
					positive++
				}
				if want == amount && !wantPath {
					split++
				}
			}
		}
		n.Close()
	}
	t.Logf("%d queries on %d networks: %d with some flow, %d that only a split payment could carry", checked, *flowGraphs, positive, split)
	if *flowGraphs >= 100 && (positive == 0 || split == 0) {
		t.Fatalf("the random networks are too easy: %d queries with flow, %d needing a split", positive, split)
	}
}

// TestMaxFlowCancelsFlow checks the one case a search without the
// residual graph's reverse arcs gets wrong, whatever order it tries arcs
// in: the only shortest path (us, a, b, t) must later be undone in part.
// Every channel is one-way, 1,000 sat:
//
//	us → a → b → t        (the only path of 3 hops)
//	a → d → f → t
//	us → c → e → b
//
// The maximum flow is 2,000 sat: us-a-d-f-t and us-c-e-b-t. Having pushed
// us-a-b-t first, only the path us-c-e-b-a-d-f-t, which sends back over
// a → b, finds the second 1,000 sat.
func TestMaxFlowCancelsFlow(t *testing.T) {
	names := []string{"a", "c", "b", "d", "e", "f", "t", "x1", "x2", "x3", "x4"}
	real := map[string]graph.NodeID{}
	var bld graph.Builder
	for i, name := range names {
		id := graph.NodeID{2, byte(i + 1)}
		real[name] = id
		bld.AddNode(graph.Node{ID: id, Alias: name})
	}
	oneWay := [][2]string{{"a", "b"}, {"b", "t"}, {"a", "d"}, {"d", "f"}, {"f", "t"}, {"c", "e"}, {"e", "b"},
		// Leaves that make a and c the best-connected nodes, so our two
		// channels go to them.
		{"a", "x1"}, {"a", "x2"}, {"c", "x3"}, {"c", "x4"}}
	pol := &graph.Policy{HTLCMax: 1_000_000, CLTVDelta: 40}
	for i, e := range oneWay {
		bld.AddChannel(graph.Channel{SCID: graph.NewSCID(1, uint32(i+1), 0), Node1: real[e[0]], Node2: real[e[1]],
			Capacity: 1000, Policy: [2]*graph.Policy{pol, pol}})
	}
	g, err := bld.Build()
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(g, Options{Seed: 5, LocalChannels: 2, LocalCapacity: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	sim := func(name string) graph.NodeID { id, _ := n.SimID(real[name]); return id }
	for i, e := range oneWay {
		if err := n.SetBalance(graph.NewSCID(1, uint32(i+1), 0), sim(e[0]), 1_000_000); err != nil {
			t.Fatal(err)
		}
	}
	var peers []string
	for _, scid := range n.LocalChannels() {
		s, _ := n.Channel(scid)
		for _, name := range names {
			if s.Nodes[0] == sim(name) || s.Nodes[1] == sim(name) {
				peers = append(peers, name)
			}
		}
	}
	if len(peers) != 2 || peers[0] != "a" || peers[1] != "c" {
		t.Fatalf("our channels go to %v, want [a c]", peers)
	}
	if got := n.MaxFlow(sim("t"), 1e12); got != 2_000_000 {
		t.Errorf("max flow %s, want 2000000msat", got)
	}
	if got := n.Feasible(sim("t"), 1_500_000); got != (Feasibility{MaxFlow: 1_500_000}) {
		t.Errorf("1,500 sat: %+v, want a flow of 1500000msat and no single path", got)
	}
}

// TestMaxFlowHTLCSlots checks that a direction whose HTLC slots are all
// taken carries nothing, and that an HTLC in flight holds its amount out of
// the sender's balance.
func TestMaxFlowHTLCSlots(t *testing.T) {
	a, b := graph.NodeID{2, 1}, graph.NodeID{2, 2}
	pol := &graph.Policy{HTLCMax: 1_000_000_000, CLTVDelta: 40}
	var bld graph.Builder
	bld.AddChannel(graph.Channel{SCID: graph.NewSCID(1, 1, 0), Node1: a, Node2: b, Capacity: 1_000_000,
		Policy: [2]*graph.Policy{pol, pol}})
	g, err := bld.Build()
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(g, Options{Seed: 3, LocalChannels: 1, LocalCapacity: 100_000, MaxHTLCs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	peer := n.Graph().Nodes()[0]
	if n.Graph().NodeChannels(peer) < 2 { // the peer is whichever node New chose
		peer = n.Graph().Nodes()[1]
	}
	scid := n.LocalChannels()[0]
	if got := n.MaxFlow(peer, 200_000_000); got != 100_000_000 {
		t.Fatalf("before: max flow %s, want our whole channel, 100000000msat", got)
	}
	// Hold the HTLC at the peer: our only slot stays taken.
	if err := n.Hold(peer); err != nil {
		t.Fatal(err)
	}
	var req link.AddHTLC
	req.ID, req.Channel, req.Amount, req.Expiry = 1, scid, 5_000_000, n.Height()+100
	done := make(chan link.Result, 1)
	if err := n.Link().AddHTLC(context.Background(), req, func(r link.Result) { done <- r }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.InFlight() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := n.MaxFlow(peer, 1000); got != 0 {
		t.Errorf("slot taken: max flow %s, want 0", got)
	}
	n.Release(peer)
	<-done // the peer cannot read the zero onion: the HTLC fails and its amount returns
	if got := n.MaxFlow(peer, 200_000_000); got != 100_000_000 {
		t.Errorf("after: max flow %s, want 100000000msat", got)
	}
}

// TestMaxFlowMainnet runs the oracle on the mainnet network for seeded
// destinations and amounts and checks each answer with a certificate
// instead of brute force: the flow found respects every capacity and is
// conserved at every node; when it is less than the amount, the nodes
// still reachable in the residual graph form a cut of exactly that
// capacity (so no larger flow exists); a single path is a real path of
// channels that each carry the amount, and when none is reported, no
// node-by-node search finds one.
func TestMaxFlowMainnet(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the mainnet network: 5 s, 15 s with -race")
	}
	const queries = 300
	n, err := Load(flowMainnet, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ids := n.Graph().Nodes()
	r := rand.New(rand.NewPCG(1, 0x666c6f77))
	fc := n.flowCache()
	w := newFlowWork(fc.topo, len(ids))
	w.n = n
	var elapsed time.Duration
	feasible, partial := 0, 0
	for range queries {
		dest := n.index[ids[r.IntN(len(ids))]]
		if dest == n.self {
			continue
		}
		// Log-uniform from 1 sat to 0.5 BTC.
		amount := graph.MilliSat(1000 * math.Exp(r.Float64()*math.Log(5e7)))
		start := time.Now()
		got := w.run(n.self, dest, amount)
		elapsed += time.Since(start)
		if public := n.Feasible(n.ids[dest], amount); public != got {
			t.Fatalf("Feasible %+v, the same search %+v", public, got)
		}
		pushed := got.MaxFlow
		if got.SinglePath {
			pushed = 0 // the path search answers without pushing flow
		}
		caps, ones := certifyFlow(t, n, w, dest, amount, pushed)
		switch {
		case got.SinglePath:
			feasible++
			certifyPath(t, n, w, dest, amount, ones)
		case got.MaxFlow == amount:
			feasible++
			partial++
			if reachable(n, ones, amount, dest) {
				t.Fatalf("destination %s, amount %s: no single path reported, yet one exists", n.ids[dest], amount)
			}
		default:
			certifyCut(t, n, w, dest, got.MaxFlow, caps)
			if reachable(n, ones, amount, dest) {
				t.Fatalf("destination %s, amount %s: infeasible, yet a single path exists", n.ids[dest], amount)
			}
		}
	}
	t.Logf("%d queries: %d feasible (%d only split), %.3f ms per query", queries, feasible, partial,
		float64(elapsed.Microseconds())/1000/queries)
	if feasible == 0 || feasible == queries {
		t.Fatalf("%d of %d feasible: the amounts do not exercise both answers", feasible, queries)
	}
}

// certifyFlow checks the search's residuals describe a valid flow of value
// from us to dest and returns every arc's capacity and what it carries in
// one HTLC (public rule).
func certifyFlow(t *testing.T, n *Net, w *flowWork, dest int32, amount, value graph.MilliSat) (caps, ones []graph.MilliSat) {
	t.Helper()
	caps = make([]graph.MilliSat, 2*len(n.chans))
	ones = make([]graph.MilliSat, 2*len(n.chans))
	net := make([]int64, len(n.ids)) // outflow minus inflow, msat
	for c := range n.chans {
		s, _ := n.Channel(n.chans[c].scid)
		d := n.ids[dest]
		caps[2*c], ones[2*c] = publicCap(s, 0, amount, d, n.opts.MaxHTLCs)
		caps[2*c+1], ones[2*c+1] = publicCap(s, 1, amount, d, n.opts.MaxHTLCs)
		if w.loaded[c] != w.call {
			continue // never reached: no flow
		}
		// x is the net flow from side 0 to side 1: res0 = cap0 - x and
		// res1 = cap1 + x.
		x := int64(caps[2*c]) - int64(w.res[2*c])
		if int64(w.res[2*c+1]) != int64(caps[2*c+1])+x || x > int64(caps[2*c]) || -x > int64(caps[2*c+1]) {
			t.Fatalf("channel %s: residuals %d/%d do not fit capacities %d/%d", n.chans[c].scid,
				w.res[2*c], w.res[2*c+1], caps[2*c], caps[2*c+1])
		}
		net[n.chans[c].nodes[0]] += x
		net[n.chans[c].nodes[1]] -= x
	}
	for u, f := range net {
		want := int64(0)
		switch int32(u) {
		case n.self:
			want = int64(value)
		case dest:
			want = -int64(value)
		}
		if f != want {
			t.Fatalf("node %s: net outflow %d, want %d", n.ids[u], f, want)
		}
	}
	return caps, ones
}

// certifyPath follows the search's parent arcs from us and checks they
// form a path to dest whose every arc carries amount in one HTLC.
func certifyPath(t *testing.T, n *Net, w *flowWork, dest int32, amount graph.MilliSat, caps []graph.MilliSat) {
	t.Helper()
	hops := 0
	for u := n.self; u != dest; hops++ {
		a := w.parent[u]
		if a < 0 || w.topo.from[a] != u || caps[a] < amount || hops > len(n.ids) {
			t.Fatalf("destination %s: the reported path is broken at %s", n.ids[dest], n.ids[u])
		}
		u = w.topo.to[a]
	}
}

// certifyCut checks that the nodes reachable from us in the residual graph
// exclude dest and that the arcs leaving them add up to value.
func certifyCut(t *testing.T, n *Net, w *flowWork, dest int32, value graph.MilliSat, caps []graph.MilliSat) {
	t.Helper()
	res := func(a int32) graph.MilliSat {
		if w.loaded[a>>1] != w.call {
			return caps[a]
		}
		return w.res[a]
	}
	in := make([]bool, len(n.ids))
	in[n.self] = true
	queue := []int32{n.self}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, a := range w.topo.adj[w.topo.start[u]:w.topo.start[u+1]] {
			if v := w.topo.to[a]; !in[v] && res(a) > 0 {
				in[v] = true
				queue = append(queue, v)
			}
		}
	}
	if in[dest] {
		t.Fatalf("destination %s: still reachable after the search stopped at %s", n.ids[dest], value)
	}
	var cut graph.MilliSat
	for a := range w.topo.from {
		if in[w.topo.from[a]] && !in[w.topo.to[a]] {
			cut += caps[a]
		}
	}
	if cut != value {
		t.Fatalf("destination %s: cut of %s, flow of %s", n.ids[dest], cut, value)
	}
}

// reachable is a plain search over channels (not the oracle's arcs) for a
// path from us to dest whose every direction carries amount (caps: what
// each carries in one HTLC).
func reachable(n *Net, caps []graph.MilliSat, amount graph.MilliSat, dest int32) bool {
	out := make(map[int32][]int32)
	for c := range n.chans {
		for d := range 2 {
			if caps[2*c+d] >= amount {
				from, to := n.chans[c].nodes[d], n.chans[c].nodes[1-d]
				out[from] = append(out[from], to)
			}
		}
	}
	seen := map[int32]bool{n.self: true}
	stack := []int32{n.self}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, v := range out[u] {
			if v == dest {
				return true
			}
			if !seen[v] {
				seen[v] = true
				stack = append(stack, v)
			}
		}
	}
	return false
}

// BenchmarkFeasibleMainnet measures one oracle answer on the mainnet
// network, seeded destinations, amounts log-uniform from 1 sat to 1M sat.
//
//	go test ./simnet -run '^$' -bench FeasibleMainnet
func BenchmarkFeasibleMainnet(b *testing.B) {
	n, err := Load(flowMainnet, Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	ids := n.Graph().Nodes()
	r := rand.New(rand.NewPCG(1, 2))
	n.Feasible(ids[0], 1) // build the arcs outside the timer
	feasible := 0
	b.ResetTimer()
	for range b.N {
		amount := graph.MilliSat(1000 * math.Exp(r.Float64()*math.Log(1e6)))
		if n.Feasible(ids[r.IntN(len(ids))], amount).MaxFlow == amount {
			feasible++
		}
	}
	b.ReportMetric(100*float64(feasible)/float64(b.N), "feasible-%")
}
