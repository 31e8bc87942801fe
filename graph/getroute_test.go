package graph

import (
	"errors"
	"testing"
)

// threeNodes is spec section 13's line A -[AB]- B -[BC]- C: BC charges base
// 1 msat, 10 ppm, cltv delta 6 (so does AB, as in CLN's tests).
func threeNodes(t *testing.T) (*Graph, NodeID, NodeID, NodeID, SCID, SCID) {
	t.Helper()
	a, b, c := id(1), id(2), id(3)
	ab, bc := NewSCID(100, 1, 0), NewSCID(100, 2, 0)
	var gb Builder
	gb.AddChannel(Channel{SCID: ab, Node1: a, Node2: b, Capacity: 1e6, Policy: [2]*Policy{pol(1, 10, 6), pol(1, 10, 6)}})
	gb.AddChannel(Channel{SCID: bc, Node1: b, Node2: c, Capacity: 1e6, Policy: [2]*Policy{pol(1, 10, 6), pol(1, 10, 6)}})
	g, err := gb.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g, a, b, c, ab, bc
}

// Spec section 13, vector 10: getroute(C, 1000, riskfactor=1, cltv=9) gives
// [{B, AB, 1001, 15}, {C, BC, 1000, 9}]: the AB fee is never added, the BC
// fee is 1 + floor(1000*10/1e6) = 1.
func TestGetRouteVector10Amounts(t *testing.T) {
	g, a, b, c, ab, bc := threeNodes(t)
	r, err := g.GetRoute(GetRouteParams{ID: c, FromID: a, AmountMsat: 1000, RiskFactor: 1, CLTV: ptr(uint32(9)), FuzzPercent: ptr(0.0)})
	if err != nil {
		t.Fatal(err)
	}
	want := Route{
		{ID: b, Channel: ab, Direction: 0, Amount: 1001, Delay: 15, Style: "tlv"},
		{ID: c, Channel: bc, Direction: 0, Amount: 1000, Delay: 9, Style: "tlv"},
	}
	if len(r) != len(want) {
		t.Fatalf("route %v, want %v", r, want)
	}
	for i := range want {
		if r[i] != want[i] {
			t.Errorf("hop %d = %+v, want %+v", i, r[i], want[i])
		}
	}
	// Default cltv is 9 and the default fuzz (5%) cannot change a route
	// that has no alternative.
	r2, err := g.GetRoute(GetRouteParams{ID: c, FromID: a, AmountMsat: 1000, RiskFactor: 1})
	if err != nil || r2[1].Delay != 9 || r2[0].Amount != 1001 {
		t.Fatalf("defaults: %v %v", r2, err)
	}
	// Reverse direction: C to A uses direction 1 on both channels.
	r3, err := g.GetRoute(GetRouteParams{ID: a, FromID: c, AmountMsat: 1000, RiskFactor: 1})
	if err != nil || r3[0].Direction != 1 || r3[1].Direction != 1 || r3[1].ID != a {
		t.Fatalf("reverse: %v %v", r3, err)
	}
}

// Spec section 13, vector 11: exclusions.
func TestGetRouteVector11Exclude(t *testing.T) {
	g, a, b, c, _, bc := threeNodes(t)
	base := GetRouteParams{ID: c, FromID: a, AmountMsat: 1000, RiskFactor: 1, FuzzPercent: ptr(0.0)}
	cases := []struct {
		name    string
		exclude []string
		code    int // 0: a route
	}{
		{"channel B->C", []string{SCIDDir{bc, Direction(b, c)}.String()}, CodeRouteNotFound},
		{"channel C->B only", []string{SCIDDir{bc, Direction(c, b)}.String()}, 0},
		{"node B", []string{b.String()}, CodeRouteNotFound},
		{"destination", []string{c.String()}, CodeRouteNotFound},
		{"unknown scid", []string{"1x2x3/0"}, 0},
		{"unknown node", []string{id(99).String()}, 0},
		{"garbage", []string{"garbage"}, CodeInvalidParams},
		{"scid without direction", []string{bc.String()}, CodeInvalidParams},
	}
	for _, tc := range cases {
		p := base
		var err error
		for _, x := range tc.exclude {
			var ex Exclusion
			if ex, err = ParseExclusion(x); err != nil {
				break
			}
			p.Exclude = append(p.Exclude, ex)
		}
		if err == nil {
			_, err = g.GetRoute(p)
		}
		var e *Error
		switch {
		case tc.code == 0 && err != nil:
			t.Errorf("%s: %v, want a route", tc.name, err)
		case tc.code != 0 && (!errors.As(err, &e) || e.Code != tc.code):
			t.Errorf("%s: %v, want code %d", tc.name, err, tc.code)
		}
	}
	_, err := ParseExclusion("garbage")
	if err == nil || err.Error() != "graph: garbage is not a valid short_channel_id/node_id (code -32602)" {
		t.Errorf("garbage message: %v", err)
	}
	if !errors.Is(err, ErrInvalidParams) {
		t.Errorf("garbage: errors.Is(ErrInvalidParams) false")
	}
}

