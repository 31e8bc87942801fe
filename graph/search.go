package graph

import (
	"math"
	"sort"
)

// The search: Core Lightning's getroute cost (spec section 8.3), minimised
// exactly.
//
// CLN runs a label-setting Dijkstra from the destination back to the source
// with one (total, risk) label per node. That is not exact for this cost:
// fees grow with the amount, so a label that costs less now can cost more
// after the next hop, and htlc_minimum can make the cheaper label unusable
// where a dearer one passes. We keep a Pareto set of labels per node
// instead: label A (amount a, fuzzed total t, risk r) dominates B when
// a_A <= a_B, t_A <= t_B and r_A <= r_B, because every step of the cost is
// monotone in all three. Lower amounts can only fail an htlc_minimum, so a
// prune with a_A < a_B is safe only if no htlc_minimum m of the graph lies
// in (a_A, Amax], Amax bounding every amount a cheaper-than-found route can
// carry.
//
// Pass 1 prunes regardless and remembers the smallest such m it risked. Its
// best walk is a simple path (a cycle only adds cost, and the label it
// returns to dominates it). If no prune was risked within the Amax its
// result implies, it is the answer: nearly always on real payments, since
// thresholds rarely sit between an amount and the same amount plus fees.
// Otherwise pass 2 searches simple paths only, within maxhops and pass 1's
// cost, and prunes B by A only when that is safe for amounts and A's nodes
// are a subset of B's, so every continuation of B is one of A: exact and
// finite. (Walks instead of simple paths would need cycles, which an
// htlc_minimum can make pay, and there are too many of them.)
//
// maxhops: when the cheapest route is too long, CLN's find_shorter_route
// binary-searches an extra per-hop cost until a short route wins. That
// approximates the cheapest route within maxhops, and fails outright when its
// bias bound underflows. We find that route exactly instead: the same search
// with the hop count as a fourth label criterion and a hard limit.

// blocksPerYear is CLN's BLOCKS_PER_YEAR: riskfactor is a percentage a year.
const blocksPerYear = 52596

// maxLabels bounds one pass's memory (about 64 bytes a label), and
// maxWork the label comparisons of pass 2 (about 6 ms). Pass 2 can need
// them only for tiny payments whose fee budget spans an htlc_minimum
// threshold on a dense graph; past them a search returns pass 1's route,
// which is valid but may not be the cheapest, or else any route the
// feasibility search finds (feasible.go). Searches on the mainnet snapshot
// stay far below both.
const (
	maxLabels = 1 << 20
	maxWork   = 1 << 20
)

// enumBudget bounds the feasibility search's backtracking, in edges tried.
const enumBudget = 1 << 22

// query is one compiled search.
type query struct {
	src, dst uint32
	amount   MilliSat
	cltv     uint32
	rf       float64 // risk per block per msat
	bias     uint64  // riskbias added per hop
	maxHops  uint32  // 0: unconstrained; else labels carry hop counts
	fuzz     float64 // fraction, 0..1
	seed     Seed
	zeroSeed bool                // seed is the zero Seed, whose hashes the edges carry
	reuse    bool                // GetRouteParams.Reuse: search with a kept bound
	tab      []float64           // with reuse and a seed not zero: its channel hashes
	exclHalf map[uint32]struct{} // from Exclude
	exclNode map[uint32]struct{}
	avoid    *AvoidSet // from Avoid
	// firstMax is the largest htlc_maximum of the source's usable channels:
	// no amount on any route exceeds the first hop's, so none exceeds it.
	firstMax MilliSat
}

// label is one way of reaching node from the destination.
type label struct {
	amt    MilliSat // what node must receive, with real fees
	total  MilliSat // the same with fuzzed fees: CLN's "total"
	risk   uint64
	cost   uint64
	key    uint64 // cost + h[node]: the A* order
	hops   uint32
	node   uint32
	edge   int32 // index into g.in of the edge node→parent.node; -1 at the destination
	parent int32
	next   int32 // next label at the same node
	dead   bool
}

// workspace is the reusable memory of one search; Graph pools them.
type workspace struct {
	labels  []label
	head    []int32
	touched []uint32
	heap    []int32
	fuzzVal []float64
	fuzzSet []uint32 // generation that filled fuzzVal[i]; 0 is never current
	gen     uint32
	// h is, per node, a lower bound on the cost still to pay from that node
	// back to the source (A*); math.MaxUint64 where the source cannot reach.
	h []uint64
	// hc, when set, replaces h: a kept bound (keptBound) in 32 bits,
	// math.MaxUint32 where the source cannot reach.
	hc     []uint32
	rheap  radixHeap
	parked []parkedLabel // a heap, least key first
	// kept, with hc: the kept bound, whose order of hub channels the
	// first pass follows.
	kept *boundEntry
}

