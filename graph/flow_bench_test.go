package graph

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// wellConnected returns the nodes with at least min usable channels out
// and in, in load order.
func wellConnected(g *Graph, min uint32) []NodeID {
	var ids []NodeID
	for i, id := range g.ids {
		if g.outStart[i+1]-g.outStart[i] >= min && g.inStart[i+1]-g.inStart[i] >= min {
			ids = append(ids, id)
		}
	}
	return ids
}

// BenchmarkFlowMainnet plans 1,000,000 sat between 500 fixed-seed random
// pairs of well-connected nodes (10 or more usable channels each way) of
// the mainnet snapshot, on one core, with the prior liquidity, a fee budget
// of 0.5% and the defaults of getroutes, and reports per-call latency
// percentiles (p50-ms, p99-ms), the same in CPU time of the calling thread
// (cpu-p50-ms, cpu-p99-ms: what a loaded machine does not inflate; Linux
// only), the mean number of parts and the share planned.
func BenchmarkFlowMainnet(b *testing.B) {
	g := mainnet(b)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	nodes := wellConnected(g, 10)
	r := rand.New(rand.NewPCG(7, 13))
	pairs := make([][2]NodeID, 500)
	for i := range pairs {
		x, y := r.IntN(len(nodes)), r.IntN(len(nodes)-1)
		if y >= x {
			y++
		}
		pairs[i] = [2]NodeID{nodes[x], nodes[y]}
	}
	var lat, cpu []time.Duration
	parts, planned := 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range pairs {
			t0, c0 := time.Now(), threadCPU()
			f, err := g.PlanFlow(FlowParams{Source: p[0], Destination: p[1], Amount: 1_000_000_000, MaxFee: 5_000_000, FinalCLTV: 18})
			lat = append(lat, time.Since(t0))
			cpu = append(cpu, threadCPU()-c0)
			if err == nil {
				planned++
				parts += len(f.Parts)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(cpu)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	if cpu[len(cpu)-1] > 0 {
		b.ReportMetric(ms(cpu[len(cpu)/2]), "cpu-p50-ms")
		b.ReportMetric(ms(cpu[len(cpu)*99/100]), "cpu-p99-ms")
	}
	if planned > 0 {
		b.ReportMetric(float64(parts)/float64(planned), "parts")
	}
	b.ReportMetric(100*float64(planned)/float64(len(lat)), "planned-%")
}