// Spec section 13, vector 12: 1,000,000 msat over delta 14 at riskfactor 10
// costs floor(1e6*14*10/5,259,600) = 26 msat of risk, plus the riskbias 1.
func TestGetRouteVector12Risk(t *testing.T) {
	q := &query{rf: float64(uint64(10*1e6)) / 1e6 / blocksPerYear / 100, bias: 1, src: 99}
	e := &edge{from: 1, to: 2, delay: 14, htlcMax: 1 << 40}
	n, ok := q.step(state{amt: 1e6, total: 1e6, cost: 1e6}, e, 1)
	if !ok || n.risk != 27 || n.amt != 1e6 || n.cost != 1e6+27 {
		t.Fatalf("step = %+v %v, want risk 27", n, ok)
	}
	// The risk decides between two routes: via B (fee 11, delta 14) and
	// via D (fee 30, delta 0). At riskfactor 0 B wins on fees; at 10 the
	// 26 msat of risk on B's 14 blocks makes D cheaper. Fuzz 0: exact.
	a, b, c, d := id(1), id(2), id(3), id(4)
	var gb Builder
	gb.AddChannel(Channel{SCID: NewSCID(1, 1, 0), Node1: a, Node2: b, Policy: [2]*Policy{pol(0, 0, 0), pol(0, 0, 0)}})
	gb.AddChannel(Channel{SCID: NewSCID(1, 2, 0), Node1: b, Node2: c, Policy: [2]*Policy{pol(1, 10, 14), pol(0, 0, 0)}})
	gb.AddChannel(Channel{SCID: NewSCID(1, 3, 0), Node1: a, Node2: d, Policy: [2]*Policy{pol(0, 0, 0), pol(0, 0, 0)}})
	gb.AddChannel(Channel{SCID: NewSCID(1, 4, 0), Node1: c, Node2: d, Policy: [2]*Policy{pol(0, 0, 0), pol(30, 0, 0)}})
	g, err := gb.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rf  float64
		via NodeID
	}{{0, b}, {1, b}, {10, d}} {
		r, err := g.GetRoute(GetRouteParams{ID: c, FromID: a, AmountMsat: 1e6, RiskFactor: tc.rf, FuzzPercent: ptr(0.0)})
		if err != nil || r[0].ID != tc.via {
			t.Errorf("riskfactor %v: route %v (%v), want via %s", tc.rf, r, err, tc.via.String()[62:])
		}
	}
}

func TestGetRouteErrors(t *testing.T) {
	g, a, _, c, _, _ := threeNodes(t)
	for name, p := range map[string]GetRouteParams{
		"to self":        {ID: a, FromID: a, AmountMsat: 1000},
		"unknown dest":   {ID: id(77), FromID: a, AmountMsat: 1000},
		"unknown source": {ID: c, FromID: id(77), AmountMsat: 1000},
		"zero amount":    {ID: c, FromID: a, AmountMsat: 0},
		"maxhops 1":      {ID: c, FromID: a, AmountMsat: 1000, MaxHops: ptr(uint32(1))},
	} {
		if _, err := g.GetRoute(p); !errors.Is(err, ErrNoRoute) {
			t.Errorf("%s: %v, want 205", name, err)
		}
	}
	for name, p := range map[string]GetRouteParams{
		"negative riskfactor": {ID: c, FromID: a, AmountMsat: 1000, RiskFactor: -1},
		"fuzz 101":            {ID: c, FromID: a, AmountMsat: 1000, FuzzPercent: ptr(101.0)},
	} {
		if _, err := g.GetRoute(p); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%s: %v, want -32602", name, err)
		}
	}
}
