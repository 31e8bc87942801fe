package graph

import (
	"fmt"
	"slices"
)

// From a flow in units to routes in msat.
//
// 1. Decompose: walk from the source along arcs that still carry flow, the
//    largest first, until the destination (a path: take its bottleneck off
//    every arc) or a node already on the walk (a cycle: take its bottleneck
//    off, it only added cost). Every unit of flow ends in exactly one path.
// 2. Fit the limits: keep the largest paths, at most maxParts of them and
//    none below the minimum part (the largest is always kept, so a payment
//    below the minimum goes whole); the units of the others are moved onto
//    the kept paths, largest kept path first, each taking what its arcs
//    still have room for (up to the 95% of the range the network offers).
//    That stays within the capacities the solver had; it may cost more than
//    a flow solved for so few parts, which is the price of the limit. If the
//    kept paths cannot take them all, the plan falls back to the best single
//    path (single in flow_solver.go), which is also what maxParts = 1 gets:
//    exact there, since one Dijkstra on the cost of the whole demand per arc
//    finds the cheapest one-part flow. Only if no path carries it all does
//    the plan fail.
// 3. Exact amounts: units × unit overshoots the amount by less than a unit;
//    the largest part gives that back. Each part becomes a Route with the
//    fees added backward from its delivered amount (buildRoute, as
//    getroute), then the checks the units could not make exactly run on
//    msat: htlc_minimum and htlc_maximum per part and channel, each
//    channel's total against its upper bound, delays, the fee budget. A
//    failed check names the arc to cut, and PlanFlow solves again.

// flowPath is one path of a decomposed flow.
type flowPath struct {
	arcs  []int32 // g.out indexes, source first
	units int64
}

// decompose splits w.flow into paths from src to dst, dropping cycles. It
// consumes w.flow.
func (g *Graph) decompose(w *flowWork, src, dst uint32) []flowPath {
	// The arcs with flow, by sender: few, so a small index is cheap.
	var arcs []int32
	for a, f := range w.flow {
		if f > 0 {
			arcs = append(arcs, int32(a))
		}
	}
	slices.SortFunc(arcs, func(x, y int32) int {
		if fx, fy := w.flow[x], w.flow[y]; fx != fy {
			if fx > fy {
				return -1
			}
			return 1
		}
		return int(x - y)
	})
	out := make(map[uint32][]int32, len(arcs))
	for _, a := range arcs {
		from := g.out[a].from
		out[from] = append(out[from], a)
	}
	next := func(u uint32) int32 {
		for _, a := range out[u] {
			if w.flow[a] > 0 {
				return a
			}
		}
		return -1
	}
	var paths []flowPath
	pos := make(map[uint32]int) // node -> index in walk of the arc leaving it
	for {
		first := next(src)
		if first < 0 {
			return paths
		}
		walk := []int32{}
		clear(pos)
		u := src
		for u != dst {
			a := next(u)
			if a < 0 {
				break // cannot happen while flow is conserved
			}
			pos[u] = len(walk)
			walk = append(walk, a)
			u = g.out[a].to
			if i, seen := pos[u]; seen {
				cycle := walk[i:]
				take := w.flow[cycle[0]]
				for _, c := range cycle {
					take = min(take, w.flow[c])
				}
				for _, c := range cycle {
					w.flow[c] -= take
				}
				for _, c := range cycle {
					delete(pos, g.out[c].from)
				}
				walk = walk[:i] // and go on from u, where the cycle began
			}
		}
		if u != dst {
			return paths
		}
		take := w.flow[walk[0]]
		for _, a := range walk {
			take = min(take, w.flow[a])
		}
		for _, a := range walk {
			w.flow[a] -= take
		}
		paths = append(paths, flowPath{arcs: walk, units: take})
	}
}

// fitParts keeps at most maxParts paths, none below minUnits but the
// largest, and moves the units of the rest onto the kept ones (method in
// the comment above). It leaves w.flow holding the kept paths' flow.
func (g *Graph) fitParts(w *flowWork, paths []flowPath, maxParts int, minUnits int64) ([]flowPath, error) {
	slices.SortStableFunc(paths, func(x, y flowPath) int {
		switch {
		case x.units > y.units:
			return -1
		case x.units < y.units:
			return 1
		}
		return 0
	})
	var kept []flowPath
	var rest int64
	for i, p := range paths {
		if i == 0 || (len(kept) < maxParts && p.units >= minUnits) {
			kept = append(kept, p)
		} else {
			rest += p.units
		}
	}
	clear(w.flow)
	for _, p := range kept {
		for _, a := range p.arcs {
			w.flow[a] += p.units
		}
	}
	for i := range kept {
		if rest == 0 {
			break
		}
		room := rest
		for _, a := range kept[i].arcs {
			room = min(room, w.net.capc[a][flowPieces-1]-w.flow[a])
		}
		if room <= 0 {
			continue
		}
		for _, a := range kept[i].arcs {
			w.flow[a] += room
		}
		kept[i].units += room
		rest -= room
	}
	if rest > 0 {
		return nil, fmt.Errorf("%w: the %d largest of %d paths cannot take %s more", ErrFlowCapacity, len(kept), len(paths), MilliSat(rest)*w.net.unit)
	}
	return kept, nil
}