// parkedLabel is a label pass.ceil keeps out of the heap for now (pos
// -1), or the rest of a hub's channels, from position pos of the order, that
// label parent at node has still to offer.
type parkedLabel struct {
	s            state
	key          uint64 // the label's key, or a bound on the rest's keys
	node         uint32
	edge, parent int32
	pos          int32
}

// bound returns the A* bound of node n (see h).
func (w *workspace) bound(n uint32) uint64 {
	if w.hc == nil {
		return w.h[n]
	}
	if v := w.hc[n]; v != math.MaxUint32 {
		return uint64(v)
	}
	return math.MaxUint64
}

func (g *Graph) getWorkspace() *workspace {
	if w, ok := g.pool.Get().(*workspace); ok {
		return w
	}
	w := &workspace{head: make([]int32, len(g.ids)), fuzzVal: make([]float64, len(g.chans)), fuzzSet: make([]uint32, len(g.chans)), h: make([]uint64, len(g.ids))}
	for i := range w.head {
		w.head[i] = -1
	}
	return w
}

func (g *Graph) putWorkspace(w *workspace) {
	w.reset()
	w.hc, w.kept = nil, nil
	g.pool.Put(w)
}

// reset empties the label store, touching only the nodes the last pass used.
func (w *workspace) reset() {
	for _, n := range w.touched {
		w.head[n] = -1
	}
	w.touched = w.touched[:0]
	w.labels = w.labels[:0]
	w.heap = w.heap[:0]
	w.parked = w.parked[:0]
}

// state is the cost-function state at one node of a path.
type state struct {
	amt   MilliSat
	total MilliSat
	risk  uint64
	cost  uint64
	hops  uint32
}

// step crosses edge e backwards: from state s at e.to to its sender e.from.
// It is CLN's can_reach plus risk_add_fee, with one change: the htlc limits
// are checked against the amount the HTLC carries on e (s.amt), as BOLT 7
// defines them, where CLN v0.7 checked the sender's total including its own
// fee, which can hand out routes a real node refuses.
func (q *query) step(s state, e *edge, scale float64) (state, bool) {
	if s.amt < e.htlcMin || s.amt > e.htlcMax {
		return state{}, false
	}
	fee, err := Fee(s.amt, e.base, e.ppm)
	if err != nil {
		return state{}, false
	}
	fuzzed, err := Fee(s.total, e.base, e.ppm)
	if err != nil {
		return state{}, false
	}
	fuzzed, ok := applyFuzz(fuzzed, scale)
	if !ok {
		return state{}, false
	}
	n := state{amt: s.amt, total: s.total, risk: s.risk, hops: s.hops + 1}
	if q.maxHops != 0 && n.hops > q.maxHops {
		return state{}, false
	}
	if e.from == q.src {
		// Our own channel: we do not pay the fee, but CLN counts it as
		// risk so a channel discounted for a reason stays discounted.
		r, err := MilliSat(n.risk).Add(fuzzed)
		if err != nil {
			return state{}, false
		}
		n.risk = uint64(r)
	} else {
		if n.amt, err = s.amt.Add(fee); err != nil {
			return state{}, false
		}
		if n.total, err = s.total.Add(fuzzed); err != nil {
			return state{}, false
		}
	}
	r := float64(q.bias) + q.rf*float64(e.delay)*float64(n.total) + float64(n.risk)
	if r >= math.MaxUint64 {
		return state{}, false
	}
	n.risk = uint64(r)
	c, err := n.total.Add(MilliSat(n.risk))
	if err != nil {
		return state{}, false
	}
	n.cost = uint64(c)
	return n, true
}

// scale returns the fuzz factor of e's channel for this query; zeroHash is
// the edge's entry of inHash or outHash.
func (q *query) scale(g *Graph, w *workspace, e *edge, zeroHash float64) float64 {
	if q.fuzz == 0 {
		return 1
	}
	if q.zeroSeed {
		return scaleOf(zeroHash, q.fuzz)
	}
	c := e.half >> 1
	if q.tab != nil {
		return scaleOf(q.tab[c], q.fuzz)
	}
	if w.fuzzSet[c] != w.gen {
		w.fuzzVal[c] = fuzzScale(&q.seed, g.chans[c].scid, q.fuzz)
		w.fuzzSet[c] = w.gen
	}
	return w.fuzzVal[c]
}

