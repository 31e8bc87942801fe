package simnet

import (
	"math"
	"sync"

	"github.com/payengine/payengine/graph"
)

// The feasibility oracle: how much of an amount could have reached a
// destination from us over the balances as they are now, something only
// the network (which sees every balance) can say. A benchmark asks it just
// before each payment, so it must answer in milliseconds on mainnet; it
// stops as soon as the amount is reached, and most answers come from the
// first breadth-first search (one path carries everything).

// Feasibility is what the network could have carried from our node to one
// destination at one moment. Fees are ignored, so both figures are upper
// bounds of what a payer could achieve: MaxFlow for a payment split into
// parts at will (a multi-part payment), SinglePath for a single-part one.
type Feasibility struct {
	// MaxFlow is min(amount, maximum flow): what could have been delivered
	// over any number of paths at once, the amount split at will.
	MaxFlow graph.MilliSat
	// SinglePath says one path alone could carry the whole amount, as a
	// single-part payment needs.
	SinglePath bool
}

// MaxFlow returns min(amount, maximum flow from our node to to) over the
// live channel state, what a multi-part payment could deliver at most:
// each direction of a channel carries at most the sending side's balance
// and htlc_maximum per free HTLC slot (each part is one HTLC), and nothing
// when its policy is unknown or disabled, all its HTLC slots are taken, or
// (on a channel into to) the amount is below its htlc_minimum (no part can
// then pass it). Fees are ignored, so this is an upper bound of what a
// payer could deliver. An unknown node gets 0; our own node gets amount.
// With several nodes of ours, it is from node 0 (MaxFlowFrom for another).
// See Feasible.
func (n *Net) MaxFlow(to graph.NodeID, amount graph.MilliSat) graph.MilliSat {
	return n.Feasible(to, amount).MaxFlow
}

// MaxFlowFrom is MaxFlow from the node from (one of ours, or any other).
func (n *Net) MaxFlowFrom(from, to graph.NodeID, amount graph.MilliSat) graph.MilliSat {
	return n.FeasibleFrom(from, to, amount).MaxFlow
}

// Feasible computes MaxFlow and whether a single path could carry the
// whole amount in one HTLC (each hop's balance and htlc_maximum at least
// what it carries, fees ignored), reading each channel's state under its lock as the search
// reaches it (the balances are not one atomic snapshot while HTLCs move).
// It is safe for concurrent use, including while payments are in flight.
// With several nodes of ours, it is from node 0 (FeasibleFrom for another).
func (n *Net) Feasible(to graph.NodeID, amount graph.MilliSat) Feasibility {
	return n.FeasibleFrom(n.Self(), to, amount)
}

// FeasibleFrom is Feasible from the node from (one of ours, or any
// other); an unknown from gets nothing.
func (n *Net) FeasibleFrom(from, to graph.NodeID, amount graph.MilliSat) Feasibility {
	s, sok := n.index[from]
	t, ok := n.index[to]
	switch {
	case !ok || !sok:
		return Feasibility{}
	case t == s || amount == 0:
		return Feasibility{MaxFlow: amount, SinglePath: true}
	}
	fc := n.flowCache()
	w, ok := fc.pool.Get().(*flowWork)
	if !ok {
		w = newFlowWork(fc.topo, len(n.ids))
	}
	w.n = n
	f := w.run(s, t, amount)
	w.n = nil // the pool must not keep the Net alive
	fc.pool.Put(w)
	return f
}

// flowCache is what the oracle keeps per Net: the arcs, built once, and a
// pool of scratch spaces.
type flowCache struct {
	topo *flowTopo
	pool sync.Pool
}

// flowCache returns the Net's cache, building the arcs on first use.
func (n *Net) flowCache() *flowCache {
	n.flowOnce.Do(func() { n.flow = &flowCache{topo: n.flowTopology()} })
	return n.flow
}

// flowTopo is the channel graph as arcs for the search, built once: arc
// 2c+d is channel c sent over by side d (graph.Direction d), and arc a^1 is
// its reverse, so pushing flow on one direction of a channel frees the
// same amount on the other, exactly as the residual graph needs.
type flowTopo struct {
	from, to []int32 // per arc
	start    []int32 // node u's arcs are adj[start[u]:start[u+1]]
	adj      []int32
}

