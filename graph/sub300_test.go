package graph

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// checkRoute fails the test unless r is a route getroute may return for p:
// it starts at the source, consecutive hops share nodes, every half-channel
// is usable and not excluded, every HTLC is within its channel's limits, and
// amounts and delays follow from the fees and CLTV deltas.
func checkRoute(t *testing.T, g *Graph, p GetRouteParams, r Route, maxHops int, cltv uint32) {
	t.Helper()
	excluded := map[string]bool{}
	for _, x := range p.Exclude {
		excluded[x.String()] = true
	}
	if len(r) == 0 || len(r) > maxHops {
		t.Fatalf("route of %d hops, max %d", len(r), maxHops)
	}
	last := r[len(r)-1]
	if last.ID != p.ID || last.Amount != p.AmountMsat || last.Delay != cltv {
		t.Fatalf("last hop %+v: want destination %s, amount %d, delay %d", last, p.ID, p.AmountMsat, cltv)
	}
	prev := p.FromID
	seen := map[NodeID]bool{prev: true}
	for i, h := range r {
		c, ok := g.Channel(h.Channel)
		if !ok {
			t.Fatalf("hop %d: unknown channel %s", i, h.Channel)
		}
		if !(c.Node1 == prev && c.Node2 == h.ID) && !(c.Node2 == prev && c.Node1 == h.ID) {
			t.Fatalf("hop %d: channel %s does not join %s and %s", i, h.Channel, prev, h.ID)
		}
		if seen[h.ID] {
			t.Fatalf("hop %d: %s visited twice", i, h.ID)
		}
		seen[h.ID] = true
		if h.Direction != Direction(prev, h.ID) {
			t.Fatalf("hop %d: direction %d, want %d", i, h.Direction, Direction(prev, h.ID))
		}
		d := SCIDDir{h.Channel, h.Direction}
		if !g.Usable(d) || excluded[d.String()] || excluded[h.ID.String()] {
			t.Fatalf("hop %d: %s unusable or excluded", i, d)
		}
		pol := c.Policy[h.Direction]
		if h.Amount < pol.HTLCMin || h.Amount > pol.HTLCMax {
			t.Fatalf("hop %d: amount %d outside [%d, %d]", i, h.Amount, pol.HTLCMin, pol.HTLCMax)
		}
		if i > 0 {
			fee, _ := Fee(h.Amount, pol.BaseMsat, pol.FeePPM)
			if r[i-1].Amount != h.Amount+fee || r[i-1].Delay != h.Delay+uint32(pol.CLTVDelta) {
				t.Fatalf("hop %d: previous hop %d/%d, want %d/%d", i, r[i-1].Amount, r[i-1].Delay, h.Amount+fee, h.Delay+uint32(pol.CLTVDelta))
			}
		}
		prev = h.ID
	}
}

// noRouteExists confirms that no route exists for p, independently of the
// search, in two steps. First Bellman-Ford from the destination over at most
// maxHops channels, keeping the least amount each node must receive and
// ignoring htlc_minimum (a lower amount only helps every other limit): if
// even that relaxed problem has no path, no route exists; if its witness is
// a simple path meeting every minimum, a route exists. Otherwise a
// breadth-first search over (node, exact amount) states, a level per hop,
// checking every limit, finds every feasible walk: if none reaches the
// source no simple path does either.
func noRouteExists(g *Graph, p GetRouteParams, maxHops int) (bool, string) {
	exHalf, exNode := map[uint32]bool{}, map[uint32]bool{}
	for _, x := range p.Exclude {
		if x.IsNode {
			if n, ok := g.index[x.Node]; ok {
				exNode[n] = true
			}
		} else if c, ok := g.byscid[x.Channel.SCID]; ok {
			exHalf[2*c+uint32(x.Channel.Dir)] = true
		}
	}
	src, dst := g.index[p.FromID], g.index[p.ID]
	if decided, none, why := relaxedCheck(g, src, dst, p.AmountMsat, maxHops, exHalf, exNode); decided {
		return none, why
	}
	type st struct {
		node   uint32
		amt    MilliSat
		parent int
	}
	type key struct {
		node uint32
		amt  MilliSat
	}
	states := []st{{dst, p.AmountMsat, -1}}
	seen := map[key]bool{{dst, p.AmountMsat}: true}
	level := []int{0}
	for h := 0; h < maxHops && len(level) > 0; h++ {
		var next []int
		for _, si := range level {
			cur := states[si]
			if exNode[cur.node] {
				continue
			}
			for i := g.inStart[cur.node]; i < g.inStart[cur.node+1]; i++ {
				e := &g.in[i]
				if exHalf[e.half] || e.from == dst || cur.amt < e.htlcMin || cur.amt > e.htlcMax {
					continue
				}
				a := cur.amt
				if e.from != src {
					fee, err := Fee(a, e.base, e.ppm)
					if err != nil {
						continue
					}
					a += fee
				}
				if e.from == src {
					// A walk reached us: is it a simple path?
					nodes := map[uint32]bool{src: true}
					simple := true
					for x := si; x >= 0; x = states[x].parent {
						if nodes[states[x].node] {
							simple = false
						}
						nodes[states[x].node] = true
					}
					if simple {
						return false, "a route exists"
					}
					continue
				}
				if k := (key{e.from, a}); !seen[k] {
					if len(states) > stateCap {
						return intervalCheck(g, src, dst, p.AmountMsat, maxHops, exHalf, exNode)
					}
					seen[k] = true
					states = append(states, st{e.from, a, si})
					next = append(next, len(states)-1)
				}
			}
		}
		level = next
	}
	return true, ""
}

