package graph

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// Many goroutines search one snapshot at once and get exactly the routes a
// single goroutine gets: the snapshot is read-only and each search has its
// own pooled workspace. Run under -race.
func TestGetRouteConcurrent(t *testing.T) {
	g := sub300(t)
	nodes := g.Nodes()
	r := rand.New(rand.NewPCG(7, 7))
	params := make([]GetRouteParams, 200)
	for i := range params {
		params[i] = GetRouteParams{FromID: nodes[r.IntN(len(nodes))], ID: nodes[r.IntN(len(nodes))],
			AmountMsat: MilliSat(1000 + r.Uint64N(1e9)), RiskFactor: 1}
		params[i].Seed[0] = byte(i)
	}
	want := make([]Route, len(params))
	for i, p := range params {
		want[i], _ = g.GetRoute(p)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := range params {
				i := (k + w*25) % len(params)
				got, _ := g.GetRoute(params[i])
				if got.String() != want[i].String() {
					t.Errorf("goroutine %d, request %d: %v, want %v", w, i, got, want[i])
					return
				}
			}
		}(w)
	}
	wg.Wait()
}