// planned is a candidate plan: routes and what the checks found.
type planned struct {
	parts []FlowPart
	fee   MilliSat
	prob  float64
	// cuts are arcs to cap before solving again; delayOver and feeOver say
	// a part was too slow or the whole too dear.
	cuts      []arcCut
	delayOver bool
	feeOver   bool
}

// routes turns the kept paths into exact-msat routes and checks them.
func (g *Graph) routes(w *flowWork, paths []flowPath, amount, maxFee MilliSat, finalCLTV, maxDelay uint32) (*planned, error) {
	net := &w.net
	amounts := make([]MilliSat, len(paths))
	var sum MilliSat
	for i, p := range paths {
		amounts[i] = MilliSat(p.units) * net.unit
		sum += amounts[i]
	}
	amounts[0] -= sum - amount // paths[0] is the largest; the excess is below a unit
	pl := &planned{prob: 1}
	used := make(map[int32]MilliSat) // msat each arc carries, parts so far
	var cutAt = func(a int32, over MilliSat) {
		units := int64((over + net.unit - 1) / net.unit)
		pl.cuts = append(pl.cuts, arcCut{arc: a, units: net.capc[a][flowPieces-1] - units})
	}
	es := make([]*edge, 0, 20)
	for i, p := range paths {
		es = es[:0]
		for _, a := range p.arcs {
			es = append(es, &g.out[a])
		}
		r, err := g.buildRoute(es, amounts[i], finalCLTV)
		if err != nil {
			return nil, err
		}
		prob := 1.0
		for j, a := range p.arcs {
			e, x := &g.out[a], r[j].Amount
			switch {
			case x < e.htlcMin:
				pl.cuts = append(pl.cuts, arcCut{arc: a, units: 0})
			case x > e.htlcMax:
				cutAt(a, x-e.htlcMax)
			}
			u := used[a]
			lo, hi := net.bounds(a)
			if total := u + x; total > hi {
				cutAt(a, total-hi)
			}
			prob *= condProbability(lo, hi, u, x)
			used[a] = u + x
		}
		if r[0].Delay > maxDelay {
			pl.delayOver = true
		}
		pl.fee += r[0].Amount - amounts[i]
		pl.prob *= prob
		pl.parts = append(pl.parts, FlowPart{Route: r, ProbabilityPPM: uint32(prob * 1e6)})
	}
	pl.feeOver = pl.fee > maxFee
	return pl, nil
}

// condProbability is the chance that a channel direction with liquidity
// uniform in [lo, hi] carries x more msat once it has carried used: the
// bounds move down by used. The product over a channel's parts is the
// chance it carries their sum, P(used+x)/P(used) telescoping.
func condProbability(lo, hi, used, x MilliSat) float64 {
	if used > hi {
		return 0
	}
	lo, hi = subFloor(lo, used), hi-used
	switch {
	case x <= lo:
		return 1
	case x > hi:
		return 0
	}
	return float64(hi+1-x) / float64(hi+1-lo)
}

// buildRoute turns a path of edges into hops, amounts and delays built
// backward from the destination with the real fees; the first channel's own
// fee and delta are not added, since we do not pay ourselves.
func (g *Graph) buildRoute(es []*edge, amount MilliSat, cltv uint32) (Route, error) {
	r := make(Route, len(es))
	amt, delay := amount, cltv
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		r[i] = Hop{
			ID: g.ids[e.to], Channel: g.chans[e.half/2].scid, Direction: uint8(e.half % 2),
			Amount: amt, Delay: delay, Style: "tlv",
		}
		if i == 0 {
			break
		}
		fee, err := Fee(amt, e.base, e.ppm)
		if err != nil {
			return nil, fmt.Errorf("graph: route amount: %w", err)
		}
		if amt, err = amt.Add(fee); err != nil {
			return nil, fmt.Errorf("graph: route amount: %w", err)
		}
		if delay+e.delay < delay {
			return nil, fmt.Errorf("graph: route delay overflows")
		}
		delay += e.delay
	}
	return r, nil
}
