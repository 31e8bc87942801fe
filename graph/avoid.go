package graph

import (
	"fmt"
	"sync/atomic"
)

// layouts numbers the node and channel layouts Build makes; WithPolicies
// keeps its source's, since it changes policies only.
var layouts atomic.Uint64

// AvoidSet is a set of channel directions and nodes that searches must not
// use, as bitsets over a snapshot's indexes: checking it costs a bit test,
// and a caller that remembers thousands of failures passes it whole, not
// as a list to parse. It is immutable; With returns a changed copy, so a
// search under way keeps the set it started with. It serves every
// snapshot of the same layout (WithPolicies keeps the layout).
type AvoidSet struct {
	layout uint64
	half   []uint64 // bit 2*channel+dir
	node   []uint64
	n      int
}

// NewAvoidSet returns the set of channels and nodes for g's layout;
// channels and nodes g does not know are left out.
func (g *Graph) NewAvoidSet(channels []SCIDDir, nodes []NodeID) *AvoidSet {
	s := &AvoidSet{layout: g.layout, half: make([]uint64, (len(g.policy)+63)/64), node: make([]uint64, (len(g.ids)+63)/64)}
	for _, d := range channels {
		s.addChannel(g, d)
	}
	for _, id := range nodes {
		s.addNode(g, id)
	}
	return s
}

// With returns a copy of s with one more channel direction or node (either
// may be nil).
func (s *AvoidSet) With(g *Graph, channel *SCIDDir, node *NodeID) *AvoidSet {
	c := &AvoidSet{layout: s.layout, half: s.half, node: s.node, n: s.n}
	if channel != nil {
		c.half = append([]uint64(nil), s.half...)
		c.addChannel(g, *channel)
	}
	if node != nil {
		c.node = append([]uint64(nil), s.node...)
		c.addNode(g, *node)
	}
	return c
}

// Len returns how many channel directions and nodes the set holds.
func (s *AvoidSet) Len() int { return s.n }

func (s *AvoidSet) addChannel(g *Graph, d SCIDDir) {
	if c, ok := g.byscid[d.SCID]; ok && d.Dir < 2 && !s.hasHalf(2*c+uint32(d.Dir)) {
		h := 2*c + uint32(d.Dir)
		s.half[h/64] |= 1 << (h % 64)
		s.n++
	}
}

func (s *AvoidSet) addNode(g *Graph, id NodeID) {
	if n, ok := g.index[id]; ok && !s.hasNode(n) {
		s.node[n/64] |= 1 << (n % 64)
		s.n++
	}
}

func (s *AvoidSet) hasHalf(h uint32) bool { return s.half[h/64]&(1<<(h%64)) != 0 }
func (s *AvoidSet) hasNode(n uint32) bool { return s.node[n/64]&(1<<(n%64)) != 0 }

// check reports whether s was made for g's layout.
func (s *AvoidSet) check(g *Graph) error {
	if s.layout != g.layout {
		return fmt.Errorf("graph: avoid set of another graph layout")
	}
	return nil
}

// nodeExcluded reports whether the search may not pass through node n.
func (q *query) nodeExcluded(n uint32) bool {
	if q.avoid != nil && q.avoid.hasNode(n) {
		return true
	}
	_, ex := q.exclNode[n]
	return ex
}

// halfExcluded reports whether the search may not use half-channel h.
func (q *query) halfExcluded(h uint32) bool {
	if q.avoid != nil && q.avoid.hasHalf(h) {
		return true
	}
	_, ex := q.exclHalf[h]
	return ex
}
