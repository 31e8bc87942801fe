package graph

import "math"

// The min-cost-flow solver: successive shortest paths with potentials
// (Ahuja, Magnanti & Orlin, Network Flows, section 9.7) on the convex arcs
// of flow_network.go.
//
// Each arc's four pieces act as four parallel arcs of increasing cost; the
// cheapest residual one forward is the first piece not full, and backward
// (undoing flow) the last piece holding flow, so one arc stands for all
// eight residual arcs and Dijkstra reads a piece index from the arc's flow.
// Every cost is >= 0, so zero potentials start the reduced costs >= 0, and
// each round keeps them so: Dijkstra stops once the destination is settled
// at reduced distance D, and every node v gets pi(v) += min(d(v), D). For an
// arc u→v with u settled, d(v) <= d(u) + rc, so the new reduced cost stays
// >= 0; with u not settled, min(d(u), D) = D >= min(d(v), D). The shortest
// path's arcs end at reduced cost 0, so their reverses are >= 0 too. Adding
// D to every node changes no reduced cost, so only the settled nodes are
// touched: pi(v) += d(v) - D.
//
// Each round sends, along the shortest path, as much as fits in the pieces
// it uses (the cost is linear only within a piece), and at most what is
// left of the demand. Integral capacities keep every flow integral, and a
// successive-shortest-path flow is a minimum-cost flow of its value
// (Network Flows, theorem 9.11); flow_solver_test.go checks that against
// cycle cancelling on thousands of random networks.

// flowWork is the reusable memory of one flow query; Graph pools them.
type flowWork struct {
	net  flowNet
	flow []int64 // units per arc (g.out index)
	pi   []int64 // potentials per node
	dist []int64 // reduced distance per node, valid where seen == gen
	seen []uint32
	done []uint32 // settled in round gen
	gen  uint32
	prev []int32 // arc into the node on the path: a<<1 forward, a<<1|1 backward
	// flowing links, per node, the arcs with flow into it: backward
	// residual arcs, few and found without scanning a hub's channels.
	inHead  []int32
	inNext  []int32
	settled []uint32
	rheap   radixHeap
	path    []int32
}

func (g *Graph) getFlowWork() *flowWork {
	if w, ok := g.flowPool.Get().(*flowWork); ok {
		return w
	}
	n := len(g.ids)
	w := &flowWork{
		pi: make([]int64, n), dist: make([]int64, n), seen: make([]uint32, n), done: make([]uint32, n),
		prev: make([]int32, n), inHead: make([]int32, n),
	}
	for i := range w.inHead {
		w.inHead[i] = -1
	}
	return w
}

func (g *Graph) putFlowWork(w *flowWork) { g.flowPool.Put(w) }

// solveResult is what one solve found.
type solveResult struct {
	sent   int64 // units delivered: the demand unless infeasible
	cost   int64 // total cost of the flow
	rounds int
}

// solve sends net.demand units from src to dst at least cost on the arcs of
// w.net; w.flow holds the flow after. If less can be sent, it sends the most
// it can (sent < demand) at least cost for that value.
func (g *Graph) solve(w *flowWork, src, dst uint32) solveResult {
	net := &w.net
	w.flow = grow(w.flow, len(g.out))
	w.inNext = grow(w.inNext, len(g.out))
	clear(w.flow)
	clear(w.pi)
	for i := range w.inHead {
		w.inHead[i] = -1
	}
	var res solveResult
	for res.sent < net.demand {
		d, ok := g.shortest(w, src, dst)
		if !ok {
			break
		}
		res.rounds++
		// The bottleneck: what fits in the pieces the path uses.
		delta := net.demand - res.sent
		w.path = w.path[:0]
		for v := dst; v != src; {
			pa := w.prev[v]
			a := int(pa >> 1)
			e := &g.out[a]
			f, capc := w.flow[a], &net.capc[a]
			if pa&1 == 0 {
				k := fwdPiece(capc, f)
				delta = min(delta, capc[k]-f)
				v = e.from
			} else {
				k := backPiece(capc, f)
				base := int64(0)
				if k > 0 {
					base = capc[k-1]
				}
				delta = min(delta, f-base)
				v = e.to
			}
			w.path = append(w.path, pa)
		}
		for _, pa := range w.path {
			a := int(pa >> 1)
			if pa&1 == 0 {
				k := fwdPiece(&net.capc[a], w.flow[a])
				res.cost += delta * net.cost[a][k]
				if w.flow[a] == 0 {
					to := g.out[a].to
					w.inNext[a] = w.inHead[to]
					w.inHead[to] = int32(a)
				}
				w.flow[a] += delta
			} else {
				k := backPiece(&net.capc[a], w.flow[a])
				res.cost -= delta * net.cost[a][k]
				w.flow[a] -= delta
				if w.flow[a] == 0 {
					w.unlink(g, a)
				}
			}
		}
		res.sent += delta
		// Potentials: settled nodes by d(v) - D (see above).
		for _, v := range w.settled {
			w.pi[v] += w.dist[v] - d
		}
	}
	return res
}

