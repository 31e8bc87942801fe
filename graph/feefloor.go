package graph

import "math"

// FeeFloor is at most the fee of any route GetRoute can return for p,
// whatever its seed, riskfactor and fuzz, on this snapshot: the least fee
// a path from p.FromID to p.ID pays if each channel charges for
// p.AmountMsat, the least any hop carries (fees grow with the amount). Our
// own first channel charges us nothing. It keeps p.Exclude out but not
// p.Avoid (remembered failures expire; a pay's exclusions only grow), and
// it ignores htlc_minimum and MaxHops, which only take routes away. It
// fails with ErrNoRoute if no path can carry the amount at all.
//
// pay asks for it when a route is over its fee budget: if the floor is over
// it too, no route pay can be given will do, however many channels v0.7's
// loop goes on excluding.
func (g *Graph) FeeFloor(p GetRouteParams) (MilliSat, error) {
	p.Avoid, p.Reuse = nil, false
	q, _, err := g.compile(&p)
	if err != nil {
		return 0, err
	}
	w := g.getWorkspace()
	defer g.putWorkspace(w)
	d := w.h
	for i := range d {
		d[i] = math.MaxUint64
	}
	rh := &w.rheap
	rh.reset()
	d[q.src] = 0
	rh.push(0, q.src)
	for rh.size > 0 {
		top := rh.pop()
		if top.d > d[top.node] {
			continue // stale
		}
		if top.node == q.dst {
			return MilliSat(top.d), nil
		}
		for ei := g.outStart[top.node]; ei < g.outStart[top.node+1]; ei++ {
			e := &g.out[ei]
			if e.htlcMax < q.amount {
				break // edges come largest htlc_maximum first
			}
			if e.to == q.src || q.excluded(e) {
				continue
			}
			var fee MilliSat
			if top.node != q.src {
				if fee, err = Fee(q.amount, e.base, e.ppm); err != nil {
					continue
				}
			}
			if nd, err := MilliSat(top.d).Add(fee); err == nil && uint64(nd) < d[e.to] {
				d[e.to] = uint64(nd)
				rh.push(uint64(nd), e.to)
			}
		}
	}
	return 0, ErrNoRoute
}
