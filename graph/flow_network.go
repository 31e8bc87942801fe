package graph

import (
	"math"
)

// The flow network: every usable half-channel of the snapshot, indexed as in
// g.out, becomes one arc from its sender to its receiver whose cost is
// piecewise linear and convex in its flow, as in Core Lightning's askrene
// (plugins/askrene/mcf.c) after Pickhardt & Richter (arXiv 2107.05322).
//
// Flow is counted in units of unit msat, about a thousandth of the amount,
// so the solver needs few augmentations on mainnet; the routes built from
// it carry exact msat amounts (flow_decompose.go).
//
// Liquidity inside known bounds [lo, hi] is uniform, so forwarding x succeeds
// with P(x) = 1 for x <= lo and (hi+1-x)/(hi+1-lo) for lo <= x <= hi, and
// -ln P is convex. Four pieces linearise it: piece 0 is [0, lo] at no
// probability cost; pieces 1 to 3 end where P has fallen to 1/2, 1/5 and
// 1/20 of the way from lo to hi (flowPivots), each at the slope of -ln P's
// chord over it. Nothing beyond 95% of the range is offered, as in askrene.
//
// Each piece's cost per unit adds a fee term, the same for all four:
// feeWeight × (fee rate) / demand, so the objective sums to
// -ln P + feeWeight × fee/amount (in nano-nats): feeWeight is how many nats
// a fee of the whole amount is worth, and PlanFlow raises it until the fee
// budget holds. The fee rate is the channel's ppm plus its base fee spread
// as askrene does (base × 10^7 / amount ppm: as if a tenth of the amount
// crossed it), plus delayWeight ppm per block of cltv_expiry_delta.

// flowPieces is the number of linear pieces per arc.
const flowPieces = 4

// flowPivots are the fractions of [lo, hi] where pieces 1..3 end.
var flowPivots = [flowPieces]float64{0, 0.5, 0.8, 0.95}

// flowSlopes[k] is -ln P's chord slope over piece k, times the range's
// width: the cost per unit of piece k is flowSlopes[k] / (hi-lo in units).
var flowSlopes = func() [flowPieces]float64 {
	var s [flowPieces]float64
	for k := 1; k < flowPieces; k++ {
		s[k] = (math.Log(1-flowPivots[k-1]) - math.Log(1-flowPivots[k])) / (flowPivots[k] - flowPivots[k-1])
	}
	return s
}()

// flowNanoNats is the cost scale: one nat of -ln P costs this much.
const flowNanoNats = 1e9

// maxArcCost bounds one unit's cost on one piece, so sums over any path and
// any flow stay far inside int64 (17k nodes × 1000 units × 1e13 < 2^63).
const maxArcCost = 1e13

// maxFlowUnits is how many units the amount is cut into, at most.
const maxFlowUnits = 1000

// flowNet is one query's network over a snapshot's g.out arcs. Arcs are
// built lazily, the first time a solve reads them (net.arc), so a plan costs
// in proportion to the part of the graph its searches reach, not the
// whole snapshot.
type flowNet struct {
	g      *Graph
	p      netParams
	cuts   []arcCut
	unit   MilliSat // msat per unit of flow
	demand int64    // units to send: ceil(amount/unit)
	// capc[a][k] is the cumulative capacity, in units, of pieces 0..k of
	// arc a; capc[a][flowPieces-1] == 0 means the arc is not offered.
	capc [][flowPieces]int64
	// cost[a][k] is the cost of one unit on piece k: non-decreasing in k.
	cost  [][flowPieces]int64
	built []uint32 // generation that built arc a; gen is the current one
	gen   uint32
	// lo and hi are an arc's liquidity bounds from the Liquidity, where
	// known[a] == plan; the other arcs have the prior.
	lo, hi []MilliSat
	known  []uint32
	plan   uint32
	// feeScale and basePenalty are the fee term's factors (see above).
	feeScale, basePenalty float64
}

// flowUnit returns the unit of flow for an amount: ceil(amount/1000), at
// least 1 msat, as askrene's accuracy.
func flowUnit(amount MilliSat) MilliSat {
	u := amount / maxFlowUnits
	if u*maxFlowUnits < amount {
		u++
	}
	return max(u, 1)
}

// netParams are the knobs one network is built with.
type netParams struct {
	src, dst    uint32
	amount      MilliSat
	feeWeight   float64 // nats per fee of the whole amount
	delayWeight float64 // ppm of fee rate per block of delay
	sourceFree  bool
	avoid       *AvoidSet
}

// arcCut caps one arc's capacity, in units.
type arcCut struct {
	arc   int32
	units int64
}

// reset readies net for a plan on g: sizes the arrays and records what liq
// knows (the prior [0, min(capacity, htlc_maximum)], narrowed by liq's
// bounds, less what liq has reserved).
func (net *flowNet) reset(g *Graph, liq Liquidity) {
	n := len(g.out)
	net.g = g
	g.flowOnce.Do(func() {
		g.outPrior = make([]MilliSat, len(g.out))
		halfOut := make([]int32, len(g.policy))
		for a := range g.out {
			g.outPrior[a] = g.prior(&g.out[a])
			halfOut[g.out[a].half] = int32(a)
		}
		g.inOut = make([]int32, len(g.in))
		for i := range g.in {
			g.inOut[i] = halfOut[g.in[i].half]
		}
	})
	if len(net.capc) != n {
		net.capc = make([][flowPieces]int64, n)
		net.cost = make([][flowPieces]int64, n)
		net.built = make([]uint32, n)
		net.lo = make([]MilliSat, n)
		net.hi = make([]MilliSat, n)
		net.known = make([]uint32, n)
		net.gen, net.plan = 0, 0
	}
	net.plan++
	if net.plan == 0 {
		clear(net.known)
		net.plan = 1
	}
	if liq == nil {
		return
	}
	liq.EachBound(func(d SCIDDir, lo, hi, reserved MilliSat) {
		a, ok := g.outIndex(d)
		if !ok {
			return
		}
		h := min(hi, g.prior(&g.out[a]))
		l := min(lo, h)
		net.lo[a], net.hi[a], net.known[a] = subFloor(l, reserved), subFloor(h, reserved), net.plan
	})
}