// unlink removes arc a from its receiver's list of arcs with flow.
func (w *flowWork) unlink(g *Graph, a int) {
	to := g.out[a].to
	p := &w.inHead[to]
	for *p != int32(a) {
		p = &w.inNext[*p]
	}
	*p = w.inNext[a]
}

// fwdPiece returns the first piece of an arc with room above flow f; the
// caller knows f < capc[last].
func fwdPiece(capc *[flowPieces]int64, f int64) int {
	k := 0
	for capc[k] <= f {
		k++
	}
	return k
}

// backPiece returns the last piece holding flow f > 0: capc[k-1] < f <= capc[k].
func backPiece(capc *[flowPieces]int64, f int64) int {
	k := 0
	for capc[k] < f {
		k++
	}
	return k
}

// shortest runs Dijkstra on reduced costs from src on the residual network
// until dst is settled, leaving w.dist, w.prev and w.settled, and returns
// dst's reduced distance; ok is false when dst cannot be reached.
func (g *Graph) shortest(w *flowWork, src, dst uint32) (int64, bool) {
	net := &w.net
	w.gen++
	if w.gen == 0 { // wrapped: clear the stamps
		clear(w.seen)
		clear(w.done)
		w.gen = 1
	}
	gen := w.gen
	w.settled = w.settled[:0]
	rh := &w.rheap
	rh.reset()
	w.dist[src], w.seen[src] = 0, gen
	rh.push(0, src)
	relax := func(v uint32, d int64, pa int32) {
		if w.seen[v] != gen || d < w.dist[v] {
			w.dist[v], w.seen[v], w.prev[v] = d, gen, pa
			rh.push(uint64(d), v)
		}
	}
	for rh.size > 0 {
		top := rh.pop()
		u := top.node
		if w.done[u] == gen || int64(top.d) > w.dist[u] {
			continue
		}
		w.done[u] = gen
		w.settled = append(w.settled, u)
		du := w.dist[u]
		if u == dst {
			return du, true
		}
		piU := w.pi[u]
		for a := g.outStart[u]; a < g.outStart[u+1]; a++ {
			v := g.out[a].to
			if w.done[v] == gen {
				continue // settled: no shorter way there (and no need to build a)
			}
			net.arc(int32(a))
			capc := &net.capc[a]
			f := w.flow[a]
			if f >= capc[flowPieces-1] {
				continue
			}
			rc := net.cost[a][fwdPiece(capc, f)] + piU - w.pi[v]
			relax(v, du+max(rc, 0), int32(a)<<1)
		}
		for a := w.inHead[u]; a >= 0; a = w.inNext[a] {
			v := g.out[a].from
			if w.done[v] == gen {
				continue
			}
			rc := -net.cost[a][backPiece(&net.capc[a], w.flow[a])] + piU - w.pi[v]
			relax(v, du+max(rc, 0), a<<1|1)
		}
	}
	return math.MaxInt64, false
}

// single finds the path that carries the whole demand at least cost: each
// arc weighs what the demand costs on it (its pieces filled in order, a
// convex sum), and arcs that cannot carry the demand are left out. Costs
// are >= 0, so one Dijkstra finds it exactly; it is the min-cost flow under
// the constraint of one part. w.flow holds that path's flow after; ok is
// false when no path can carry the demand.
func (g *Graph) single(w *flowWork, src, dst uint32) (cost int64, ok bool) {
	net := &w.net
	w.flow = grow(w.flow, len(g.out))
	clear(w.flow)
	w.gen++
	if w.gen == 0 {
		clear(w.seen)
		clear(w.done)
		w.gen = 1
	}
	gen, demand := w.gen, net.demand
	rh := &w.rheap
	rh.reset()
	w.dist[src], w.seen[src] = 0, gen
	rh.push(0, src)
	for rh.size > 0 {
		top := rh.pop()
		u := top.node
		if w.done[u] == gen || int64(top.d) > w.dist[u] {
			continue
		}
		w.done[u] = gen
		if u == dst {
			for v := dst; v != src; v = g.out[w.prev[v]>>1].from {
				w.flow[w.prev[v]>>1] = demand
			}
			return w.dist[dst], true
		}
		for a := g.outStart[u]; a < g.outStart[u+1]; a++ {
			v := g.out[a].to
			if w.done[v] == gen {
				continue
			}
			net.arc(int32(a))
			if net.capc[a][flowPieces-1] < demand {
				continue
			}
			d := w.dist[u] + net.arcCost(int(a), demand)
			if w.seen[v] != gen || d < w.dist[v] {
				w.dist[v], w.seen[v], w.prev[v] = d, gen, int32(a)<<1
				rh.push(uint64(d), v)
			}
		}
	}
	return math.MaxInt64, false
}
