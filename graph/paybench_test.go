package graph

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/payengine/payengine/internal/procstat"
)

// payNet is the mainnet snapshot with our node attached as simnet attaches
// it (simnet.New's defaults: eight channels to the best-connected nodes,
// 10M sat each, base 1,000 msat, 1 ppm, delta 40 both ways), so the
// benchmarks below search from the source pay searches from.
type payNet struct {
	g     *Graph
	self  NodeID
	dests []NodeID // routable from self at 1,000 sat
	// routes holds, per destination, the zero-seed route at 1,000 sat,
	// whose channels the queries after a failure exclude.
	routes []Route
}

var (
	payNetOnce sync.Once
	payNetV    *payNet
	payNetErr  error
)

func loadPayNet(tb testing.TB) *payNet {
	tb.Helper()
	real := mainnet(tb)
	payNetOnce.Do(func() { payNetV, payNetErr = newPayNet(real) })
	if payNetErr != nil {
		tb.Fatal(payNetErr)
	}
	return payNetV
}

func newPayNet(real *Graph) (*payNet, error) {
	var b Builder
	ids := real.Nodes()
	for _, id := range ids {
		b.AddNode(Node{ID: id, Alias: real.Alias(id)})
	}
	maxBlock := uint32(0)
	real.Channels(func(c ChannelInfo) bool {
		b.AddChannel(Channel{SCID: c.SCID, Node1: c.Node1, Node2: c.Node2, Capacity: c.Capacity, Policy: c.Policy})
		maxBlock = max(maxBlock, c.SCID.Block())
		return true
	})
	var self NodeID
	self[0], self[1], self[32] = 3, 0x5e, 0x1f
	b.AddNode(Node{ID: self, Alias: "self"})
	type cand struct{ pos, n int }
	cs := make([]cand, len(ids))
	for i, id := range ids {
		cs[i] = cand{i, real.NodeChannels(id)}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.pos, b.pos)
	})
	const capacity = 10_000_000
	for i, c := range cs[:8] {
		p := Policy{BaseMsat: 1000, FeePPM: 1, CLTVDelta: 40, HTLCMin: 1, HTLCMax: capacity * 1000}
		q := p
		b.AddChannel(Channel{SCID: NewSCID(maxBlock+1, uint32(i+1), 0), Node1: self, Node2: ids[c.pos], Capacity: capacity, Policy: [2]*Policy{&p, &q}})
	}
	g, err := b.Build()
	if err != nil {
		return nil, err
	}
	n := &payNet{g: g, self: self}
	r := rand.New(rand.NewPCG(1, 1))
	for len(n.dests) < 500 {
		d := ids[r.IntN(len(ids))]
		if rt, err := g.GetRoute(GetRouteParams{FromID: self, ID: d, AmountMsat: 1_000_000, RiskFactor: 1}); err == nil {
			n.dests = append(n.dests, d)
			n.routes = append(n.routes, rt)
		}
	}
	return n, nil
}

// payQueries returns count pay-like queries from our node: destinations
// cycle through n.dests; amounts are 1,000 sat, or with mixed log-uniform
// from 10 sat to 1M sat; one in four carries, as after failures, an avoid
// set of one or two channels of the destination's zero-seed route.
func (n *payNet) payQueries(count int, mixed bool) []GetRouteParams {
	r := rand.New(rand.NewPCG(5, 6))
	qs := make([]GetRouteParams, count)
	for i := range qs {
		k := i % len(n.dests)
		p := GetRouteParams{FromID: n.self, ID: n.dests[k], AmountMsat: 1_000_000, RiskFactor: 1, FuzzPercent: ptr(5.0)}
		if mixed {
			p.AmountMsat = MilliSat(math.Exp(math.Log(1e4) + r.Float64()*math.Log(1e9/1e4)))
		}
		if rt := n.routes[k]; r.IntN(4) == 0 && len(rt) > 1 {
			var chans []SCIDDir
			for j := 0; j < 1+r.IntN(2); j++ {
				h := rt[1+r.IntN(len(rt)-1)]
				chans = append(chans, SCIDDir{h.Channel, h.Direction})
			}
			p.Avoid = n.g.NewAvoidSet(chans, nil)
		}
		qs[i] = p
	}
	return qs
}

// BenchmarkPayRoute replays the route queries pay makes (loadPayNet,
// payQueries) and reports CPU per query, cpu-us/query: process CPU time,
// so it does not depend on what else the machine runs. The sub-benchmarks
// differ in the fuzz seed: fresh draws a new one per query (Core Lightning
// v0.7's pay, and this engine's before issue 14); zero is the snapshot's
// default; pool8 draws from eight seeds with Reuse, as pay does now. 1000sat
// and mixed are the amounts. Run with -benchtime 2000x or more: the first
// queries of a snapshot fill its caches, and the figures include that.
//
//	go test ./graph -run '^$' -bench PayRoute -benchtime 2000x
func BenchmarkPayRoute(b *testing.B) {
	n := loadPayNet(b)
	for _, amounts := range []string{"1000sat", "mixed"} {
		for _, seeds := range []string{"fresh", "zero", "pool8"} {
			b.Run(amounts+"/"+seeds, func(b *testing.B) {
				qs := n.payQueries(b.N, amounts == "mixed")
				r := rand.New(rand.NewPCG(9, 9))
				var pool [8]Seed
				for i := range pool {
					for j := range pool[i] {
						pool[i][j] = byte(r.Uint32())
					}
				}
				for i := range qs {
					switch seeds {
					case "fresh":
						for j := range qs[i].Seed {
							qs[i].Seed[j] = byte(r.Uint32())
						}
					case "pool8":
						qs[i].Seed, qs[i].Reuse = pool[r.IntN(len(pool))], true
					}
				}
				// A snapshot of its own, so no cache filled by an
				// earlier run serves this one.
				g := n.g.clone()
				benchQueries(b, g, qs)
			})
		}
	}
}

// clone returns a snapshot equal to g that shares none of its caches.
func (g *Graph) clone() *Graph {
	ng := &Graph{ids: g.ids, aliases: g.aliases, index: g.index, chans: g.chans, byscid: g.byscid, layout: g.layout,
		policy: g.policy, known: g.known, seeds: &seedTables{}}
	ng.buildAdjacency()
	return ng
}

func benchQueries(b *testing.B, g *Graph, qs []GetRouteParams) {
	found := 0
	b.ResetTimer()
	cpu0, t0 := procstat.CPUTime(), time.Now()
	for i := range qs {
		if _, err := g.GetRoute(qs[i]); err == nil {
			found++
		}
	}
	cpu, wall := procstat.CPUTime()-cpu0, time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(cpu)/1e3/float64(len(qs)), "cpu-us/query")
	b.ReportMetric(float64(wall)/1e3/float64(len(qs)), "wall-us/query")
	b.ReportMetric(100*float64(found)/float64(len(qs)), "found-%")
}