// flowTopology builds the arc arrays of the network.
func (n *Net) flowTopology() *flowTopo {
	nodes := len(n.ids)
	t := &flowTopo{from: make([]int32, 2*len(n.chans)), to: make([]int32, 2*len(n.chans)),
		start: make([]int32, nodes+1), adj: make([]int32, 2*len(n.chans))}
	for c := range n.chans {
		for d := range 2 {
			a := 2*c + d
			t.from[a], t.to[a] = n.chans[c].nodes[d], n.chans[c].nodes[1-d]
			t.start[t.from[a]+1]++
		}
	}
	for u := range nodes {
		t.start[u+1] += t.start[u]
	}
	pos := make([]int32, nodes)
	copy(pos, t.start[:nodes])
	for a := range t.from {
		u := t.from[a]
		t.adj[pos[u]] = int32(a)
		pos[u]++
	}
	return t
}

// flowWork is one search's scratch space, pooled: arrays the size of the
// network, made valid per search by epochs instead of being cleared.
type flowWork struct {
	n      *Net // set for one search only
	topo   *flowTopo
	amount graph.MilliSat

	res    []graph.MilliSat // residual per arc, valid when loaded[c] == call
	one    []graph.MilliSat // per arc: what one HTLC can carry (the single-path check)
	loaded []uint32         // per channel
	call   uint32
	level  []int32 // per node, valid when seen[u] == bfs
	seen   []uint32
	bfs    uint32
	next   []int32 // per node: Dinic's current arc (an index into adj)
	queue  []int32
	parent []int32 // per node: its arc toward the sink in the last search
	source int32
	sink   int32
}

// newFlowWork allocates a scratch space for a network of nodes nodes.
func newFlowWork(t *flowTopo, nodes int) *flowWork {
	arcs := len(t.from)
	return &flowWork{topo: t, res: make([]graph.MilliSat, arcs), one: make([]graph.MilliSat, arcs), loaded: make([]uint32, arcs/2),
		level: make([]int32, nodes), seen: make([]uint32, nodes), next: make([]int32, nodes),
		queue: make([]int32, 0, nodes), parent: make([]int32, nodes)}
}

// newCall starts a search: every residual must be read again.
func (w *flowWork) newCall() {
	w.call++
	if w.call == 0 { // wrapped: stale stamps could look current
		clear(w.loaded)
		w.call = 1
	}
}

// newBFS invalidates every level.
func (w *flowWork) newBFS() {
	w.bfs++
	if w.bfs == 0 {
		clear(w.seen)
		w.bfs = 1
	}
}

// residual returns arc a's residual capacity, reading its channel's live
// state the first time the search touches it.
func (w *flowWork) residual(a int32) graph.MilliSat {
	c := a >> 1
	w.load(c)
	return w.res[a]
}

// load reads channel c's capacities the first time the search touches it.
func (w *flowWork) load(c int32) {
	if w.loaded[c] != w.call {
		w.res[2*c], w.res[2*c+1], w.one[2*c], w.one[2*c+1] = w.n.capacities(c, w.amount, w.sink)
		w.loaded[c] = w.call
	}
}

// capacities returns what each direction of channel c can carry for a
// payment of amount to sink, under the channel's lock: in all, over its
// free HTLC slots, and in one HTLC. htlc_minimum is
// checked only on a direction into the sink: there the HTLC carries
// exactly the amount, while on earlier hops it carries the amount plus
// the fees of the hops after, which may clear a minimum the amount alone
// does not; fees being ignored, excluding those hops would break the upper
// bound.
func (n *Net) capacities(c int32, amount graph.MilliSat, sink int32) (all0, all1, one0, one1 graph.MilliSat) {
	cs := &n.chans[c]
	var all, one [2]graph.MilliSat
	cs.mu.Lock()
	for d := range 2 {
		p := &cs.policy[d]
		free := n.opts.MaxHTLCs - cs.slots[d]
		if !cs.known[d] || p.Disabled || free <= 0 || (cs.nodes[1-d] == sink && amount < p.HTLCMin) {
			continue
		}
		one[d] = min(cs.balance[d], p.HTLCMax)
		all[d] = min(cs.balance[d], satMul(p.HTLCMax, free))
	}
	cs.mu.Unlock()
	return all[0], all[1], one[0], one[1]
}

