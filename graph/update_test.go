package graph

import "testing"

// An update changes the route the next search finds; an older or unknown
// one is ignored; the old snapshot keeps answering as before.
func TestWithPolicies(t *testing.T) {
	var b Builder
	a, m1, m2, z := id(1), id(2), id(3), id(4)
	cheap, dear := pol(1000, 10, 10), pol(5000, 10, 10)
	cheap.LastUpdate, dear.LastUpdate = 100, 100
	via1, via2 := NewSCID(1, 1, 0), NewSCID(1, 2, 0)
	b.AddChannel(Channel{SCID: NewSCID(1, 0, 0), Node1: a, Node2: m1, Capacity: 1e6, Policy: [2]*Policy{cheap, cheap}})
	b.AddChannel(Channel{SCID: NewSCID(1, 3, 0), Node1: a, Node2: m2, Capacity: 1e6, Policy: [2]*Policy{cheap, cheap}})
	b.AddChannel(Channel{SCID: via1, Node1: m1, Node2: z, Capacity: 1e6, Policy: [2]*Policy{cheap, cheap}})
	b.AddChannel(Channel{SCID: via2, Node1: m2, Node2: z, Capacity: 1e6, Policy: [2]*Policy{dear, dear}})
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
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
