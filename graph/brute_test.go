package graph

import (
	"errors"
	"flag"
	"math/rand/v2"
	"testing"
)

var bruteN = flag.Int("graph.brute", 2000, "random small graphs TestGetRouteMatchesBruteForce checks")
var bruteSeed = flag.Uint64("graph.seed", 1, "seed of the random small graphs")

// randomPolicy draws policies with mainnet's shapes (base 0/1000, small ppm,
// deltas to 200) plus the corners: huge ppm, tight htlc limits, disabled.
func randomPolicy(r *rand.Rand, capacity uint64) *Policy {
	if r.IntN(20) == 0 {
		return nil
	}
	p := &Policy{HTLCMax: MilliSat(capacity * 1000), Disabled: r.IntN(6) == 0}
	switch r.IntN(4) {
	case 0:
		p.BaseMsat = 0
	case 1:
		p.BaseMsat = 1000
	default:
		p.BaseMsat = uint32(r.IntN(5000))
	}
	switch r.IntN(5) {
	case 0:
		p.FeePPM = 0
	case 1:
		p.FeePPM = 1_000_000
	default:
		p.FeePPM = uint32(r.IntN(5000))
	}
	p.CLTVDelta = uint16(r.IntN(200))
	switch r.IntN(4) {
	case 0:
		p.HTLCMin = MilliSat(r.Uint64N(2_000_000))
	case 1:
		p.HTLCMin = 1
	default:
		p.HTLCMin = 1000
	}
	if r.IntN(4) == 0 {
		p.HTLCMax = MilliSat(r.Uint64N(capacity*1000 + 1))
	}
	return p
}

type randomCase struct {
	g      *Graph
	params GetRouteParams
	nodes  []NodeID
}

func newRandomCase(r *rand.Rand) randomCase {
	n := 2 + r.IntN(7)
	nodes := make([]NodeID, n)
	for i := range nodes {
		nodes[i] = id(byte(10 + i))
	}
	var b Builder
	for _, x := range nodes {
		b.AddNode(Node{ID: x})
	}
	m := r.IntN(3 * n)
	for i := 0; i < m; i++ {
		x, y := r.IntN(n), r.IntN(n)
		if x == y {
			continue
		}
		capacity := 1000 + r.Uint64N(5_000_000)
		b.AddChannel(Channel{SCID: NewSCID(uint32(500+i), uint32(r.IntN(3000)), uint16(i)), Node1: nodes[x], Node2: nodes[y],
			Capacity: capacity, Policy: [2]*Policy{randomPolicy(r, capacity), randomPolicy(r, capacity)}})
	}
	g, err := b.Build()
	if err != nil {
		panic(err)
	}
	p := GetRouteParams{FromID: nodes[0], ID: nodes[1+r.IntN(n-1)]}
	p.AmountMsat = MilliSat(1 + r.Uint64N(3_000_000))
	p.RiskFactor = []float64{0, 1, 10, r.Float64() * 100}[r.IntN(4)]
	p.FuzzPercent = ptr([]float64{0, 5, r.Float64() * 100}[r.IntN(3)])
	p.CLTV = ptr(uint32(r.IntN(150)))
	if r.IntN(4) == 0 {
		p.MaxHops = ptr(uint32(r.IntN(5)))
	}
	if r.IntN(3) > 0 { // else the zero seed, whose hashes the snapshot keeps
		for i := range p.Seed {
			p.Seed[i] = byte(r.Uint32())
		}
	}
	if r.IntN(3) == 0 {
		g.Channels(func(c ChannelInfo) bool {
			if r.IntN(4) == 0 {
				p.Exclude = append(p.Exclude, ExcludeChannel(SCIDDir{c.SCID, uint8(r.IntN(2))}))
			}
			return true
		})
		if r.IntN(3) == 0 {
			p.Exclude = append(p.Exclude, ExcludeNode(nodes[r.IntN(n)]))
		}
	}
	return randomCase{g: g, params: p, nodes: nodes}
}

// bruteForce enumerates every simple path from the source with at most
// maxHops channels and returns the least cost, evaluated with the search's
// own step function.
func bruteForce(g *Graph, q *query, maxHops int) (best uint64, ok bool) {
	scale := func(e *edge) float64 {
		if q.fuzz == 0 {
			return 1
		}
		return fuzzScale(&q.seed, g.chans[e.half/2].scid, q.fuzz)
	}
	eachRoute(g, q, maxHops, scale, func(s state) {
		if !ok || s.cost < best {
			best, ok = s.cost, true
		}
	})
	return best, ok
}

// eachRoute calls at with the state at the source of every simple path of
// at most maxHops channels from it to the destination, crossed backward
// from the destination with the search's step and each channel's fuzz
// scale.
func eachRoute(g *Graph, q *query, maxHops int, scale func(*edge) float64, at func(state)) {
	var visit func(node uint32, s state, onPath map[uint32]bool, hops int)
	visit = func(node uint32, s state, onPath map[uint32]bool, hops int) {
		if node == q.src {
			at(s)
			return
		}
		if hops == maxHops {
			return
		}
		if _, ex := q.exclNode[node]; ex {
			return
		}
		onPath[node] = true
		for i := g.inStart[node]; i < g.inStart[node+1]; i++ {
			e := &g.in[i]
			if onPath[e.from] {
				continue
			}
			if _, ex := q.exclHalf[e.half]; ex {
				continue
			}
			if n, valid := q.step(s, e, scale(e)); valid {
				visit(e.from, n, onPath, hops+1)
			}
		}
		onPath[node] = false
	}
	visit(q.dst, state{amt: q.amount, total: q.amount, cost: uint64(q.amount)}, map[uint32]bool{}, 0)
}

// On seeded random graphs of up to 8 nodes, the route's cost equals the
// least cost over every simple path (spec section 8.3's cost function).
func TestGetRouteMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(*bruteSeed, 0))
	found := 0
	for i := 0; i < *bruteN; i++ {
		tc := newRandomCase(r)
		if tc.params.MaxHops != nil && *tc.params.MaxHops == 0 {
			// getroute with maxhops 0 can return nothing: 205.
			if _, err := tc.g.GetRoute(tc.params); !errors.Is(err, ErrNoRoute) {
				t.Fatalf("case %d: maxhops 0 gave %v", i, err)
			}
			continue
		}
		q, maxHops, err := tc.g.compile(&tc.params)
		if err != nil {
			t.Fatalf("case %d (seed %d): compile: %v", i, *bruteSeed, err)
		}
		want, exists := bruteForce(tc.g, q, maxHops)
		route, err := tc.g.GetRoute(tc.params)
		if !exists {
			if !errors.Is(err, ErrNoRoute) {
				t.Fatalf("case %d (seed %d): brute force finds no route, GetRoute gives %v %v", i, *bruteSeed, route, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("case %d (seed %d): brute force cost %d, GetRoute: %v", i, *bruteSeed, want, err)
		}
		found++
		if got := routeCost(t, tc.g, q, route, tc.params.FromID); got != want {
			t.Fatalf("case %d (seed %d): route %v costs %d, brute force %d\nrerun: go test ./graph -run BruteForce -graph.seed %d", i, *bruteSeed, route, got, want, *bruteSeed)
		}
	}
	t.Logf("%d cases, %d with a route", *bruteN, found)
	if found < *bruteN/4 {
		t.Fatalf("only %d of %d cases had a route: the generator is too sparse to test anything", found, *bruteN)
	}
}
