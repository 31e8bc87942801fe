package graph

import (
	"flag"
	"math"
	"math/rand/v2"
	"testing"
)

var flowN = flag.Int("graph.flows", 3000, "random small networks TestSolveMatchesCycleCancelling checks")

// refNet is the reference's network: every piece of every arc as its own
// arc, with its reverse for the residual graph (arc i^1).
type refNet struct {
	n    int
	from []int
	to   []int
	cap  []int64 // residual capacity
	cost []int64
}

func (r *refNet) add(u, v int, c, cost int64) {
	r.from = append(r.from, u, v)
	r.to = append(r.to, v, u)
	r.cap = append(r.cap, c, 0)
	r.cost = append(r.cost, cost, -cost)
}

// newRefNet expands net's arcs into one arc per piece.
func newRefNet(g *Graph, net *flowNet) *refNet {
	r := &refNet{n: len(g.ids)}
	for a := range g.out {
		e := &g.out[a]
		prev := int64(0)
		for k := 0; k < flowPieces; k++ {
			if c := net.capc[a][k] - prev; c > 0 {
				r.add(int(e.from), int(e.to), c, net.cost[a][k])
			}
			prev = max(prev, net.capc[a][k])
		}
	}
	return r
}

// maxFlow pushes up to want units from s to t along shortest augmenting
// paths in hops (Edmonds-Karp), ignoring cost, and returns what it sent.
func (r *refNet) maxFlow(s, t int, want int64) int64 {
	var sent int64
	for sent < want {
		prev := make([]int, r.n)
		for i := range prev {
			prev[i] = -1
		}
		queue := []int{s}
		prev[s] = -2
		for len(queue) > 0 && prev[t] == -1 {
			u := queue[0]
			queue = queue[1:]
			for i := range r.from {
				if r.from[i] == u && r.cap[i] > 0 && prev[r.to[i]] == -1 {
					prev[r.to[i]] = i
					queue = append(queue, r.to[i])
				}
			}
		}
		if prev[t] == -1 {
			return sent
		}
		d := want - sent
		for v := t; v != s; v = r.from[prev[v]] {
			d = min(d, r.cap[prev[v]])
		}
		for v := t; v != s; v = r.from[prev[v]] {
			r.cap[prev[v]] -= d
			r.cap[prev[v]^1] += d
		}
		sent += d
	}
	return sent
}

// cancelCycles removes negative-cost cycles from the residual graph with
// Bellman-Ford until none is left: then the flow has the least cost of all
// flows of its value (Network Flows, theorem 9.1, the negative cycle
// optimality condition).
func (r *refNet) cancelCycles() {
	for {
		dist := make([]int64, r.n) // a virtual source reaching every node at 0
		pred := make([]int, r.n)
		for i := range pred {
			pred[i] = -1
		}
		last := -1
		for round := 0; round < r.n; round++ {
			last = -1
			for i := range r.from {
				if r.cap[i] > 0 && dist[r.from[i]]+r.cost[i] < dist[r.to[i]] {
					dist[r.to[i]] = dist[r.from[i]] + r.cost[i]
					pred[r.to[i]] = i
					last = r.to[i]
				}
			}
			if last < 0 {
				return
			}
		}
		// A node changed in round n: walk back n times to land on the cycle.
		v := last
		for i := 0; i < r.n; i++ {
			v = r.from[pred[v]]
		}
		d := int64(1) << 62
		for u := v; ; {
			d = min(d, r.cap[pred[u]])
			if u = r.from[pred[u]]; u == v {
				break
			}
		}
		for u := v; ; {
			r.cap[pred[u]] -= d
			r.cap[pred[u]^1] += d
			if u = r.from[pred[u]]; u == v {
				break
			}
		}
	}
}

// cost is the cost of the flow the residual graph holds.
func (r *refNet) flowCost() int64 {
	var c int64
	for i := 1; i < len(r.from); i += 2 {
		c += r.cap[i] * r.cost[i-1] // the reverse holds the flow
	}
	return c
}

