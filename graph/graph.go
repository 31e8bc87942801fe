// Package graph holds the Lightning channel graph as immutable, compact
// snapshots, loads it from LND describegraph JSON, and finds routes with Core
// Lightning's getroute cost function.
//
// A *Graph is never changed after Build returns, so any number of goroutines
// may search one snapshot at once; an update makes a new snapshot.
package graph

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Policy is the routing policy one node advertises for one direction of a
// channel (a BOLT 7 channel_update).
type Policy struct {
	BaseMsat   uint32   // fee_base_msat
	FeePPM     uint32   // fee_proportional_millionths
	CLTVDelta  uint16   // cltv_expiry_delta
	HTLCMin    MilliSat // htlc_minimum_msat
	HTLCMax    MilliSat // htlc_maximum_msat
	Disabled   bool     // the disable bit of channel_flags
	LastUpdate uint32   // timestamp of the update, seconds
}

// Channel is one channel as the builder takes it. Node1 and Node2 may come in
// either order; the builder makes Node1 the lesser id and swaps the policies
// with them, so Policy[d] is always the policy for direction d (BOLT 7).
type Channel struct {
	SCID     SCID
	Node1    NodeID
	Node2    NodeID
	Capacity uint64     // satoshis
	Policy   [2]*Policy // nil: no channel_update known for that direction
}

// Node is a node as the builder takes it.
type Node struct {
	ID    NodeID
	Alias string
}

// channel is a channel inside a snapshot.
type channel struct {
	scid     SCID
	nodes    [2]uint32 // [0] is the lesser id
	capacity uint64
}

// edge is one usable half-channel in the search's adjacency arrays. It copies
// the policy fields the cost function reads so a relaxation touches one
// cache line.
type edge struct {
	from    uint32 // node index of the sender
	to      uint32 // node index of the receiver
	half    uint32 // channel index*2 + direction
	base    uint32
	ppm     uint32
	delay   uint32
	htlcMin MilliSat
	htlcMax MilliSat
}

// Graph is an immutable snapshot of the channel graph.
type Graph struct {
	ids     []NodeID
	aliases []string
	index   map[NodeID]uint32

	chans  []channel
	byscid map[SCID]uint32
	policy []Policy // 2 per channel: index chan*2+dir
	known  []bool   // 2 per channel: a channel_update exists

	// in lists, for each node, the usable half-channels that point into it:
	// in[inStart[n]:inStart[n+1]]. The search walks from the destination
	// back to the source, so it reads incoming edges.
	inStart []uint32
	in      []edge
	// out is the same for outgoing usable half-channels, for forward walks.
	outStart []uint32
	out      []edge
	// inHash and outHash hold, beside each edge, its channel's fuzz hash
	// for the zero Seed (kept apart so edges stay small).
	inHash  []float64
	outHash []float64

	// mins holds the distinct htlc_minimum values of usable half-channels,
	// ascending; the search uses it to know when pruning is safe.
	mins []MilliSat
	// maxIn is, per node, the largest htlc_maximum of its usable incoming
	// half-channels: a node asked to receive more can forward nothing.
	maxIn []MilliSat

	pool     sync.Pool   // of *workspace
	flowPool sync.Pool   // of *flowWork
	flowOnce sync.Once   // makes outPrior, on the first PlanFlow
	outPrior []MilliSat  // per g.out arc, its prior upper bound (flowNet)
	inOut    []int32     // per g.in edge, its index in g.out
	layout   uint64      // which Build made the nodes and channels (AvoidSet)
	seeds    *seedTables // reused seeds' channel hashes, shared by the layout's snapshots
	bounds   boundCache  // this snapshot's kept A* bounds (keptBound)
}

// Builder collects nodes and channels and builds a Graph. The zero value is
// ready to use. A Builder is not safe for concurrent use.
type Builder struct {
	nodes []Node
	chans []Channel
}

// AddNode adds a node. Nodes that appear only in channels are added by Build.
func (b *Builder) AddNode(n Node) { b.nodes = append(b.nodes, n) }

// AddChannel adds a channel.
func (b *Builder) AddChannel(c Channel) { b.chans = append(b.chans, c) }

