package graph

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Kept bounds: what a caller that searches from one source again and again
// (pay, from our node) saves by asking with GetRouteParams.Reuse.
//
// The A* bound of a one-off search (lowerBounds) is cut short after a few
// hundred nodes, and for a fresh seed it hashes every channel it meets;
// with it, a search from our node on mainnet makes about 2,000 labels,
// most of them at the hubs, whose thousands of channels all get one. A
// search with Reuse instead:
//   - takes its seed's channel hashes from the layout (seedTables): no
//     siphash per channel met;
//   - once its key (source, seed, amount bucket, riskfactor, riskbias,
//     fuzz) has come keepAfter times in the snapshot, takes a bound
//     computed once over the whole graph and kept with the snapshot
//     (keptBound), tight to the msat (with the seed's own fuzz per channel;
//     a bound with every channel's least scale, 1-fuzz, made pass 1 scan 5
//     to 10 times as many labels);
//   - starts under a ceiling, the cost of the bound's own path to the
//     destination priced for the query (treeCost), and parks labels above
//     it until they are the least there is (pass.ceil), so it makes only
//     labels A* must pop, about 100;
//   - takes a hub's channels in the bound's order (boundEntry.order), so
//     those above the ceiling are not even stepped.
//
// The kept bound is a lower bound for every search of its key, so the
// route found is the cheapest, as without Reuse:
//   - every channel's bound weight grows with the amount, so a bound for the
//     bucket's amount, at most the payment's, is at most the payment's;
//   - a bound ignoring exclusions is at most one that honours them, as is
//     one that keeps channels too small for the payment but not the bucket.
//
// A seed's channel hashes depend on the scids only, so they are kept per
// layout (shared by every snapshot WithPolicies makes); bounds depend on
// the policies, so each snapshot has its own, which WithPolicies makes
// from the old one's, repaired where an update may have lowered them
// (inheritBounds). Both are bounded (least recently used go first): on
// mainnet the seeds' tables take at most 3.3 MB and a snapshot's bounds
// 8 MB, so under 20 MB even while an old snapshot, held by searches under
// way, and its successor both keep theirs. Among routes of
// equal cost, which one a search returns can depend on whether its key's
// bound is kept yet; the cost cannot.

const (
	// keptSeeds is how many seeds' channel hashes a layout keeps: 8 bytes
	// a channel, 0.4 MB each on mainnet.
	keptSeeds = 8
	// keptBoundBytes bounds one snapshot's kept bounds: 12 bytes a node
	// and 4 a usable half-channel (boundSize), 0.47 MB each on mainnet,
	// so 17 of them: 8 seeds at two amounts.
	keptBoundBytes = 8 << 20
	// bucketsPerOctave is how finely amounts are bucketed: a bound is
	// computed for the bucket's least amount, within 2^(1/8) of the
	// payment's. The search is that sensitive to a bound's slack: on
	// mainnet at 1,000 sat, a bound for the exact amount took 43 us a
	// query, 2^(1/4) below 66 us, half the amount 555 us.
	bucketsPerOctave = 8
	// seenKeys bounds the count of searches of keys not kept yet.
	seenKeys = 4096
)

// keepAfter is how many searches of one key (a snapshot's) come before its
// bound is kept: a full bound costs a few one-off searches, so an amount
// met once, as most are with amounts that vary, is not worth one (a
// variable for tests).
var keepAfter uint8 = 4

// hubDegree is the least number of channels into a node for the search to
// take them in a kept bound's order (a variable for tests of small graphs).
var hubDegree uint32 = 16

// boundSlack is what each channel's bound weight leaves out for rounding:
// a fuzzed fee trunc(Fee(a)*s), with Fee(a) > base + a*ppm/1e6 - 1, is
// more than (base + a*ppm/1e6)*s - s - 1, and the truncated risk more than
// its real value less 1; s is at most 2.
const boundSlack = 4

// boundInc is a lower bound on what a route's cost grows by over e when the
// amount it carries there is at least the one perMsat and rfAmt were
// computed for (see lowerBounds).
func boundInc(e *edge, scale, perMsat, bias, rfAmt float64) uint64 {
	if inc := (float64(e.base)+float64(e.ppm)*perMsat)*scale + bias + rfAmt*float64(e.delay) - boundSlack; inc > 0 {
		return uint64(inc) // far below 2^63: amounts and fees are bounded
	}
	return 0
}

// seedTables keeps the fuzz hashes of the seeds searches reuse, per
// channel index, for one layout.
type seedTables struct {
	mu     sync.Mutex
	tick   uint64
	tables map[Seed]*seedTable
}