// satMul is a*k, saturating at the largest amount.
func satMul(a graph.MilliSat, k int) graph.MilliSat {
	if k > 0 && a > graph.MilliSat(math.MaxUint64)/graph.MilliSat(k) {
		return graph.MilliSat(math.MaxUint64)
	}
	return a * graph.MilliSat(k)
}

// run answers Feasible for source s and sink t.
func (w *flowWork) run(s, t int32, amount graph.MilliSat) Feasibility {
	w.amount, w.source, w.sink = amount, s, t
	w.newCall()
	// One path that carries everything in one HTLC is both the single-path
	// answer and a flow of amount: most feasible payments end here.
	if w.search(amount, true) {
		return Feasibility{MaxFlow: amount, SinglePath: true}
	}
	return Feasibility{MaxFlow: w.dinic(amount)}
}

// search is a breadth-first search backward from the sink over arcs whose
// residual (with single, what one HTLC can carry) is at least least (which
// is at least 1): level[u] is u's
// distance to the sink and parent[u] the arc u takes toward it. It stops
// as soon as it reaches the source, reporting whether it did.
//
// Backward, because the sink is usually a small node and the source (us)
// sits next to the biggest hubs: from the sink the search reaches one of
// our peers after a few hundred nodes, while from us it would expand the
// hubs' thousands of neighbours first; and when no path is left the
// search sees only the sink's side of the cut, which is small when the
// sink's own channels are the bottleneck.
func (w *flowWork) search(least graph.MilliSat, single bool) bool {
	w.newBFS()
	t := w.topo
	w.queue = append(w.queue[:0], w.sink)
	w.seen[w.sink], w.level[w.sink], w.parent[w.sink] = w.bfs, 0, -1
	for i := 0; i < len(w.queue); i++ {
		v := w.queue[i]
		// The arcs into v are the reverses of the arcs out of it.
		for _, out := range t.adj[t.start[v]:t.start[v+1]] {
			a := out ^ 1
			u := t.from[a]
			if w.seen[u] == w.bfs || w.residual(a) < least || single && w.one[a] < least {
				continue
			}
			w.seen[u], w.level[u], w.parent[u] = w.bfs, w.level[v]+1, a
			w.queue = append(w.queue, u)
			if u == w.source {
				return true
			}
		}
	}
	return false
}

// dinic pushes flow from the source to the sink until amount is reached
// or no augmenting path is left, and returns the flow: Dinic's algorithm,
// with the level graph from search (distances to the sink) and each
// blocking flow found by depth-first search from the source with a
// current-arc pointer per node.
func (w *flowWork) dinic(amount graph.MilliSat) graph.MilliSat {
	var flow graph.MilliSat
	for flow < amount && w.search(1, false) {
		for _, u := range w.queue {
			w.next[u] = w.topo.start[u]
		}
		for flow < amount {
			f := w.augment(w.source, amount-flow)
			if f == 0 {
				break
			}
			flow += f
		}
	}
	return flow
}

// augment finds one path from u to the sink along arcs that step one
// level closer to it, and pushes up to limit along it, returning what it
// pushed (0: none left from u in this level graph).
func (w *flowWork) augment(u int32, limit graph.MilliSat) graph.MilliSat {
	if u == w.sink {
		return limit
	}
	t := w.topo
	for ; w.next[u] < t.start[u+1]; w.next[u]++ {
		a := t.adj[w.next[u]]
		v := t.to[a]
		if w.seen[v] != w.bfs || w.level[v] != w.level[u]-1 {
			continue
		}
		r := w.residual(a)
		if r == 0 {
			continue
		}
		if f := w.augment(v, min(limit, r)); f > 0 {
			w.res[a] -= f
			w.res[a^1] += f
			return f
		}
	}
	return 0
}
