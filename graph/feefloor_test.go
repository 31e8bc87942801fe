package graph

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// On seeded random graphs of up to 8 nodes, FeeFloor is the least fee over
// every simple path with each channel charging for the amount itself (the
// relaxation it computes, by enumeration), and it is at most the fee of
// every route a real HTLC could take (each channel charging for what it
// carries, htlc limits checked), GetRoute's among them.
func TestFeeFloorMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(*bruteSeed, 21))
	floors, routes := 0, 0
	for i := 0; i < *bruteN; i++ {
		tc := newRandomCase(r)
		p := tc.params
		p.MaxHops = nil
		q, _, err := tc.g.compile(&p)
		if err != nil {
			t.Fatalf("case %d: compile: %v", i, err)
		}
		want, wantOK := bruteFloor(tc.g, q)
		got, err := tc.g.FeeFloor(p)
		if !wantOK {
			if !errors.Is(err, ErrNoRoute) {
				t.Fatalf("case %d (seed %d): no path carries %v, FeeFloor = %v, %v", i, *bruteSeed, p.AmountMsat, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Fatalf("case %d (seed %d): FeeFloor = %v, %v; enumeration %v", i, *bruteSeed, got, err, want)
		}
		floors++
		for _, fee := range realFees(tc.g, q) {
			if fee < got {
				t.Fatalf("case %d (seed %d): a route pays %v, under the floor %v", i, *bruteSeed, fee, got)
			}
		}
		if route, err := tc.g.GetRoute(tc.params); err == nil {
			routes++
			if fee := route[0].Amount - p.AmountMsat; fee < got {
				t.Fatalf("case %d (seed %d): GetRoute's route pays %v, under the floor %v", i, *bruteSeed, fee, got)
			}
		}
	}
	t.Logf("%d cases, %d with a floor, %d with a route", *bruteN, floors, routes)
	if routes < *bruteN/4 {
		t.Fatalf("only %d routes: the cases test too little", routes)
	}
}

// bruteFloor enumerates simple paths from the source, each channel after
// the first charging its fee for the payment's amount.
func bruteFloor(g *Graph, q *query) (best MilliSat, ok bool) {
	var visit func(node uint32, fee MilliSat, onPath map[uint32]bool)
	visit = func(node uint32, fee MilliSat, onPath map[uint32]bool) {
		if node == q.dst {
			if !ok || fee < best {
				best, ok = fee, true
			}
			return
		}
		onPath[node] = true
		defer delete(onPath, node)
		for ei := g.outStart[node]; ei < g.outStart[node+1]; ei++ {
			e := &g.out[ei]
			if onPath[e.to] || e.to == q.src || e.htlcMax < q.amount || q.excluded(e) {
				continue
			}
			f := MilliSat(0)
			if node != q.src {
				var err error
				if f, err = Fee(q.amount, e.base, e.ppm); err != nil {
					continue
				}
			}
			visit(e.to, fee+f, onPath)
		}
	}
	visit(q.src, 0, map[uint32]bool{})
	return best, ok
}

// realFees is what the first hop of every simple path carries beyond the
// amount, each channel charging for what it carries (the search's step,
// htlc limits checked, no fuzz).
func realFees(g *Graph, q *query) []MilliSat {
	var out []MilliSat
	eachRoute(g, q, len(g.ids), func(*edge) float64 { return 1 }, func(s state) { out = append(out, s.amt-q.amount) })
	return out
}