// nextMinAbove returns the smallest htlc_minimum of a usable half-channel
// that is greater than a.
func (g *Graph) nextMinAbove(a MilliSat) (MilliSat, bool) {
	i := sort.Search(len(g.mins), func(i int) bool { return g.mins[i] > a })
	if i == len(g.mins) {
		return 0, false
	}
	return g.mins[i], true
}

// pass is one label-setting run.
type pass struct {
	g     *Graph
	q     *query
	w     *workspace
	safe  bool     // simple paths only; prune only when provably safe (pass 2)
	amax  MilliSat // with safe: no amount that matters exceeds this
	bound uint64   // with safe: labels costing more are dropped
	risky MilliSat // without safe: smallest htlc_minimum a prune risked
	over  bool     // the label or work budget ran out
	// ceil parks labels whose key exceeds it (math.MaxUint64: none) until
	// the heap runs dry; then it rises to the least parked key (unpark).
	// Parked labels take no part in dominance and cost no label or heap
	// work until then, if ever: a hub's thousands of channels cost their
	// step, or, in a kept order, nothing past the first above the ceiling.
	// Starting at the cost of a route, as treeCost gives, only labels that
	// A* must pop are made before the answer.
	ceil uint64
	// With an order: the bound weights' terms at the kept bound's amount.
	perMsat, biasF, rfAmt float64
	work                  int // label comparisons so far
}

// dominates reports whether label a makes a state s at the same node
// useless, and records or refuses the prunes that an htlc_minimum could
// make wrong.
func (p *pass) dominates(a *label, s state) bool {
	if a.amt > s.amt || a.total > s.total || a.risk > s.risk || (p.q.maxHops != 0 && a.hops > s.hops) {
		return false
	}
	if p.safe {
		if a.amt != s.amt {
			if m, ok := p.g.nextMinAbove(a.amt); ok && m <= p.amax {
				return false
			}
		}
		return true
	}
	if a.amt == s.amt {
		return true
	}
	if m, ok := p.g.nextMinAbove(a.amt); ok && m < p.risky {
		p.risky = m
	}
	return true
}

// onPath reports whether node lies on the path of label li.
func (w *workspace) onPath(li int32, node uint32) bool {
	for ; li >= 0; li = w.labels[li].parent {
		if w.labels[li].node == node {
			return true
		}
	}
	return false
}

