package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// On seeded random small graphs, searches with Reuse (kept bounds, kept
// seed hashes) from one source find routes exactly as cheap as brute force,
// on the first search of a key and on the later ones that take the kept
// bound, with seeds drawn from a small pool as pay draws them. Every node
// counts as a hub, so its channels come in the kept order too.
func TestReuseMatchesBruteForce(t *testing.T) {
	for _, hubs := range []uint32{1, 16} {
		for _, after := range []uint8{1, keepAfter} {
			t.Run(fmt.Sprintf("hubDegree=%d/keepAfter=%d", hubs, after), func(t *testing.T) {
				defer func(d uint32, a uint8) { hubDegree, keepAfter = d, a }(hubDegree, keepAfter)
				hubDegree, keepAfter = hubs, after
				testReuseMatchesBruteForce(t)
			})
		}
	}
}

func testReuseMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(*bruteSeed, 14))
	found := 0
	for i := 0; i < *bruteN/4; i++ {
		tc := newRandomCase(r)
		pool := [2]Seed{{}, {byte(i), 1}}
		base := 1 + r.Uint64N(3_000_000)
		for k := 0; k < 6; k++ {
			p := tc.params
			p.ID = tc.nodes[1+r.IntN(len(tc.nodes)-1)]
			// Amounts near one another share kept bounds.
			p.AmountMsat = MilliSat(base + r.Uint64N(base/16+1))
			p.Seed, p.Reuse = pool[r.IntN(2)], true
			if p.MaxHops != nil && *p.MaxHops == 0 {
				continue
			}
			q, maxHops, err := tc.g.compile(&p)
			if errors.Is(err, ErrNoRoute) {
				continue // the destination drew the source
			}
			if err != nil {
				t.Fatalf("case %d.%d: compile: %v", i, k, err)
			}
			want, exists := bruteForce(tc.g, q, maxHops)
			route, err := tc.g.GetRoute(p)
			if !exists {
				if !errors.Is(err, ErrNoRoute) {
					t.Fatalf("case %d.%d: brute force finds no route, GetRoute gives %v %v", i, k, route, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("case %d.%d: brute force cost %d, GetRoute: %v", i, k, want, err)
			}
			found++
			if got := routeCost(t, tc.g, q, route, p.FromID); got != want {
				t.Fatalf("case %d.%d: route %v costs %d, brute force %d (seed %d)", i, k, route, got, want, *bruteSeed)
			}
		}
	}
	if found < *bruteN/4 {
		t.Fatalf("only %d routes found: the cases test too little", found)
	}
}

// checkKeptBound checks, for a route found without Reuse, that the kept
// bound of q at every node of the route is at most what the route costs
// from the source to that node: the bound never overestimates where it
// matters, on the cheapest routes.
func checkKeptBound(t *testing.T, g *Graph, q *query, r Route) {
	t.Helper()
	h := g.keptBound(q, true).h
	s := state{amt: q.amount, total: q.amount, cost: uint64(q.amount)}
	costAt := make([]uint64, len(r)+1) // cost from the destination to hop i's sender
	costAt[len(r)] = s.cost
	for i := len(r) - 1; i >= 0; i-- {
		e, ok := g.edgeOf(r[i].Channel, r[i].Direction)
		if !ok {
			t.Fatalf("hop %d unusable", i)
		}
		sc := 1.0
		if q.fuzz != 0 {
			sc = fuzzScale(&q.seed, r[i].Channel, q.fuzz)
		}
		if s, ok = q.step(s, e, sc); !ok {
			t.Fatalf("hop %d: step refused", i)
		}
		costAt[i] = s.cost
	}
	total := costAt[0]
	for i := 0; i <= len(r); i++ {
		node := q.dst
		if i < len(r) {
			e, _ := g.edgeOf(r[i].Channel, r[i].Direction)
			node = e.from
		}
		if b := h[node]; b == math.MaxUint32 || uint64(b) > total-costAt[i] {
			t.Fatalf("node %d of route %v: kept bound %d, the route adds %d from the source", i, r, b, total-costAt[i])
		}
	}
}

// On the mainnet snapshot with our node attached, and on the 300-node
// subgraph from a fixed source, the kept bound of random pay-like queries
// is a lower bound along the cheapest route, and searches with Reuse cost
// exactly what searches without it cost.
func TestKeptBoundMainnet(t *testing.T) {
	defer func(a uint8) { keepAfter = a }(keepAfter)
	keepAfter = 1
	n := loadPayNet(t)
	sub := sub300(t)
	subNodes := sub.Nodes()
	r := rand.New(rand.NewPCG(21, 22))
	pool := [3]Seed{{}, {1, 2, 3}, {4, 5, 6}}
	for _, tc := range []struct {
		name string
		g    *Graph
		src  NodeID
		dsts []NodeID
	}{
		{"mainnet", n.g, n.self, n.dests},
		{"sub300", sub, subNodes[0], subNodes[1:]},
	} {
		routes := 0
		for i := 0; i < 150; i++ {
			p := GetRouteParams{FromID: tc.src, ID: tc.dsts[r.IntN(len(tc.dsts))], RiskFactor: []float64{1, 10}[r.IntN(2)],
				AmountMsat: MilliSat(math.Exp(math.Log(1e4) + r.Float64()*math.Log(1e9/1e4))), Seed: pool[r.IntN(len(pool))]}
			if r.IntN(3) == 0 {
				p.FuzzPercent = ptr(float64(r.IntN(20)))
			}
			want, err := tc.g.GetRoute(p)
			p.Reuse = true
			got, err2 := tc.g.GetRoute(p)
			if errors.Is(err, ErrNoRoute) && errors.Is(err2, ErrNoRoute) {
				continue
			}
			if err != nil || err2 != nil {
				t.Fatalf("%s case %d: without Reuse %v, with %v", tc.name, i, err, err2)
			}
			routes++
			q, _, err := tc.g.compile(&p)
			if err != nil {
				t.Fatal(err)
			}
			checkKeptBound(t, tc.g, q, want)
			if a, b := routeCost(t, tc.g, q, want, p.FromID), routeCost(t, tc.g, q, got, p.FromID); a != b {
				t.Fatalf("%s case %d: route with Reuse costs %d, without %d", tc.name, i, b, a)
			}
		}
		if routes < 50 {
			t.Fatalf("%s: only %d routes", tc.name, routes)
		}
	}
}

// A new snapshot inherits the old one's kept bounds, repaired: after a fee
// drop makes another route the cheapest, a search with Reuse on it finds
// that route, while the old snapshot, whose bound is kept, still finds the
// old one. The seeds' hashes are shared between them.
func TestKeptBoundNewSnapshot(t *testing.T) {
	defer func(a uint8) { keepAfter = a }(keepAfter)
	keepAfter = 1
	g, a, _, m2, z, via1, via2 := twoWays(t)
	p := GetRouteParams{FromID: a, ID: z, AmountMsat: 1_000_000, RiskFactor: 1, Seed: Seed{7}, Reuse: true}
	via := func(g *Graph) SCID {
		t.Helper()
		r, err := g.GetRoute(p)
		if err != nil {
			t.Fatal(err)
		}
		return r[1].Channel
	}
	if via(g) != via1 || via(g) != via1 {
		t.Fatal("the cheap channel is not chosen")
	}
	dropped := *pol(0, 0, 10)
	dropped.LastUpdate = 101
	ng, _ := g.WithPolicies([]PolicyUpdate{{SCID: via2, Dir: Direction(m2, z), Policy: dropped}})
	if len(ng.bounds.entries) != 1 {
		t.Fatalf("the new snapshot starts with %d kept bounds, want the old one's", len(ng.bounds.entries))
	}
	if via(ng) != via2 {
		t.Fatal("the fee drop did not move the route")
	}
	if via(g) != via1 {
		t.Fatal("the old snapshot changed")
	}
	if ng.seeds != g.seeds || len(g.seeds.tables) != 1 {
		t.Fatalf("seed hashes not shared: %d tables", len(g.seeds.tables))
	}
}

// What is kept stays within its bounds: at most keptSeeds seeds' hashes a
// layout, at most keptBoundBytes of bounds a snapshot, least recently used
// dropped first; a dropped bound is computed again, the same.
func TestKeptBoundLimits(t *testing.T) {
	g := sub300(t)
	nodes := g.Nodes()
	var seeds []Seed
	for i := 0; i < keptSeeds+5; i++ {
		seeds = append(seeds, Seed{byte(i), 9})
	}
	per := g.boundSize()
	many := keptBoundBytes/per + 10
	first := GetRouteParams{FromID: nodes[0], ID: nodes[1], AmountMsat: 1000, RiskFactor: 1, Seed: seeds[0], Reuse: true}
	q0, _, err := g.compile(&first)
	if err != nil {
		t.Fatal(err)
	}
	h0 := append([]uint32(nil), g.keptBound(q0, true).h...)
	for i := 0; i < many; i++ {
		// Amounts an octave apart fall in different buckets.
		p := GetRouteParams{FromID: nodes[0], ID: nodes[1], AmountMsat: MilliSat(1000) << (i % 30), RiskFactor: float64(1 + i/30),
			Seed: seeds[i%len(seeds)], Reuse: true}
		q, _, err := g.compile(&p)
		if err != nil {
			t.Fatal(err)
		}
		g.keptBound(q, true)
	}
	if g.bounds.bytes > keptBoundBytes || len(g.bounds.entries)*per != g.bounds.bytes {
		t.Fatalf("%d bounds, %d bytes kept; limit %d", len(g.bounds.entries), g.bounds.bytes, keptBoundBytes)
	}
	if len(g.seeds.tables) != keptSeeds {
		t.Fatalf("%d seeds kept, want %d", len(g.seeds.tables), keptSeeds)
	}
	if _, ok := g.bounds.entries[boundKey{src: q0.src, amount: bucketAmount(q0.amount), rf: q0.rf, fuzz: q0.fuzz, bias: q0.bias, seed: q0.seed}]; ok {
		t.Fatal("the least recently used bound was not dropped")
	}
	q0, _, _ = g.compile(&first)
	h1 := g.keptBound(q0, true).h
	for i := range h0 {
		if h0[i] != h1[i] {
			t.Fatalf("node %d: bound %d computed again as %d", i, h0[i], h1[i])
		}
	}
}

// bucketAmount never exceeds the amount and is within 2^(1/8) of it (and
// its rounding).
func TestBucketAmount(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 100000; i++ {
		a := MilliSat(r.Uint64N(1 << uint(1+r.IntN(50))))
		b := bucketAmount(a)
		if b > a || float64(b+1)*math.Pow(2, 1.0/bucketsPerOctave) < float64(a) {
			t.Fatalf("bucket of %d is %d", a, b)
		}
	}
}

// A key's bound is kept from its keepAfter-th search on, and the routes
// before and after cost the same.
func TestKeepAfter(t *testing.T) {
	g := sub300(t)
	nodes := g.Nodes()
	p := GetRouteParams{FromID: nodes[0], ID: nodes[5], AmountMsat: 5_000_000, RiskFactor: 1, Seed: Seed{3}, Reuse: true}
	var first Route
	for i := 1; i <= int(keepAfter)+1; i++ {
		r, err := g.GetRoute(p)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			first = r
		}
		q, _, _ := g.compile(&p)
		if a, b := routeCost(t, g, q, first, p.FromID), routeCost(t, g, q, r, p.FromID); a != b {
			t.Fatalf("search %d costs %d, the first %d", i, b, a)
		}
		if kept := len(g.bounds.entries); (i >= int(keepAfter)) != (kept == 1) {
			t.Fatalf("after %d searches, %d bounds kept (keepAfter %d)", i, kept, keepAfter)
		}
	}
}