// Build checks what was added and returns the snapshot. Duplicate short
// channel ids, self-channels and duplicate nodes are errors.
func (b *Builder) Build() (*Graph, error) {
	g := &Graph{index: make(map[NodeID]uint32, len(b.nodes)), layout: layouts.Add(1), seeds: &seedTables{}}
	addNode := func(id NodeID, alias string) uint32 {
		if i, ok := g.index[id]; ok {
			return i
		}
		i := uint32(len(g.ids))
		g.index[id] = i
		g.ids = append(g.ids, id)
		g.aliases = append(g.aliases, alias)
		return i
	}
	for _, n := range b.nodes {
		if _, dup := g.index[n.ID]; dup {
			return nil, fmt.Errorf("graph: node %s listed twice", n.ID)
		}
		addNode(n.ID, n.Alias)
	}
	g.chans = make([]channel, 0, len(b.chans))
	g.byscid = make(map[SCID]uint32, len(b.chans))
	g.policy = make([]Policy, 0, 2*len(b.chans))
	g.known = make([]bool, 0, 2*len(b.chans))
	for _, c := range b.chans {
		if c.Node1 == c.Node2 {
			return nil, fmt.Errorf("graph: channel %s: both ends are %s", c.SCID, c.Node1)
		}
		if _, dup := g.byscid[c.SCID]; dup {
			return nil, fmt.Errorf("graph: channel %s listed twice", c.SCID)
		}
		n1, n2, pol := c.Node1, c.Node2, c.Policy
		if n2.Less(n1) {
			n1, n2 = n2, n1
			pol[0], pol[1] = pol[1], pol[0]
		}
		g.byscid[c.SCID] = uint32(len(g.chans))
		g.chans = append(g.chans, channel{
			scid:     c.SCID,
			nodes:    [2]uint32{addNode(n1, ""), addNode(n2, "")},
			capacity: c.Capacity,
		})
		for d := 0; d < 2; d++ {
			if pol[d] == nil {
				g.policy = append(g.policy, Policy{Disabled: true})
				g.known = append(g.known, false)
				continue
			}
			g.policy = append(g.policy, *pol[d])
			g.known = append(g.known, true)
		}
	}
	g.buildAdjacency()
	return g, nil
}

// usable reports whether half-channel h can carry payments at all: a policy
// is known, it is not disabled, and its limits leave some room.
func (g *Graph) usable(h uint32) bool {
	p := &g.policy[h]
	return g.known[h] && !p.Disabled && p.HTLCMin <= p.HTLCMax
}

func (g *Graph) buildAdjacency() {
	n := len(g.ids)
	g.inStart = make([]uint32, n+1)
	g.outStart = make([]uint32, n+1)
	count := 0
	for h := range g.policy {
		if !g.usable(uint32(h)) {
			continue
		}
		c := &g.chans[h/2]
		from, to := c.nodes[h%2], c.nodes[1-h%2]
		g.inStart[to+1]++
		g.outStart[from+1]++
		count++
	}
	for i := 0; i < n; i++ {
		g.inStart[i+1] += g.inStart[i]
		g.outStart[i+1] += g.outStart[i]
	}
	g.in = make([]edge, count)
	g.out = make([]edge, count)
	g.inHash = make([]float64, count)
	g.outHash = make([]float64, count)
	inPos := slices.Clone(g.inStart[:n])
	outPos := slices.Clone(g.outStart[:n])
	seen := make(map[MilliSat]struct{})
	var zero Seed
	for h := range g.policy {
		if !g.usable(uint32(h)) {
			continue
		}
		c := &g.chans[h/2]
		p := &g.policy[h]
		e := edge{
			from: c.nodes[h%2], to: c.nodes[1-h%2], half: uint32(h),
			base: p.BaseMsat, ppm: p.FeePPM, delay: uint32(p.CLTVDelta),
			htlcMin: p.HTLCMin, htlcMax: p.HTLCMax,
		}
		hash := fuzzHash(&zero, c.scid)
		g.in[inPos[e.to]], g.inHash[inPos[e.to]] = e, hash
		inPos[e.to]++
		g.out[outPos[e.from]], g.outHash[outPos[e.from]] = e, hash
		outPos[e.from]++
		if _, ok := seen[p.HTLCMin]; !ok {
			seen[p.HTLCMin] = struct{}{}
			g.mins = append(g.mins, p.HTLCMin)
		}
	}
	sort.Slice(g.mins, func(i, j int) bool { return g.mins[i] < g.mins[j] })
	// Largest htlc_maximum first within each node's edges, so a search can
	// stop at the first edge too small for its amount.
	sortByMax(g.in, g.inHash, g.inStart)
	sortByMax(g.out, g.outHash, g.outStart)
	g.maxIn = make([]MilliSat, n)
	for i := range g.in {
		if e := &g.in[i]; e.htlcMax > g.maxIn[e.to] {
			g.maxIn[e.to] = e.htlcMax
		}
	}
}

