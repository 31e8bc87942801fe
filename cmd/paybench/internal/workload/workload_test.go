package workload

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
)

// testNodes returns k nodes with capacities 1, 2, ..., k million sat.
func testNodes(k int) []Node {
	nodes := make([]Node, k)
	for i := range nodes {
		nodes[i].ID[0], nodes[i].ID[32] = 2, byte(i+1)
		nodes[i].Capacity = uint64(i+1) * 1_000_000
	}
	return nodes
}

func draw(t *testing.T, spec Spec, count int) []Item {
	t.Helper()
	g, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Item, count)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// TestSameSeedSameSequence: every workload is a function of its seed; the
// same seed gives the same (destination, amount, arrival) sequence, another
// seed another one.
func TestSameSeedSameSequence(t *testing.T) {
	specs := map[string]Spec{
		"closed, uniform, fixed":      {Nodes: testNodes(50), Dest: DestUniform, Amounts: Fixed(1000)},
		"open, capacity, lognormal":   {Nodes: testNodes(50), Dest: DestCapacity, Amounts: LogNormal{Mean: DefaultMean, Source: 80_000_000}, Rate: 200},
		"open, uniform, list":         {Nodes: testNodes(50), Dest: DestUniform, Amounts: List{1000, 20_000, 3_000_000}, Rate: 5},
		"closed, capacity, sigma 1.5": {Nodes: testNodes(50), Dest: DestCapacity, Amounts: LogNormal{Mean: 1_000_000, Sigma: 1.5}},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			spec.Seed = 42
			a, b := draw(t, spec, 2000), draw(t, spec, 2000)
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("seed 42, item %d: %+v, then %+v", i, a[i], b[i])
				}
				if a[i].Seq != i {
					t.Fatalf("item %d has Seq %d", i, a[i].Seq)
				}
			}
			spec.Seed = 43
			c := draw(t, spec, 2000)
			same := 0
			for i := range a {
				if a[i].Dest == c[i].Dest && a[i].Amount == c[i].Amount && a[i].At == c[i].At {
					same++
				}
			}
			if same > 2000/5 {
				t.Fatalf("seeds 42 and 43 agree on %d of 2000 items", same)
			}
		})
	}
}

// TestStreamsAreIndependent: drawing arrivals (open loop) does not change
// which destinations and amounts come, so a closed and an open loop of the
// same seed pay the same payments.
func TestStreamsAreIndependent(t *testing.T) {
	spec := Spec{Seed: 7, Nodes: testNodes(30), Dest: DestCapacity, Amounts: LogNormal{Mean: DefaultMean, Source: 5_000_000}}
	closed := draw(t, spec, 500)
	spec.Rate = 100
	open := draw(t, spec, 500)
	var last time.Duration
	for i := range closed {
		if closed[i].Dest != open[i].Dest || closed[i].Amount != open[i].Amount {
			t.Fatalf("item %d: closed loop %+v, open loop %+v", i, closed[i], open[i])
		}
		if closed[i].At != 0 {
			t.Fatalf("closed loop item %d arrives at %s", i, closed[i].At)
		}
		if open[i].At < last {
			t.Fatalf("open loop item %d arrives at %s, before the one before (%s)", i, open[i].At, last)
		}
		last = open[i].At
	}
	// 500 arrivals at 100/s take about 5 s (a sum of 500 exponentials: a
	// standard deviation of 0.22 s).
	if last < 4*time.Second || last > 6*time.Second {
		t.Fatalf("500 arrivals at 100/s end at %s", last)
	}
}