func relaxedCheck(g *Graph, src, dst uint32, amount MilliSat, maxHops int, exHalf, exNode map[uint32]bool) (decided, none bool, why string) {
	const inf = MilliSat(math.MaxUint64)
	amt := make([]MilliSat, g.NumNodes())
	via := make([]int, g.NumNodes())
	for i := range amt {
		amt[i], via[i] = inf, -1
	}
	amt[dst] = amount
	for h := 0; h < maxHops; h++ {
		next := append([]MilliSat(nil), amt...)
		nextVia := append([]int(nil), via...)
		for i := range g.in {
			e := &g.in[i]
			if amt[e.to] == inf || exHalf[e.half] || exNode[e.to] || e.from == dst || e.to == src || amt[e.to] > e.htlcMax {
				continue
			}
			a := amt[e.to]
			if e.from != src {
				fee, err := Fee(a, e.base, e.ppm)
				if err != nil {
					continue
				}
				a += fee
			}
			if a < next[e.from] {
				next[e.from], nextVia[e.from] = a, i
			}
		}
		amt, via = next, nextVia
	}
	if amt[src] == inf {
		return true, true, ""
	}
	seen := map[uint32]bool{src: true}
	for n, hops := src, 0; n != dst; hops++ {
		e := &g.in[via[n]]
		if hops > maxHops || seen[e.to] || amt[e.to] < e.htlcMin {
			return false, false, "" // the witness proves nothing
		}
		seen[e.to] = true
		n = e.to
	}
	return true, false, "a route exists"
}

var stateCap = 1_000_000

// intervalCheck decides walk feasibility when there are too many exact
// amounts to list: along a path each step is monotone, so the amounts a node
// can receive from the source over h channels are a union of intervals. It
// is written apart from the search's own version (feasible.go): forward
// from the source, inverting fees in closed form.
func intervalCheck(g *Graph, src, dst uint32, amount MilliSat, maxHops int, exHalf, exNode map[uint32]bool) (bool, string) {
	type iv struct{ lo, hi uint64 }
	recv := func(y uint64, e *edge) uint64 { return y + uint64(e.base) + y*uint64(e.ppm)/1_000_000 }
	// least y with recv(y) >= a, and greatest y with recv(y) <= a
	least := func(a uint64, e *edge) uint64 {
		if a <= uint64(e.base) {
			return 0
		}
		y := (a - uint64(e.base)) * 1_000_000 / (1_000_000 + uint64(e.ppm))
		for y > 0 && recv(y-1, e) >= a {
			y--
		}
		for recv(y, e) < a {
			y++
		}
		return y
	}
	most := func(a uint64, e *edge) (uint64, bool) {
		y := least(a, e)
		for recv(y, e) > a {
			if y == 0 {
				return 0, false
			}
			y--
		}
		for recv(y+1, e) <= a {
			y++
		}
		return y, true
	}
	cur := map[uint32][]iv{}
	for i := g.outStart[src]; i < g.outStart[src+1]; i++ {
		e := &g.out[i]
		if !exHalf[e.half] && !exNode[e.to] {
			cur[e.to] = append(cur[e.to], iv{uint64(e.htlcMin), uint64(e.htlcMax)})
		}
	}
	for h := 1; h <= maxHops; h++ {
		for _, x := range cur[dst] {
			if x.lo <= uint64(amount) && uint64(amount) <= x.hi {
				return false, "inconclusive: some walk delivers the amount"
			}
		}
		next := map[uint32][]iv{}
		for n, list := range cur {
			if n == dst {
				continue
			}
			for i := g.outStart[n]; i < g.outStart[n+1]; i++ {
				e := &g.out[i]
				if e.to == src || exHalf[e.half] || exNode[e.to] {
					continue
				}
				for _, x := range list {
					lo := max(least(x.lo, e), uint64(e.htlcMin))
					hi, ok := most(min(x.hi, 1<<62), e)
					hi = min(hi, uint64(e.htlcMax))
					if ok && lo <= hi {
						next[e.to] = append(next[e.to], iv{lo, hi})
					}
				}
			}
		}
		for n, list := range next { // keep the lists small: join overlaps
			sort.Slice(list, func(i, j int) bool { return list[i].lo < list[j].lo })
			out := list[:1]
			for _, x := range list[1:] {
				if l := &out[len(out)-1]; x.lo <= l.hi+1 {
					l.hi = max(l.hi, x.hi)
				} else {
					out = append(out, x)
				}
			}
			next[n] = out
		}
		cur = next
	}
	return true, ""
}