type seedTable struct {
	once sync.Once
	hash []float64 // per channel index: fuzzHash(seed, scid)
	used uint64    // tick of the last use, under seedTables.mu
}

// dropLeastUsed deletes the entry of m whose used tick is least: the
// caches hold a handful of entries, so a scan is cheaper than a list.
func dropLeastUsed[K comparable, V any](m map[K]V, used func(V) uint64) {
	var old K
	oldest := uint64(math.MaxUint64)
	for k, v := range m {
		if u := used(v); u < oldest {
			old, oldest = k, u
		}
	}
	delete(m, old)
}

// table returns seed's hash of every channel of g's layout, computing it
// on first use.
func (s *seedTables) table(g *Graph, seed *Seed) []float64 {
	s.mu.Lock()
	if s.tables == nil {
		s.tables = make(map[Seed]*seedTable)
	}
	s.tick++
	t, ok := s.tables[*seed]
	if !ok {
		if len(s.tables) >= keptSeeds {
			dropLeastUsed(s.tables, func(t *seedTable) uint64 { return t.used })
		}
		t = &seedTable{}
		s.tables[*seed] = t
	}
	t.used = s.tick
	s.mu.Unlock()
	t.once.Do(func() {
		h := make([]float64, len(g.chans))
		for i := range g.chans {
			h[i] = fuzzHash(seed, g.chans[i].scid)
		}
		t.hash = h
	})
	return t.hash
}

// boundKey is what a kept bound depends on besides the snapshot.
type boundKey struct {
	src    uint32
	amount MilliSat // the bucket's least amount
	rf     float64
	fuzz   float64
	bias   uint64
	seed   Seed
}

// boundCache holds one snapshot's kept bounds.
type boundCache struct {
	mu      sync.Mutex
	tick    uint64
	bytes   int
	entries map[boundKey]*boundEntry
	seen    map[boundKey]uint8 // searches of keys not kept (yet)
}

type boundEntry struct {
	once sync.Once
	h    []uint32 // per node; math.MaxUint32: unreachable
	// pred is, per node, the g.out index of the last channel of a path
	// from the source whose bound weights sum to h; -1 at the source and
	// where it cannot reach. Its path to the destination, priced for the
	// query, gives the search a ceiling (treeCost).
	pred []int32
	// order lists, per hub (hubDegree channels in or more), its g.in
	// indexes by orderKey, least first, at the hub's own positions of
	// g.in; a search drops a hub's channels from the first whose key bound
	// exceeds its ceiling (pass.expand). A hub's run is sorted when a
	// search first expands it (ordered), so a bound costs only its
	// Dijkstra up front: sorting every hub took twice as long.
	order   []int32
	ordered []atomic.Bool // per node: its run of order is filled
	orderMu sync.Mutex    // fills order
	key     boundKey
	tab     []float64
	ready   atomic.Bool // h and pred are filled (for inheritBounds)
	used    uint64      // tick of the last use, under boundCache.mu
}

// boundSize is what one kept bound of g takes.
func (g *Graph) boundSize() int { return 12*len(g.ids) + 4*len(g.in) }

// bucketAmount returns the least amount of a's bucket: the largest
// 2^(k/bucketsPerOctave), rounded down, that is at most a.
func bucketAmount(a MilliSat) MilliSat {
	if a < 16 {
		return a
	}
	k := math.Floor(bucketsPerOctave * math.Log2(float64(a)))
	return min(MilliSat(math.Exp2(k/bucketsPerOctave)), a)
}

// keptBound returns the kept bound for q, computing it if it is not kept
// and its key has come keepAfter times (always, with force), or nil.
func (g *Graph) keptBound(q *query, force bool) *boundEntry {
	k := boundKey{src: q.src, amount: bucketAmount(q.amount), rf: q.rf, fuzz: q.fuzz, bias: q.bias}
	if q.fuzz != 0 {
		k.seed = q.seed // without fuzz the seed changes nothing
	}
	c := &g.bounds
	c.mu.Lock()
	if c.entries == nil {
		c.entries = make(map[boundKey]*boundEntry)
	}
	c.tick++
	e, ok := c.entries[k]
	if !ok && !force {
		if c.seen == nil || len(c.seen) >= seenKeys {
			c.seen = make(map[boundKey]uint8)
		}
		if c.seen[k]++; c.seen[k] < keepAfter {
			c.mu.Unlock()
			return nil
		}
		delete(c.seen, k)
	}
	if !ok {
		size := g.boundSize()
		for c.bytes+size > keptBoundBytes && len(c.entries) > 0 {
			dropLeastUsed(c.entries, func(e *boundEntry) uint64 { return e.used })
			c.bytes -= size
		}
		e = &boundEntry{}
		c.entries[k] = e
		c.bytes += size
	}
	e.used = c.tick
	c.mu.Unlock()
	e.once.Do(func() {
		e.key, e.tab = k, q.tab
		e.h, e.pred = g.fullBound(&k, q.tab)
		e.order = make([]int32, len(g.in))
		e.ordered = make([]atomic.Bool, len(g.ids))
		e.ready.Store(true)
	})
	return e
}