// Many goroutines search one snapshot with Reuse at once, so kept bounds
// are made, and hubs sorted, while others read them: every route costs
// what a single goroutine's search without Reuse costs. Run under -race.
func TestReuseConcurrent(t *testing.T) {
	defer func(d uint32, a uint8) { hubDegree, keepAfter = d, a }(hubDegree, keepAfter)
	hubDegree, keepAfter = 4, 2
	g := sub300(t)
	nodes := g.Nodes()
	r := rand.New(rand.NewPCG(8, 8))
	params := make([]GetRouteParams, 120)
	want := make([]uint64, len(params))
	for i := range params {
		params[i] = GetRouteParams{FromID: nodes[0], ID: nodes[1+r.IntN(len(nodes)-1)],
			AmountMsat: MilliSat(1000) << r.IntN(20), RiskFactor: 1, Seed: Seed{byte(r.IntN(3))}}
		rt, err := g.GetRoute(params[i])
		if err == nil {
			q, _, _ := g.compile(&params[i])
			want[i] = routeCost(t, g, q, rt, params[i].FromID)
		}
		params[i].Reuse = true
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := range params {
				i := (k + w*15) % len(params)
				rt, err := g.GetRoute(params[i])
				if (err == nil) != (want[i] != 0) {
					t.Errorf("goroutine %d, request %d: %v, want cost %d", w, i, err, want[i])
					return
				}
				if err != nil {
					continue
				}
				q, _, _ := g.compile(&params[i])
				if c := routeCost(t, g, q, rt, params[i].FromID); c != want[i] {
					t.Errorf("goroutine %d, request %d: cost %d, want %d", w, i, c, want[i])
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if len(g.bounds.entries) == 0 {
		t.Fatal("no bound was kept")
	}
}

// On the mainnet snapshot with our node attached, after a few hundred
// random channel_updates (fees up and down, channels disabled and enabled,
// htlc_maximum changed), every bound the new snapshot inherits is at most
// the bound computed afresh on it, node by node, and searches with Reuse
// cost what searches without it cost.
func TestInheritedBoundsMainnet(t *testing.T) {
	defer func(a uint8) { keepAfter = a }(keepAfter)
	keepAfter = 1
	n := loadPayNet(t)
	g := n.g.clone()
	r := rand.New(rand.NewPCG(31, 32))
	pool := [2]Seed{{}, {9, 9}}
	query := func(g *Graph, i int) GetRouteParams {
		return GetRouteParams{FromID: n.self, ID: n.dests[i%len(n.dests)], AmountMsat: MilliSat(1_000_000 << (i % 3)),
			RiskFactor: 1, Seed: pool[i%2], Reuse: true}
	}
	for i := 0; i < 12; i++ {
		p := query(g, i)
		g.GetRoute(p)
	}
	if len(g.bounds.entries) < 6 {
		t.Fatalf("%d bounds kept", len(g.bounds.entries))
	}
	var ups []PolicyUpdate
	g.Channels(func(c ChannelInfo) bool {
		if r.IntN(100) != 0 {
			return true
		}
		for d := 0; d < 2; d++ {
			if c.Policy[d] == nil {
				continue
			}
			p := *c.Policy[d]
			p.LastUpdate++
			switch r.IntN(5) {
			case 0:
				p.BaseMsat, p.FeePPM = 0, 0
			case 1:
				p.BaseMsat, p.FeePPM = p.BaseMsat*3+1000, p.FeePPM*3+100
			case 2:
				p.Disabled = !p.Disabled
			case 3:
				p.HTLCMax = MilliSat(c.Capacity) * 1000
			default:
				p.CLTVDelta = uint16(r.IntN(10))
			}
			ups = append(ups, PolicyUpdate{SCID: c.SCID, Dir: uint8(d), Policy: p})
		}
		return true
	})
	ng, applied := g.WithPolicies(ups)
	if applied < 200 || len(ng.bounds.entries) != len(g.bounds.entries) {
		t.Fatalf("%d updates applied, %d of %d bounds inherited", applied, len(ng.bounds.entries), len(g.bounds.entries))
	}
	lowered := 0
	for k, e := range ng.bounds.entries {
		fresh, _ := ng.fullBound(&k, e.tab)
		for v := range fresh {
			if e.h[v] > fresh[v] {
				t.Fatalf("node %d: inherited bound %d exceeds the fresh one %d", v, e.h[v], fresh[v])
			}
			if e.h[v] < g.bounds.entries[k].h[v] {
				lowered++
			}
		}
	}
	if lowered == 0 {
		t.Fatal("no bound was lowered: the updates test nothing")
	}
	for i := 0; i < 60; i++ {
		p := query(ng, i)
		got, err := ng.GetRoute(p)
		p.Reuse = false
		want, err2 := ng.GetRoute(p)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("query %d: with Reuse %v, without %v", i, err, err2)
		}
		if err != nil {
			continue
		}
		q, _, _ := ng.compile(&p)
		if a, b := routeCost(t, ng, q, want, p.FromID), routeCost(t, ng, q, got, p.FromID); a != b {
			t.Fatalf("query %d: with Reuse %d, without %d", i, b, a)
		}
	}
}
