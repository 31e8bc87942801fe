package graph

import (
	"strings"
	"testing"
)

// twoWays is a graph of two routes from a to z: over m1 and via1, whose
// channels charge 1,000 msat, and over m2 and via2, whose last channel
// charges 5,000; every policy dates from time 100.
func twoWays(t *testing.T) (g *Graph, a, m1, m2, z NodeID, via1, via2 SCID) {
	t.Helper()
	var b Builder
	a, m1, m2, z = id(1), id(2), id(3), id(4)
	cheap, dear := pol(1000, 10, 10), pol(5000, 10, 10)
	cheap.LastUpdate, dear.LastUpdate = 100, 100
	via1, via2 = NewSCID(1, 1, 0), NewSCID(1, 2, 0)
	b.AddChannel(Channel{SCID: NewSCID(1, 0, 0), Node1: a, Node2: m1, Capacity: 1e6, Policy: [2]*Policy{cheap, cheap}})
	b.AddChannel(Channel{SCID: NewSCID(1, 3, 0), Node1: a, Node2: m2, Capacity: 1e6, Policy: [2]*Policy{cheap, cheap}})
	b.AddChannel(Channel{SCID: via1, Node1: m1, Node2: z, Capacity: 1e6, Policy: [2]*Policy{cheap, cheap}})
	b.AddChannel(Channel{SCID: via2, Node1: m2, Node2: z, Capacity: 1e6, Policy: [2]*Policy{dear, dear}})
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g, a, m1, m2, z, via1, via2
}

// An update changes the route the next search finds; an older or unknown
// one is ignored; the old snapshot keeps answering as before.
func TestWithPolicies(t *testing.T) {
	g, a, m1, m2, z, via1, via2 := twoWays(t)
	p := GetRouteParams{FromID: a, ID: z, AmountMsat: 1_000_000, RiskFactor: 1}
	via := func(g *Graph) SCID {
		r, err := g.GetRoute(p)
		if err != nil {
			t.Fatal(err)
		}
		return r[1].Channel
	}
	if via(g) != via1 {
		t.Fatal("the cheap channel is not chosen")
	}
	raised := *pol(9000, 10, 10)
	raised.LastUpdate = 101
	stale := raised
	stale.LastUpdate = 100
	up := []PolicyUpdate{
		{SCID: via1, Dir: Direction(m1, z), Policy: raised},
		{SCID: via2, Dir: Direction(m2, z), Policy: stale}, // not newer: ignored
		{SCID: NewSCID(9, 9, 9), Dir: 0, Policy: raised},   // unknown: ignored
	}
	ng, n := g.WithPolicies(up)
	if n != 1 {
		t.Fatalf("%d applied, want 1", n)
	}
	if via(ng) != via2 {
		t.Fatal("the raised fee did not move the route")
	}
	if via(g) != via1 {
		t.Fatal("the old snapshot changed")
	}
	if same, n := ng.WithPolicies(up); n != 0 || same != ng {
		t.Fatalf("reapplied: %d", n)
	}
	disabled := raised
	disabled.Disabled, disabled.LastUpdate = true, 102
	dg, _ := ng.WithPolicies([]PolicyUpdate{{SCID: via2, Dir: Direction(m2, z), Policy: disabled}})
	if via(dg) != via1 {
		t.Fatal("a disabled channel is still routed through")
	}
}

func BenchmarkWithPoliciesMainnet(b *testing.B) {
	g := mainnet(b)
	var up []PolicyUpdate
	g.Channels(func(c ChannelInfo) bool {
		if c.Policy[0] != nil {
			p := *c.Policy[0]
			p.FeePPM++
			p.LastUpdate++
			up = append(up, PolicyUpdate{SCID: c.SCID, Dir: 0, Policy: p})
		}
		return len(up) < 10
	})
	b.ResetTimer()
	for range b.N {
		if _, n := g.WithPolicies(up); n != len(up) {
			b.Fatalf("%d applied", n)
		}
	}
}

// An avoid set keeps channels and nodes out of routes, serves the
// snapshots WithPolicies makes, and is refused by a graph of another
// layout; With leaves the set it copies unchanged.
func TestAvoidSet(t *testing.T) {
	var b Builder
	a, m1, m2, z := id(1), id(2), id(3), id(4)
	p := pol(1000, 10, 10)
	via1, via2 := NewSCID(1, 1, 0), NewSCID(1, 2, 0)
	b.AddChannel(Channel{SCID: NewSCID(1, 0, 0), Node1: a, Node2: m1, Capacity: 1e6, Policy: [2]*Policy{p, p}})
	b.AddChannel(Channel{SCID: NewSCID(1, 3, 0), Node1: a, Node2: m2, Capacity: 1e6, Policy: [2]*Policy{p, p}})
	b.AddChannel(Channel{SCID: via1, Node1: m1, Node2: z, Capacity: 1e6, Policy: [2]*Policy{p, p}})
	b.AddChannel(Channel{SCID: via2, Node1: m2, Node2: z, Capacity: 1e6, Policy: [2]*Policy{pol(2000, 10, 10), pol(2000, 10, 10)}})
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	q := GetRouteParams{FromID: a, ID: z, AmountMsat: 1_000_000, RiskFactor: 1}
	through := func(g *Graph, s *AvoidSet) string {
		q.Avoid = s
		r, err := g.GetRoute(q)
		if err != nil {
			return err.Error()
		}
		return r[1].Channel.String()
	}
	empty := g.NewAvoidSet(nil, nil)
	if got := through(g, empty); got != via1.String() {
		t.Fatalf("no avoidance: %s", got)
	}
	d := SCIDDir{SCID: via1, Dir: Direction(m1, z)}
	one := empty.With(g, &d, nil)
	if got := through(g, one); got != via2.String() || one.Len() != 1 || empty.Len() != 0 {
		t.Fatalf("channel avoided: %s (len %d, copied from len %d)", got, one.Len(), empty.Len())
	}
	if got := through(g, one.With(g, nil, &m2)); got != ErrNoRoute.Error() {
		t.Fatalf("both ways avoided: %s", got)
	}
	if got := through(g, g.NewAvoidSet(nil, []NodeID{m1})); got != via2.String() {
		t.Fatalf("node avoided: %s", got)
	}
	raised := *pol(1500, 10, 10)
	raised.LastUpdate = 9
	ng, _ := g.WithPolicies([]PolicyUpdate{{SCID: via1, Dir: d.Dir, Policy: raised}})
	if got := through(ng, one); got != via2.String() {
		t.Fatalf("on the updated snapshot: %s", got)
	}
	other, _ := b.Build()
	if got := through(other, one); !strings.Contains(got, "another graph layout") {
		t.Fatalf("another layout: %s", got)
	}
}