// fullBound is lowerBounds run to the end, from k's source over every
// channel that can carry k's amount, exclusions ignored: the least cost
// any route adds between the source and each node. tab is the seed's
// channel hashes (nil for the zero seed or no fuzz). Distances are kept in
// 32 bits, those beyond cut to math.MaxUint32-1 (still a lower bound).
func (g *Graph) fullBound(k *boundKey, tab []float64) ([]uint32, []int32) {
	d := make([]uint64, len(g.ids))
	pred := make([]int32, len(g.ids))
	for i := range d {
		d[i], pred[i] = math.MaxUint64, -1
	}
	amt := float64(k.amount)
	perMsat, bias, rfAmt := amt/1e6, float64(k.bias), k.rf*amt
	d[k.src] = 0
	var rh radixHeap
	rh.push(0, k.src)
	for rh.size > 0 {
		top := rh.pop()
		if top.d > d[top.node] {
			continue // stale
		}
		for ei := g.outStart[top.node]; ei < g.outStart[top.node+1]; ei++ {
			e := &g.out[ei]
			if e.htlcMax < k.amount {
				break // edges come largest htlc_maximum first
			}
			if e.to == k.src {
				continue
			}
			if nd := top.d + boundInc(e, k.scale(tab, e.half, g.outHash[ei]), perMsat, bias, rfAmt); nd < d[e.to] {
				d[e.to], pred[e.to] = nd, int32(ei)
				rh.push(nd, e.to)
			}
		}
	}
	return narrowBound(d), pred
}

// scale is a channel's fuzz factor under k: from tab, a seed's kept
// hashes, when set, else from hash, the zero seed's kept with the snapshot.
func (k *boundKey) scale(tab []float64, half uint32, hash float64) float64 {
	switch {
	case k.fuzz == 0:
		return 1
	case tab != nil:
		return scaleOf(tab[half>>1], k.fuzz)
	}
	return scaleOf(hash, k.fuzz)
}

// narrowBound stores distances in 32 bits: a larger one is cut down to
// the largest finite value, still a lower bound; unreachable stays
// MaxUint32.
func narrowBound(d []uint64) []uint32 {
	h := make([]uint32, len(d))
	for i, v := range d {
		h[i] = uint32(min(v, math.MaxUint32-1))
		if v == math.MaxUint64 {
			h[i] = math.MaxUint32
		}
	}
	return h
}

// treeCost prices, for q, the path to q.dst that b's pred gives: its cost
// as the search counts it, or math.MaxUint64 if q cannot use it (an
// exclusion, an htlc limit at q's amounts, more than maxHops channels).
// No cheaper route than the cheapest is dropped by a search that drops
// labels whose key exceeds it (see pass.ceil).
func (g *Graph) treeCost(q *query, b *boundEntry, maxHops int) uint64 {
	var path [DefaultMaxHops + 1]int32
	n := 0
	for v := q.dst; v != q.src; {
		oi := b.pred[v]
		if oi < 0 || n == len(path) || n == maxHops {
			return math.MaxUint64
		}
		path[n] = oi
		n++
		v = g.out[oi].from
	}
	s := state{amt: q.amount, total: q.amount, cost: uint64(q.amount)}
	for _, oi := range path[:n] {
		e := &g.out[oi]
		if q.nodeExcluded(e.to) || q.halfExcluded(e.half) {
			return math.MaxUint64
		}
		scale := 1.0
		switch {
		case q.fuzz == 0:
		case q.zeroSeed:
			scale = scaleOf(g.outHash[oi], q.fuzz)
		default:
			scale = scaleOf(q.tab[e.half>>1], q.fuzz)
		}
		var ok bool
		if s, ok = q.step(s, e, scale); !ok {
			return math.MaxUint64
		}
	}
	return s.cost
}

// orderKey is a lower bound, less the label's cost, on the key of a label
// that crosses g.in[ei] backwards: the channel's bound weight at the
// bound's amount plus its sender's bound. pass.expand computes the same
// from the same terms, so a hub's order is its order.
func (b *boundEntry) orderKey(g *Graph, ei uint32) uint64 {
	e := &g.in[ei]
	if b.h[e.from] == math.MaxUint32 {
		return math.MaxUint64
	}
	k := &b.key
	amt := float64(k.amount)
	return uint64(b.h[e.from]) + boundInc(e, k.scale(b.tab, e.half, g.inHash[ei]), amt/1e6, float64(k.bias), k.rf*amt)
}

