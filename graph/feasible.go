package graph

import (
	"math"
	"sort"
)

// Feasibility, for when the search gives up (see maxWork): which amounts can
// a node receive from the source over exactly h channels? Along one path
// every step is monotone (an HTLC of y arrives as y + fee(y)), so the
// amounts a path admits form an interval, and a node's set is a union of
// intervals, one union per hop count. From those sets a backtracking walk
// from the destination only ever steps to a sender that can still be reached
// from the source, so it finds a simple route quickly, or shows that no walk,
// and so no route, exists.

// interval is an inclusive range of amounts.
type interval struct{ lo, hi MilliSat }

// spans is a sorted union of disjoint intervals.
type spans []interval

func (s spans) contains(a MilliSat) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].hi >= a })
	return i < len(s) && s[i].lo <= a
}

// merge sorts and joins overlapping or adjacent intervals.
func (s spans) merge() spans {
	if len(s) < 2 {
		return s
	}
	sort.Slice(s, func(i, j int) bool { return s[i].lo < s[j].lo })
	out := s[:1]
	for _, iv := range s[1:] {
		last := &out[len(out)-1]
		if last.hi == math.MaxUint64 || iv.lo <= last.hi+1 {
			if iv.hi > last.hi {
				last.hi = iv.hi
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// forwarded returns the smallest y with y + fee(y) >= a, the amount a node
// must forward over e so it receives at least a (fee is monotone in y).
func forwarded(a MilliSat, e *edge, atLeast bool) (MilliSat, bool) {
	lo, hi := MilliSat(0), a
	recv := func(y MilliSat) (MilliSat, bool) {
		fee, err := Fee(y, e.base, e.ppm)
		if err != nil {
			return 0, false
		}
		r, err := y.Add(fee)
		return r, err == nil
	}
	if atLeast {
		// smallest y with recv(y) >= a
		for lo < hi {
			mid := lo + (hi-lo)/2
			if r, ok := recv(mid); !ok || r >= a {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		r, ok := recv(lo)
		return lo, ok && r >= a
	}
	// largest y with recv(y) <= a
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if r, ok := recv(mid); ok && r <= a {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	r, ok := recv(lo)
	return lo, ok && r <= a
}

// reachable returns, per hop count h (index h-1), the amounts each node can
// receive from the source over exactly h channels, never passing through the
// destination or back through the source.
func (g *Graph) reachable(q *query, maxHops int) []map[uint32]spans {
	levels := make([]map[uint32]spans, 0, maxHops)
	cur := map[uint32]spans{}
	for ei := g.outStart[q.src]; ei < g.outStart[q.src+1]; ei++ {
		e := &g.out[ei]
		if q.excluded(e) {
			continue
		}
		cur[e.to] = append(cur[e.to], interval{e.htlcMin, e.htlcMax})
	}
	for n := range cur {
		cur[n] = cur[n].merge()
	}
	for h := 1; h <= maxHops && len(cur) > 0; h++ {
		levels = append(levels, cur)
		if h == maxHops {
			break
		}
		next := map[uint32]spans{}
		for n, sp := range cur {
			if n == q.dst {
				continue
			}
			for ei := g.outStart[n]; ei < g.outStart[n+1]; ei++ {
				e := &g.out[ei]
				if e.to == q.src || q.excluded(e) {
					continue
				}
				for _, iv := range sp {
					lo, ok1 := forwarded(iv.lo, e, true)
					hi, ok2 := forwarded(iv.hi, e, false)
					lo, hi = max(lo, e.htlcMin), min(hi, e.htlcMax)
					if ok1 && ok2 && lo <= hi {
						next[e.to] = append(next[e.to], interval{lo, hi})
					}
				}
			}
		}
		for n := range next {
			next[n] = next[n].merge()
		}
		cur = next
	}
	return levels
}

// excluded reports whether edge e may not be used by q.
func (q *query) excluded(e *edge) bool { return q.nodeExcluded(e.to) || q.halfExcluded(e.half) }

// feasible finds some simple route for q within maxHops channels, fewest
// hops first, guided by reachable; ok=false means none exists (within
// enumBudget steps of backtracking).
func (g *Graph) feasible(q *query, w *workspace, maxHops int) (found, bool) {
	levels := g.reachable(q, maxHops)
	onPath := make([]bool, len(g.ids))
	var stack []int32
	steps := 0
	// failed remembers states that could not be completed. A state can fail
	// only because its path blocked every way on, so this can, rarely, hide a
	// route that a different path prefix would allow; without it the
	// backtracking is exponential.
	type key struct {
		node uint32
		amt  MilliSat
		h    int
	}
	failed := map[key]bool{}
	// extract walks back from node, which must receive amt, using exactly h
	// more channels.
	var extract func(node uint32, amt MilliSat, h int) bool
	extract = func(node uint32, amt MilliSat, h int) bool {
		onPath[node] = true
		defer func() { onPath[node] = false }()
		for ei := g.inStart[node]; ei < g.inStart[node+1] && steps < enumBudget; ei++ {
			steps++
			e := &g.in[ei]
			if amt < e.htlcMin || amt > e.htlcMax || q.excluded(e) || onPath[e.from] {
				continue
			}
			if h == 1 {
				if e.from == q.src {
					stack = append(stack, int32(ei))
					return true
				}
				continue
			}
			if e.from == q.src || e.from == q.dst {
				continue
			}
			fee, err := Fee(amt, e.base, e.ppm)
			if err != nil {
				continue
			}
			need, err := amt.Add(fee)
			if err != nil || !levels[h-2][e.from].contains(need) || failed[key{e.from, need, h - 1}] {
				continue
			}
			stack = append(stack, int32(ei))
			if extract(e.from, need, h-1) {
				return true
			}
			failed[key{e.from, need, h - 1}] = true
			stack = stack[:len(stack)-1]
		}
		return false
	}
	for h := 1; h <= len(levels); h++ {
		if !levels[h-1][q.dst].contains(q.amount) {
			continue
		}
		stack = stack[:0]
		if extract(q.dst, q.amount, h) {
			edges := make([]int32, len(stack))
			for i, ei := range stack {
				edges[len(stack)-1-i] = ei
			}
			return g.evaluate(q, w, edges)
		}
	}
	return found{}, false
}

// evaluate prices a path (source first) with the search's step function.
func (g *Graph) evaluate(q *query, w *workspace, edges []int32) (found, bool) {
	s := state{amt: q.amount, total: q.amount, cost: uint64(q.amount)}
	for i := len(edges) - 1; i >= 0; i-- {
		e := &g.in[edges[i]]
		n, ok := q.step(s, e, q.scale(g, w, e, g.inHash[edges[i]]))
		if !ok {
			return found{}, false
		}
		s = n
	}
	return found{edges: edges, cost: s.cost}, true
}