// NumNodes returns the number of nodes.
func (g *Graph) NumNodes() int { return len(g.ids) }

// NumChannels returns the number of channels, usable or not.
func (g *Graph) NumChannels() int { return len(g.chans) }

// NumUsable returns the number of usable half-channels (directed edges).
func (g *Graph) NumUsable() int { return len(g.in) }

// HasNode reports whether id is in the graph.
func (g *Graph) HasNode(id NodeID) bool { _, ok := g.index[id]; return ok }

// Nodes returns every node id, in load order. The slice is a copy.
func (g *Graph) Nodes() []NodeID { return slices.Clone(g.ids) }

// Alias returns a node's alias, or "" if it has none or is unknown.
func (g *Graph) Alias(id NodeID) string {
	if i, ok := g.index[id]; ok {
		return g.aliases[i]
	}
	return ""
}

// ChannelInfo describes one channel of a snapshot, for callers outside the
// search (listing, validation, simulation).
type ChannelInfo struct {
	SCID     SCID
	Node1    NodeID // the lesser id; direction 0 is from Node1
	Node2    NodeID
	Capacity uint64 // satoshis
	Policy   [2]*Policy
}

// Channel returns the channel with this id.
func (g *Graph) Channel(scid SCID) (ChannelInfo, bool) {
	i, ok := g.byscid[scid]
	if !ok {
		return ChannelInfo{}, false
	}
	return g.channelInfo(i), true
}

func (g *Graph) channelInfo(i uint32) ChannelInfo {
	c := &g.chans[i]
	ci := ChannelInfo{SCID: c.scid, Node1: g.ids[c.nodes[0]], Node2: g.ids[c.nodes[1]], Capacity: c.capacity}
	for d := 0; d < 2; d++ {
		if g.known[2*i+uint32(d)] {
			p := g.policy[2*i+uint32(d)]
			ci.Policy[d] = &p
		}
	}
	return ci
}

// Channels calls fn for every channel in load order until fn returns false.
func (g *Graph) Channels(fn func(ChannelInfo) bool) {
	for i := range g.chans {
		if !fn(g.channelInfo(uint32(i))) {
			return
		}
	}
}

// Usable reports whether the half-channel can carry payments: its policy is
// known, enabled, and htlc_minimum <= htlc_maximum.
func (g *Graph) Usable(d SCIDDir) bool {
	i, ok := g.byscid[d.SCID]
	return ok && d.Dir < 2 && g.usable(2*i+uint32(d.Dir))
}

// Direction returns the direction bit for sending from one end of a channel
// to the other: 0 when from is the lesser node id.
func Direction(from, to NodeID) uint8 {
	if from.Less(to) {
		return 0
	}
	return 1
}

// NodeChannels returns the number of usable half-channels leaving a node.
func (g *Graph) NodeChannels(id NodeID) int {
	i, ok := g.index[id]
	if !ok {
		return 0
	}
	return int(g.outStart[i+1] - g.outStart[i])
}

// sortByMax orders each node's run of edges (and their hashes) by htlc_maximum,
// largest first, ties by half-channel index so the order is deterministic.
func sortByMax(edges []edge, hashes []float64, start []uint32) {
	for n := 0; n+1 < len(start); n++ {
		run := edgeRun{edges[start[n]:start[n+1]], hashes[start[n]:start[n+1]]}
		sort.Sort(run)
	}
}

type edgeRun struct {
	e []edge
	h []float64
}

func (r edgeRun) Len() int { return len(r.e) }
func (r edgeRun) Less(i, j int) bool {
	if r.e[i].htlcMax != r.e[j].htlcMax {
		return r.e[i].htlcMax > r.e[j].htlcMax
	}
	return r.e[i].half < r.e[j].half
}
func (r edgeRun) Swap(i, j int) {
	r.e[i], r.e[j] = r.e[j], r.e[i]
	r.h[i], r.h[j] = r.h[j], r.h[i]
}