// bounds returns arc a's liquidity bounds in msat.
func (net *flowNet) bounds(a int32) (lo, hi MilliSat) {
	if net.known[a] == net.plan {
		return net.lo[a], net.hi[a]
	}
	return 0, net.g.outPrior[a]
}

// prior is a half-channel's bounds before anything is learned: its
// capacity or its htlc_maximum, whichever is less.
func (g *Graph) prior(e *edge) MilliSat {
	c := MilliSat(math.MaxUint64)
	if capSat := g.chans[e.half/2].capacity; capSat < math.MaxUint64/1000 {
		c = MilliSat(capSat * 1000)
	}
	return min(c, e.htlcMax)
}

func subFloor(a, b MilliSat) MilliSat {
	if a < b {
		return 0
	}
	return a - b
}

// outIndex returns the g.out index of a usable half-channel.
func (g *Graph) outIndex(d SCIDDir) (int, bool) {
	c, ok := g.byscid[d.SCID]
	if !ok || d.Dir > 1 {
		return 0, false
	}
	h := 2*c + uint32(d.Dir)
	from := g.chans[c].nodes[d.Dir]
	for i := g.outStart[from]; i < g.outStart[from+1]; i++ {
		if g.out[i].half == h {
			return int(i), true
		}
	}
	return 0, false
}

// setup starts a new network on the plan's bounds: every arc is rebuilt
// from p and cuts when first read.
func (net *flowNet) setup(p *netParams, cuts []arcCut) {
	net.p, net.cuts = *p, cuts
	net.unit = flowUnit(p.amount)
	net.demand = int64((p.amount + net.unit - 1) / net.unit)
	net.feeScale = flowNanoNats * p.feeWeight / 1e6 / float64(net.demand)
	net.basePenalty = 1e7 / float64(p.amount)
	net.gen++
	if net.gen == 0 {
		clear(net.built)
		net.gen = 1
	}
}

// arc builds arc a's pieces if this network has not yet.
func (net *flowNet) arc(a int32) {
	if net.built[a] != net.gen {
		net.build(a)
	}
}

// buildAll builds every arc, for callers that read them all (tests).
func (net *flowNet) buildAll() {
	for a := range net.g.out {
		net.arc(int32(a))
	}
}

func (net *flowNet) build(a int32) {
	net.built[a] = net.gen
	p, e := &net.p, &net.g.out[a]
	capc, cost := &net.capc[a], &net.cost[a]
	*capc = [flowPieces]int64{}
	if e.htlcMin > p.amount || (p.avoid != nil && (p.avoid.hasHalf(e.half) || p.avoid.hasNode(e.from) || p.avoid.hasNode(e.to))) ||
		e.to == p.src || e.from == p.dst {
		return // no part can use it, or it leads back to the source or on from the destination
	}
	lo, hi := net.bounds(a)
	limit := min(int64(hi/net.unit), net.demand)
	for _, c := range net.cuts {
		if c.arc == a {
			limit = min(limit, c.units)
		}
	}
	if limit <= 0 {
		return
	}
	rate := 0.0
	if !(p.sourceFree && e.from == p.src) {
		rate = float64(e.ppm) + float64(e.base)*net.basePenalty + p.delayWeight*float64(e.delay)
	}
	fee := math.Min(rate*net.feeScale, maxArcCost)
	unit := float64(net.unit)
	width := float64(hi-lo) / unit // the range in units
	for k := 0; k < flowPieces; k++ {
		end := int64(lo / net.unit)
		if k > 0 {
			end = int64((float64(lo) + flowPivots[k]*float64(hi-lo)) / unit)
		}
		capc[k] = min(end, limit)
		c := fee
		if k > 0 {
			capc[k] = max(capc[k], capc[k-1])
			if width > 0 {
				c += math.Min(flowNanoNats*flowSlopes[k]/width, maxArcCost)
			}
		}
		cost[k] = int64(c + 0.5)
		if k > 0 {
			cost[k] = max(cost[k], cost[k-1]) // convex, whatever rounding did
		}
	}
}

// grow returns s resized to n, reusing its memory.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// arcCost returns the cost of f units on arc a: the pieces filled in order.
func (net *flowNet) arcCost(a int, f int64) int64 {
	var c, prev int64
	for k := 0; k < flowPieces && f > prev; k++ {
		take := min(f, net.capc[a][k]) - prev
		if take > 0 {
			c += take * net.cost[a][k]
		}
		prev = max(prev, net.capc[a][k])
	}
	return c
}

// endCapacity bounds the flow from src to dst: the units the arcs out of
// src can take, and those into dst, whichever is less. A plan whose demand
// exceeds it is refused at once, where the solver would saturate piece
// after piece before finding out.
func (net *flowNet) endCapacity(src, dst uint32) int64 {
	g := net.g
	var in, out int64
	for i := g.inStart[dst]; i < g.inStart[dst+1]; i++ {
		a := g.inOut[i]
		net.arc(a)
		in += net.capc[a][flowPieces-1]
	}
	for a := g.outStart[src]; a < g.outStart[src+1]; a++ {
		net.arc(int32(a))
		out += net.capc[a][flowPieces-1]
	}
	return min(in, out)
}
