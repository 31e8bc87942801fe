package graph

import (
	"fmt"
	"testing"
)

// id returns a node id whose order follows b.
func id(b byte) NodeID {
	var n NodeID
	n[0] = 2
	n[32] = b
	return n
}

func pol(base, ppm uint32, delta uint16) *Policy {
	return &Policy{BaseMsat: base, FeePPM: ppm, CLTVDelta: delta, HTLCMin: 0, HTLCMax: 1 << 40}
}

func ptr[T any](v T) *T { return &v }

// routeCost evaluates a route with the search's own step function, from the
// destination back, and returns CLN's cost for it.
func routeCost(t testing.TB, g *Graph, q *query, r Route, src NodeID) uint64 {
	t.Helper()
	s := state{amt: q.amount, total: q.amount, cost: uint64(q.amount)}
	for i := len(r) - 1; i >= 0; i-- {
		e, ok := g.edgeOf(r[i].Channel, r[i].Direction)
		if !ok {
			t.Fatalf("hop %d: %s/%d is not a usable half-channel", i, r[i].Channel, r[i].Direction)
		}
		var sc float64 = 1
		if q.fuzz != 0 {
			sc = fuzzScale(&q.seed, r[i].Channel, q.fuzz)
		}
		n, ok := q.step(s, e, sc)
		if !ok {
			t.Fatalf("hop %d: step refused", i)
		}
		s = n
	}
	return s.cost
}

// edgeOf finds the usable edge of a half-channel.
func (g *Graph) edgeOf(scid SCID, dir uint8) (*edge, bool) {
	c, ok := g.byscid[scid]
	if !ok {
		return nil, false
	}
	h := 2*c + uint32(dir)
	to := g.chans[c].nodes[1-dir]
	for i := g.inStart[to]; i < g.inStart[to+1]; i++ {
		if g.in[i].half == h {
			return &g.in[i], true
		}
	}
	return nil, false
}

func (r Route) String() string {
	s := ""
	for _, h := range r {
		s += fmt.Sprintf("[%s %s/%d %d %d] ", h.ID.String()[62:], h.Channel, h.Direction, h.Amount, h.Delay)
	}
	return s
}