// sortHub fills hub v's run of b.order, once.
func (b *boundEntry) sortHub(g *Graph, v uint32) {
	if b.ordered[v].Load() {
		return
	}
	b.orderMu.Lock()
	defer b.orderMu.Unlock()
	if b.ordered[v].Load() {
		return
	}
	type keyed struct {
		key uint64
		ei  int32
	}
	lo, hi := g.inStart[v], g.inStart[v+1]
	run := make([]keyed, 0, hi-lo)
	for i := lo; i < hi; i++ {
		run = append(run, keyed{b.orderKey(g, i), int32(i)})
	}
	slices.SortFunc(run, func(x, y keyed) int {
		if c := cmp.Compare(x.key, y.key); c != 0 {
			return c
		}
		return cmp.Compare(x.ei, y.ei)
	})
	for i, r := range run {
		b.order[lo+uint32(i)] = r.ei
	}
	b.ordered[v].Store(true) // after the run is written: readers load it first
}

// inheritBounds gives ng, made from g by WithPolicies with the half-channels
// changed, the bounds g keeps, repaired: a channel_update that raises a
// fee or disables a channel leaves a bound a lower bound (looser), one that
// lowers a fee or enables a channel may not, so from each such channel a
// Dijkstra lowers what it must, over ng's channels. So a stream of updates
// does not make every snapshot compute its bounds afresh.
func (ng *Graph) inheritBounds(g *Graph, changed []uint32) {
	g.bounds.mu.Lock()
	type kept struct {
		k boundKey
		e *boundEntry
	}
	var list []kept
	for k, e := range g.bounds.entries {
		if e.ready.Load() {
			list = append(list, kept{k, e})
		}
	}
	g.bounds.mu.Unlock()
	if len(list) == 0 {
		return
	}
	outOf := make([]int32, len(ng.policy)) // half-channel → index in ng.out
	for i := range outOf {
		outOf[i] = -1
	}
	for i := range ng.out {
		outOf[ng.out[i].half] = int32(i)
	}
	c := &ng.bounds
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = make(map[boundKey]*boundEntry, len(list))
	for _, x := range list {
		ne := &boundEntry{key: x.k, tab: x.e.tab, used: x.e.used}
		ne.h, ne.pred = ng.repairBound(g, x.e, &x.k, changed, outOf)
		ne.order = make([]int32, len(ng.in))
		ne.ordered = make([]atomic.Bool, len(ng.ids))
		ne.once.Do(func() {}) // filled here, not by keptBound
		ne.ready.Store(true)
		c.entries[x.k] = ne
		c.bytes += ng.boundSize()
		c.tick = max(c.tick, x.e.used)
	}
}

// repairBound returns old's bound, made for g, as a bound for ng (see
// inheritBounds), with its paths' channels renumbered for ng.out.
func (ng *Graph) repairBound(g *Graph, old *boundEntry, k *boundKey, changed []uint32, outOf []int32) ([]uint32, []int32) {
	d := make([]uint64, len(old.h))
	pred := make([]int32, len(old.pred))
	for v, x := range old.h {
		d[v] = uint64(x)
		if x == math.MaxUint32 {
			d[v] = math.MaxUint64
		}
		pred[v] = -1
		if oi := old.pred[v]; oi >= 0 {
			pred[v] = outOf[g.out[oi].half] // -1 if no longer usable
		}
	}
	amt := float64(k.amount)
	perMsat, bias, rfAmt := amt/1e6, float64(k.bias), k.rf*amt
	relax := func(rh *radixHeap, ei int32) {
		e := &ng.out[ei]
		if e.htlcMax < k.amount || e.to == k.src || d[e.from] == math.MaxUint64 {
			return
		}
		if nd := d[e.from] + boundInc(e, k.scale(old.tab, e.half, ng.outHash[ei]), perMsat, bias, rfAmt); nd < d[e.to] {
			d[e.to], pred[e.to] = nd, ei
			rh.push(nd, e.to)
		}
	}
	var rh radixHeap
	for _, h := range changed {
		if ei := outOf[h]; ei >= 0 {
			relax(&rh, ei)
		}
	}
	for rh.size > 0 {
		top := rh.pop()
		if top.d > d[top.node] {
			continue // stale
		}
		for ei := ng.outStart[top.node]; ei < ng.outStart[top.node+1]; ei++ {
			if ng.out[ei].htlcMax < k.amount {
				break // edges come largest htlc_maximum first
			}
			relax(&rh, int32(ei))
		}
	}
	return narrowBound(d), pred
}