// 500 seeded random (source, destination, amount) cases on the 300-node
// real subgraph: every route is valid, exclusions hold, and when there is no
// route an independent check confirms none exists.
func TestGetRouteSub300(t *testing.T) {
	g := sub300(t)
	nodes := g.Nodes()
	r := rand.New(rand.NewPCG(300, 1))
	var routes, none, shortened int
	for i := 0; i < 500; i++ {
		p := GetRouteParams{FromID: nodes[r.IntN(len(nodes))], ID: nodes[r.IntN(len(nodes))]}
		if p.FromID == p.ID {
			continue
		}
		// Log-uniform from 1 sat to 0.5 BTC, so some exceed every path.
		p.AmountMsat = MilliSat(math.Exp(r.Float64()*math.Log(5e10/1e3)) * 1e3)
		p.RiskFactor = []float64{1, 10, 0.1}[r.IntN(3)]
		for j := range p.Seed {
			p.Seed[j] = byte(r.Uint32())
		}
		maxHops := DefaultMaxHops
		if r.IntN(5) == 0 {
			maxHops = 1 + r.IntN(3)
			p.MaxHops = ptr(uint32(maxHops))
		}
		if r.IntN(3) == 0 {
			// Exclude a few channels and nodes seen on the unconstrained route.
			if r0, err := g.GetRoute(p); err == nil {
				for _, h := range r0 {
					if r.IntN(2) == 0 {
						p.Exclude = append(p.Exclude, ExcludeChannel(SCIDDir{h.Channel, h.Direction}))
					}
				}
				if len(r0) > 1 {
					p.Exclude = append(p.Exclude, ExcludeNode(r0[r.IntN(len(r0)-1)].ID))
				}
			}
		}
		route, err := g.GetRoute(p)
		switch {
		case err == nil:
			routes++
			if p.MaxHops != nil {
				shortened++
			}
			checkRoute(t, g, p, route, maxHops, DefaultCLTV)
		case errors.Is(err, ErrNoRoute):
			none++
			if ok, why := noRouteExists(g, p, maxHops); !ok {
				t.Fatalf("case %d: no route returned for %s -> %s, %d msat, exclude %v, maxhops %d: %s", i, p.FromID, p.ID, p.AmountMsat, p.Exclude, maxHops, why)
			}
		default:
			t.Fatalf("case %d: %v", i, err)
		}
	}
	t.Logf("%d routes (%d under a maxhops limit), %d confirmed without a route", routes, shortened, none)
	if routes < 200 || none < 20 {
		t.Fatalf("%d routes and %d without: the cases do not test both outcomes", routes, none)
	}
}

// When the cheapest route is longer than maxhops, getroute raises a per-hop
// bias until a short enough route wins (CLN's find_shorter_route).
func TestGetRouteMaxHopsRerun(t *testing.T) {
	// A line of free channels A-1-2-3-4-D, and an expensive shortcut A-X-D.
	a, d, x := id(1), id(9), id(8)
	line := []NodeID{a, id(2), id(3), id(4), id(5), d}
	var b Builder
	for i := 0; i+1 < len(line); i++ {
		b.AddChannel(Channel{SCID: NewSCID(10, uint32(i), 0), Node1: line[i], Node2: line[i+1], Policy: [2]*Policy{pol(0, 0, 0), pol(0, 0, 0)}})
	}
	b.AddChannel(Channel{SCID: NewSCID(20, 1, 0), Node1: a, Node2: x, Policy: [2]*Policy{pol(0, 0, 0), pol(0, 0, 0)}})
	b.AddChannel(Channel{SCID: NewSCID(20, 2, 0), Node1: x, Node2: d, Policy: [2]*Policy{pol(50, 0, 40), pol(50, 0, 40)}})
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	p := GetRouteParams{ID: d, FromID: a, AmountMsat: 10000, RiskFactor: 1, FuzzPercent: ptr(0.0)}
	for _, tc := range []struct {
		maxHops uint32
		hops    int // 0: no route
	}{{20, 5}, {5, 5}, {4, 2}, {2, 2}, {1, 0}} {
		p.MaxHops = ptr(tc.maxHops)
		r, err := g.GetRoute(p)
		switch {
		case tc.hops == 0 && !errors.Is(err, ErrNoRoute):
			t.Errorf("maxhops %d: %v %v, want 205", tc.maxHops, r, err)
		case tc.hops != 0 && (err != nil || len(r) != tc.hops):
			t.Errorf("maxhops %d: %v %v, want %d hops", tc.maxHops, r, err, tc.hops)
		case tc.hops != 0:
			checkRoute(t, g, p, r, int(tc.maxHops), DefaultCLTV)
		}
	}
}