// flowCase is a random network and query for the solver tests.
type flowCase struct {
	g      *Graph
	params FlowParams
	np     netParams
}

// newFlowCase draws a graph of up to 8 nodes (parallel channels, disabled
// directions and the htlc corners of randomPolicy), liquidity bounds for
// some directions, an amount near the channels' size, and the knobs.
func newFlowCase(r *rand.Rand) flowCase {
	// Most random graphs join nothing: draw again, a few times, until the
	// source reaches the destination over usable channels.
	tc := newRandomCase(r)
	for try := 0; try < 10 && !reaches(tc.g, tc.params.FromID, tc.params.ID); try++ {
		tc = newRandomCase(r)
	}
	g, nodes := tc.g, tc.nodes
	liq := LiquidityMap{}
	g.Channels(func(c ChannelInfo) bool {
		for d := uint8(0); d < 2; d++ {
			if r.IntN(2) == 0 {
				continue
			}
			hi := MilliSat(r.Uint64N(c.Capacity*1000 + 1))
			if r.IntN(4) == 0 {
				hi = MilliSat(c.Capacity * 2000) // above the prior: capped
			}
			lo := MilliSat(r.Uint64N(uint64(hi) + 1))
			if r.IntN(5) == 0 {
				lo = hi // exact, like our own channels
			}
			b := ChannelBounds{Lo: lo, Hi: hi}
			if r.IntN(5) == 0 {
				b.Reserved = MilliSat(r.Uint64N(uint64(hi) + 1))
			}
			liq[SCIDDir{c.SCID, d}] = b
		}
		return true
	})
	p := FlowParams{Source: tc.params.FromID, Destination: tc.params.ID, Liquidity: liq}
	switch r.IntN(4) {
	case 0:
		p.Amount = MilliSat(1 + r.Uint64N(5000)) // units of 1 msat
	default:
		p.Amount = MilliSat(1 + r.Uint64N(6_000_000_000))
	}
	if r.IntN(3) == 0 {
		var chans []SCIDDir
		g.Channels(func(c ChannelInfo) bool {
			if r.IntN(5) == 0 {
				chans = append(chans, SCIDDir{c.SCID, uint8(r.IntN(2))})
			}
			return true
		})
		var avoidNodes []NodeID
		if r.IntN(3) == 0 {
			avoidNodes = append(avoidNodes, nodes[r.IntN(len(nodes))])
		}
		p.Avoid = g.NewAvoidSet(chans, avoidNodes)
	}
	p.SourceFree = r.IntN(2) == 0
	np := netParams{src: g.index[p.Source], dst: g.index[p.Destination], amount: p.Amount,
		feeWeight:   []float64{0, flowFeeWeight0, 1000, flowFeeWeightMax}[r.IntN(4)],
		delayWeight: []float64{0, 1, 100}[r.IntN(3)], sourceFree: p.SourceFree, avoid: p.Avoid}
	return flowCase{g: g, params: p, np: np}
}

// checkFlow verifies w.flow is a flow of the value and cost solve reported:
// within every arc's capacity, conserved at every node but the ends, and
// costing res.cost with the pieces filled in order.
func checkFlow(t *testing.T, i int, g *Graph, w *flowWork, src, dst uint32, res solveResult) {
	t.Helper()
	bal := make([]int64, len(g.ids))
	var cost int64
	for a, f := range w.flow {
		if f < 0 || f > w.net.capc[a][flowPieces-1] {
			t.Fatalf("case %d: arc %d carries %d of %d", i, a, f, w.net.capc[a][flowPieces-1])
		}
		bal[g.out[a].from] -= f
		bal[g.out[a].to] += f
		cost += w.net.arcCost(a, f)
	}
	for v, b := range bal {
		want := int64(0)
		switch uint32(v) {
		case src:
			want = -res.sent
		case dst:
			want = res.sent
		}
		if b != want {
			t.Fatalf("case %d: node %d balance %d, want %d", i, v, b, want)
		}
	}
	if cost != res.cost {
		t.Fatalf("case %d: the flow costs %d, solve said %d", i, cost, res.cost)
	}
}