// subset reports whether every node on label a's path is on label b's. It
// adds its cost, in parent links followed, to *work.
func (w *workspace) subset(a, b int32, work *int) bool {
	for ; a >= 0; a = w.labels[a].parent {
		found := false
		for x := b; x >= 0; x = w.labels[x].parent {
			*work++
			if w.labels[x].node == w.labels[a].node {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (p *pass) push(li int32) {
	w := p.w
	h := append(w.heap, li)
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !p.less(h[i], h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	w.heap = h
}

func (p *pass) less(a, b int32) bool {
	la, lb := &p.w.labels[a], &p.w.labels[b]
	if la.key != lb.key {
		return la.key < lb.key
	}
	return a < b
}

func (p *pass) pop() int32 {
	h := p.w.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		if r := l + 1; r < len(h) && p.less(h[r], h[l]) {
			l = r
		}
		if !p.less(h[l], h[i]) {
			break
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
	p.w.heap = h
	return top
}

func (p *pass) addLabel(node uint32, s state, edge, parent int32) {
	w := p.w
	if w.head[node] == -1 {
		w.touched = append(w.touched, node)
	}
	li := int32(len(w.labels))
	w.labels = append(w.labels, label{
		amt: s.amt, total: s.total, risk: s.risk, cost: s.cost, hops: s.hops,
		key: s.cost + w.bound(node), node: node, edge: edge, parent: parent, next: w.head[node],
	})
	w.head[node] = li
	p.push(li)
}

// run returns the index of the cheapest label at the source, or -1.
func (p *pass) run() int32 {
	q, w := p.q, p.w
	start := state{amt: q.amount, total: q.amount, cost: uint64(q.amount)}
	p.addLabel(q.dst, start, -1, -1)
	for {
		if len(w.heap) == 0 && !p.unpark() {
			return -1
		}
		li := p.pop()
		cur := &w.labels[li]
		if cur.dead {
			continue
		}
		if cur.node == q.src {
			return li
		}
		if q.nodeExcluded(cur.node) {
			continue // every channel into an excluded node is unusable
		}
		if !p.expand(li, p.g.inStart[cur.node]) {
			return -1
		}
	}
}

// expand offers the labels label li leads to over the channels into its
// node, from position k of their order on; false when the budget ran out.
// A hub's channels, with a kept order (boundEntry.order), come cheapest
// bound first: at the first whose key's bound exceeds the ceiling, the
// rest wait, parked as one, for the ceiling to rise.
func (p *pass) expand(li int32, k uint32) bool {
	g, q, w := p.g, p.q, p.w
	cur := &w.labels[li]
	s := state{amt: cur.amt, total: cur.total, risk: cur.risk, cost: cur.cost, hops: cur.hops}
	node := cur.node
	end := g.inStart[node+1]
	sorted := w.kept != nil && !p.safe && end-g.inStart[node] >= hubDegree
	if sorted {
		w.kept.sortHub(g, node)
	}
	for ; k < end; k++ {
		ei := k
		if sorted {
			ei = uint32(w.kept.order[k])
		}
		e := &g.in[ei]
		if s.amt > e.htlcMax {
			if sorted {
				continue
			}
			break // edges come largest htlc_maximum first
		}
		if e.from == q.dst {
			continue // a route visits the destination once
		}
		if q.halfExcluded(e.half) {
			continue
		}
		hb := w.bound(e.from)
		if hb == math.MaxUint64 {
			if sorted {
				break // the order puts them last
			}
			continue // a label that can never reach the source
		}
		sc := q.scale(g, w, e, g.inHash[ei])
		if sorted {
			// The order's own key bound (orderKey), so the rest's are no
			// less: park them all.
			if est := s.cost + hb + boundInc(e, sc, p.perMsat, p.biasF, p.rfAmt); est > p.ceil {
				w.park(parkedLabel{node: node, parent: li, pos: int32(k), key: est})
				return true
			}
		}
		n, ok := q.step(s, e, sc)
		if !ok || n.amt > q.firstMax || (e.from != q.src && n.amt > g.maxIn[e.from]) {
			continue // a label that can never reach the source
		}
		if key := n.cost + hb; key > p.ceil {
			w.park(parkedLabel{s: n, node: e.from, edge: int32(ei), parent: li, pos: -1, key: key})
			continue
		}
		if p.safe && (n.cost+hb > p.bound || w.onPath(li, e.from)) {
			continue
		}
		if !p.offer(n, e.from, int32(ei), li) {
			return false
		}
	}
	return true
}

// offer adds the label of state n at node, reached over edge from label
// parent, unless a label there dominates it, and kills those it dominates.
// It returns false when the budget ran out (p.over).
func (p *pass) offer(n state, node uint32, edge, parent int32) bool {
	w := p.w
	// The candidate's path is parent's plus node, which ends every path
	// compared here: subset tests compare the parents' paths.
	for qi := w.head[node]; qi >= 0; qi = w.labels[qi].next {
		other := &w.labels[qi]
		p.work++
		if !other.dead && p.dominates(other, n) && (!p.safe || w.subset(other.parent, parent, &p.work)) {
			return true
		}
	}
	cand := label{amt: n.amt, total: n.total, risk: n.risk, hops: n.hops}
	for qi := w.head[node]; qi >= 0; qi = w.labels[qi].next {
		other := &w.labels[qi]
		if !other.dead && p.dominates(&cand, state{amt: other.amt, total: other.total, risk: other.risk, hops: other.hops}) &&
			(!p.safe || w.subset(parent, other.parent, &p.work)) {
			other.dead = true
		}
	}
	if len(w.labels) >= maxLabels || (p.safe && p.work >= maxWork) {
		p.over = true
		return false
	}
	p.addLabel(node, n, edge, parent)
	return true
}

// unpark raises the ceiling (see pass.ceil) to the least parked key and
// offers the parked labels under it, or goes on with the hub channels
// parked; false when none is left or the budget ran out. Every parked key
// exceeds the old ceiling and so every key popped so far: labels still
// leave the heap in key order, and none is made before its key is the
// least there is, save those under a ceiling given at the start.
func (p *pass) unpark() bool {
	w := p.w
	for len(w.parked) > 0 && !p.over {
		p.ceil = w.parked[0].key
		for len(w.parked) > 0 && w.parked[0].key <= p.ceil {
			c := w.unparkMin()
			switch {
			case c.pos >= 0:
				// A hub's channels from c.pos on; a label killed since
				// is dominated by one that expands in its place.
				if !w.labels[c.parent].dead && !p.expand(c.parent, uint32(c.pos)) {
					return false
				}
			case !p.offer(c.s, c.node, c.edge, c.parent):
				return false
			}
		}
		if len(w.heap) > 0 {
			return true
		}
	}
	return false
}

// park adds c to the parked heap, least key first.
func (w *workspace) park(c parkedLabel) {
	h := append(w.parked, c)
	i := len(h) - 1
	for i > 0 {
		up := (i - 1) / 2
		if h[up].key <= h[i].key {
			break
		}
		h[i], h[up] = h[up], h[i]
		i = up
	}
	w.parked = h
}

// unparkMin removes and returns a parked item of least key.
func (w *workspace) unparkMin() parkedLabel {
	h := w.parked
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		if r := l + 1; r < len(h) && h[r].key < h[l].key {
			l = r
		}
		if h[i].key <= h[l].key {
			break
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
	w.parked = h
	return top
}

// reuseBound is q's kept bound if q reuses and it is kept (keptBound).
func (g *Graph) reuseBound(q *query) *boundEntry {
	if !q.reuse {
		return nil
	}
	return g.keptBound(q, false)
}

// path returns the edges of the walk ending at label li, source first.
func (w *workspace) path(li int32) []int32 {
	var edges []int32
	for ; w.labels[li].edge >= 0; li = w.labels[li].parent {
		edges = append(edges, w.labels[li].edge)
	}
	return edges
}

// found is the outcome of one exact search.
type found struct {
	edges []int32 // indexes into g.in, source first
	cost  uint64
}

// find returns the cheapest simple path for q within maxHops channels, or
// ok=false if none exists.
func (g *Graph) find(q *query, maxHops int) (found, bool) {
	if q.firstMax < q.amount || g.maxIn[q.dst] < q.amount {
		// No channel of the source can carry it, or none into the
		// destination: the first hop carries the most, the last exactly it.
		return found{}, false
	}
	w := g.getWorkspace()
	defer g.putWorkspace(w)
	w.gen++ // the fuzz cache is per query: seed and percent vary
	p := &pass{g: g, q: q, w: w, risky: math.MaxUint64, ceil: math.MaxUint64}
	if b := g.reuseBound(q); b != nil {
		w.hc, w.kept = b.h, b
		amt := float64(bucketAmount(q.amount))
		p.perMsat, p.biasF, p.rfAmt = amt/1e6, float64(q.bias), q.rf*amt
		if w.bound(q.dst) != math.MaxUint64 {
			// Start from the cost of the bound's own path when q can use
			// it, else from the destination's key.
			p.ceil = uint64(q.amount) + w.bound(q.dst)
			if c := g.treeCost(q, b, maxHops); c != math.MaxUint64 && c >= p.ceil {
				p.ceil = c
			}
		}
	} else {
		g.lowerBounds(q, w)
	}
	if w.bound(q.dst) == math.MaxUint64 {
		return found{}, false // the source reaches nothing that reaches it
	}
	li := p.run()

	var first found
	amax, bound := q.firstMax, uint64(math.MaxUint64)
	if li >= 0 {
		first = g.result(w, li)
		bound, amax = first.cost, min(amax, q.amountBound(first.cost))
	}
	if !p.over && (p.risky == math.MaxUint64 || p.risky > amax) {
		return first, li >= 0 // pass 1 risked no prune that matters: exact
	}
	w.reset()
	// No route is longer than maxHops, so pass 2 walks no further; that also
	// keeps it finite when pass 1 found nothing to bound its cost.
	q2 := *q
	q2.maxHops = uint32(maxHops)
	q = &q2
	p2 := &pass{g: g, q: q, w: w, safe: true, amax: amax, bound: bound, ceil: math.MaxUint64}
	if li2 := p2.run(); li2 >= 0 {
		return g.result(w, li2), true
	}
	if p2.over && li < 0 {
		// Out of budget with nothing from pass 1: find any route there is.
		return g.feasible(q, w, maxHops)
	}
	return first, li >= 0
}

func (g *Graph) result(w *workspace, li int32) found {
	l := w.labels[li]
	return found{edges: w.path(li), cost: l.cost}
}

// amountBound returns an upper bound on the real amount any label costing at
// most cost can carry (see the package comment of the search).
func (q *query) amountBound(cost uint64) MilliSat {
	if q.fuzz == 0 {
		return MilliSat(cost) // amount == total <= total + risk
	}
	if q.fuzz >= 1 {
		return math.MaxUint64
	}
	// A fuzzed fee floor(f*s), s >= 1-fuzz, is more than f*(1-fuzz) - 1, so
	// the real fees sum to less than (total-amount+hops)/(1-fuzz), and hops
	// are at most the risk (each adds the riskbias of 1).
	extra := float64(cost-uint64(q.amount))/(1-q.fuzz) + 2
	b := float64(q.amount) + extra
	if b >= math.MaxUint64 {
		return math.MaxUint64
	}
	return MilliSat(b)
}