// TestCapacityWeighting: with --dest capacity a node is drawn in proportion
// to its capacity; uniform draws every node alike; nodes of unknown
// capacity are never drawn by capacity.
func TestCapacityWeighting(t *testing.T) {
	nodes := testNodes(4) // capacities 1, 2, 3, 4 (of 10)
	nodes = append(nodes, Node{ID: graph.NodeID{3, 9}})
	const draws = 100_000
	for _, mode := range []DestMode{DestCapacity, DestUniform} {
		count := map[graph.NodeID]int{}
		for _, it := range draw(t, Spec{Seed: 1, Nodes: nodes, Dest: mode, Amounts: Fixed(1)}, draws) {
			count[it.Dest]++
		}
		for i, n := range nodes {
			want := 1.0 / 5
			if mode == DestCapacity {
				want = float64(n.Capacity) / 10e6
			}
			got := float64(count[n.ID]) / draws
			if math.Abs(got-want) > 0.01 {
				t.Errorf("%s: node %d drawn %.3f of the time, want %.3f", mode, i, got, want)
			}
		}
	}
}

// TestAmountDistributions: fixed amounts are fixed, list amounts come from
// the list only, and lognormal amounts have the mean asked for (with SimLN's
// spread, whose tail is heavy, within 10% over many draws).
func TestAmountDistributions(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	dest := Node{Capacity: 10_000_000}
	if a := Fixed(1234).Draw(r, dest); a != 1234 {
		t.Errorf("fixed 1234 msat drew %s", a)
	}
	list := List{1000, 5000}
	for range 1000 {
		if a := list.Draw(r, dest); a != 1000 && a != 5000 {
			t.Fatalf("list {1000, 5000} msat drew %s", a)
		}
	}
	cases := []struct {
		name string
		ln   LogNormal
		tol  float64
	}{
		{"sigma 1", LogNormal{Mean: 3_800_000, Sigma: 1}, 0.02},
		// SimLN: limit = min(2M, 10M sat)/2 = 1M sat; sigma = 1.83.
		{"SimLN", LogNormal{Mean: 3_800_000, Source: 2_000_000}, 0.10},
	}
	for _, c := range cases {
		const n = 400_000
		var sum float64
		below := 0
		for range n {
			a := c.ln.Draw(r, dest)
			sum += float64(a)
			if a < c.ln.Mean {
				below++
			}
		}
		mean := sum / n
		if math.Abs(mean/float64(c.ln.Mean)-1) > c.tol {
			t.Errorf("%s: mean %.0f msat, want %s within %.0f%%", c.name, mean, c.ln.Mean, 100*c.tol)
		}
		// A lognormal's median is below its mean: most draws are smaller.
		if below < n/2 {
			t.Errorf("%s: only %d of %d draws below the mean", c.name, below, n)
		}
	}
	// Our capacity below twice the mean: SimLN cannot spread; the mean is paid.
	if a := (LogNormal{Mean: 3_800_000, Source: 5000}).Draw(r, dest); a != 3_800_000 {
		t.Errorf("no room to spread: drew %s, want the mean", a)
	}
}

// TestParse covers --amount and --dest.
func TestParse(t *testing.T) {
	good := map[string]Amounts{
		"1000":         Fixed(1_000_000),
		"1000sat":      Fixed(1_000_000),
		"1500msat":     Fixed(1500),
		"1_000":        Fixed(1_000_000),
		"10,20msat,30": List{10_000, 20, 30_000},
	}
	for in, want := range good {
		got, err := ParseAmounts(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if g, ok := got.(List); ok {
			w, _ := want.(List)
			if len(g) != len(w) {
				t.Errorf("%q: %v, want %v", in, got, want)
				continue
			}
			for i := range g {
				if g[i] != w[i] {
					t.Errorf("%q: %v, want %v", in, got, want)
				}
			}
			continue
		}
		if got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "1.5", "12btc", "5,", "99999999999999999999"} {
		if _, err := ParseAmounts(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	if _, err := ParseDestMode("weighted"); err == nil {
		t.Error("--dest weighted: no error")
	}
	if _, err := New(Spec{Nodes: testNodes(3), Dest: DestCapacity, Amounts: Fixed(1), Rate: -1}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("negative rate: %v", err)
	}
	if _, err := New(Spec{Nodes: []Node{{ID: graph.NodeID{2}}}, Dest: DestCapacity, Amounts: Fixed(1)}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("capacity weighting without capacities: %v", err)
	}
}