// On seeded random networks of up to 8 nodes, the solver sends as much as a
// max-flow can (up to the demand) and its flow costs exactly what cycle
// cancelling, a different exact algorithm, reaches on the same piecewise
// linear arcs.
func TestSolveMatchesCycleCancelling(t *testing.T) {
	r := rand.New(rand.NewPCG(*bruteSeed, 7))
	multi, partial := 0, 0
	for i := 0; i < *flowN; i++ {
		tc := newFlowCase(r)
		g := tc.g
		w := g.getFlowWork()
		w.net.reset(g, tc.params.Liquidity)
		w.net.setup(&tc.np, nil)
		res := g.solve(w, tc.np.src, tc.np.dst)
		w.net.buildAll() // the arcs the solver never read, for the checks
		checkFlow(t, i, g, w, tc.np.src, tc.np.dst, res)

		ref := newRefNet(g, &w.net)
		sent := ref.maxFlow(int(tc.np.src), int(tc.np.dst), w.net.demand)
		ref.cancelCycles()
		if sent != res.sent {
			t.Fatalf("case %d (seed %d): solver sent %d units, max flow %d of %d", i, *bruteSeed, res.sent, sent, w.net.demand)
		}
		if want := ref.flowCost(); want != res.cost {
			t.Fatalf("case %d (seed %d): solver cost %d, cycle cancelling %d\nrerun: go test ./graph -run CycleCancelling -graph.seed %d", i, *bruteSeed, res.cost, want, *bruteSeed)
		}
		if res.rounds > 1 {
			multi++
		}
		if res.sent > 0 && res.sent < w.net.demand {
			partial++
		}
		g.putFlowWork(w)
	}
	t.Logf("%d cases, %d needed several paths, %d could send only part", *flowN, multi, partial)
	if multi < *flowN/10 {
		t.Fatalf("only %d of %d cases needed more than one path: the generator tests too little", multi, *flowN)
	}
}

// reaches reports whether a walk over usable half-channels leads from src
// to dst.
func reaches(g *Graph, src, dst NodeID) bool {
	seen := map[uint32]bool{g.index[src]: true}
	stack := []uint32{g.index[src]}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for a := g.outStart[u]; a < g.outStart[u+1]; a++ {
			if v := g.out[a].to; !seen[v] {
				seen[v] = true
				stack = append(stack, v)
			}
		}
	}
	return seen[g.index[dst]]
}

// An arc's pieces follow askrene's linearisation: piece 0 is [0, lo] at the
// fee alone; pieces 1..3 end at 50%, 80% and 95% of [lo, hi], each at the
// slope of -ln P's chord over it (1.386, 3.054, 9.242 nats over the range),
// plus the fee; and no more than the demand is offered.
func TestFlowArcPieces(t *testing.T) {
	const S, D = 1, 4
	g := buildFlowGraph(t, flowChan{1, S, D, 10_000, &Policy{FeePPM: 1000, HTLCMax: 1 << 40}, nil})
	d := dirOf(1, S, D)
	for _, tc := range []struct {
		name     string
		amount   MilliSat
		b        ChannelBounds
		weight   float64
		wCap     [flowPieces]int64
		wCostPPB [flowPieces]float64 // nano-nats per unit, before rounding
	}{
		{"prior, no fee weight", 10_000_000, ChannelBounds{Lo: 0, Hi: 10_000_000}, 0,
			[flowPieces]int64{0, 500, 800, 950}, [flowPieces]float64{0, 1e9 * 1.3862944 / 1000, 1e9 * 3.0543024 / 1000, 1e9 * 9.2419624 / 1000}},
		{"lo known: free up to it", 10_000_000, ChannelBounds{Lo: 4_000_000, Hi: 10_000_000}, 0,
			[flowPieces]int64{400, 700, 880, 970}, [flowPieces]float64{0, 1e9 * 1.3862944 / 600, 1e9 * 3.0543024 / 600, 1e9 * 9.2419624 / 600}},
		{"exact: one free piece", 10_000_000, ChannelBounds{Lo: 7_000_000, Hi: 7_000_000}, 0,
			[flowPieces]int64{700, 700, 700, 700}, [flowPieces]float64{}},
		{"capped at the demand", 1_000_000, ChannelBounds{Lo: 0, Hi: 10_000_000}, 0,
			[flowPieces]int64{0, 1000, 1000, 1000}, [flowPieces]float64{0, 1e9 * 1.3862944 / 10000, 1e9 * 3.0543024 / 10000, 1e9 * 9.2419624 / 10000}},
		{"fee weight 10: 1000 ppm over 1000 units", 10_000_000, ChannelBounds{Lo: 0, Hi: 10_000_000}, 10,
			[flowPieces]int64{0, 500, 800, 950}, [flowPieces]float64{10_000, 10_000 + 1e9*1.3862944/1000, 10_000 + 1e9*3.0543024/1000, 10_000 + 1e9*9.2419624/1000}},
	} {
		w := g.getFlowWork()
		w.net.reset(g, LiquidityMap{d: tc.b})
		np := netParams{src: g.index[id(S)], dst: g.index[id(D)], amount: tc.amount, feeWeight: tc.weight}
		w.net.setup(&np, nil)
		a, _ := g.outIndex(d)
		w.net.arc(int32(a))
		if got := w.net.capc[a]; got != tc.wCap {
			t.Errorf("%s: capacities %v, want %v", tc.name, got, tc.wCap)
		}
		for k, want := range tc.wCostPPB {
			if got := float64(w.net.cost[a][k]); math.Abs(got-want) > 0.5+want*1e-6 {
				t.Errorf("%s: piece %d costs %v, want %v", tc.name, k, got, want)
			}
		}
		g.putFlowWork(w)
	}
}

// On seeded random networks, single's path costs exactly the least, over
// every simple path whose arcs can each carry the demand, of what the
// demand costs on its arcs; and single finds one exactly when one exists.
func TestSingleMatchesEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(*bruteSeed, 13))
	found := 0
	for i := 0; i < *flowN; i++ {
		tc := newFlowCase(r)
		g := tc.g
		w := g.getFlowWork()
		w.net.reset(g, tc.params.Liquidity)
		w.net.setup(&tc.np, nil)
		cost, ok := g.single(w, tc.np.src, tc.np.dst)
		w.net.buildAll()
		demand := w.net.demand

		best, exists := int64(0), false
		onPath := make([]bool, len(g.ids))
		var visit func(u uint32, c int64)
		visit = func(u uint32, c int64) {
			if u == tc.np.dst {
				if !exists || c < best {
					best, exists = c, true
				}
				return
			}
			onPath[u] = true
			for a := g.outStart[u]; a < g.outStart[u+1]; a++ {
				if v := g.out[a].to; !onPath[v] && w.net.capc[a][flowPieces-1] >= demand {
					visit(v, c+w.net.arcCost(int(a), demand))
				}
			}
			onPath[u] = false
		}
		visit(tc.np.src, 0)
		if ok != exists || (ok && cost != best) {
			t.Fatalf("case %d (seed %d): single %d %v, enumeration %d %v", i, *bruteSeed, cost, ok, best, exists)
		}
		if ok {
			found++
			var flowCost int64
			for a, f := range w.flow {
				if f != 0 && f != demand {
					t.Fatalf("case %d: arc %d carries %d of a one-path flow of %d", i, a, f, demand)
				}
				flowCost += w.net.arcCost(a, f)
			}
			if flowCost != cost {
				t.Fatalf("case %d: the path costs %d, single said %d", i, flowCost, cost)
			}
		}
		g.putFlowWork(w)
	}
	t.Logf("%d cases, %d with a single path", *flowN, found)
	if found < *flowN/10 {
		t.Fatalf("only %d of %d cases had a path", found, *flowN)
	}
}
