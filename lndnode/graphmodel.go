package lndnode

import (
	"fmt"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/payengine/payengine/graph"
)

// graphModel is lnd's channel graph as we follow it: DescribeGraph's
// snapshot with SubscribeChannelGraph's updates applied. It is not safe for
// concurrent use; the backend's graph goroutine owns it.
type graphModel struct {
	aliases map[graph.NodeID]string
	chans   map[graph.SCID]*graph.Channel
}

func newGraphModel() *graphModel {
	return &graphModel{aliases: map[graph.NodeID]string{}, chans: map[graph.SCID]*graph.Channel{}}
}

// load replaces the model with a DescribeGraph answer. Edges lnd reports
// with unreadable keys are skipped and counted.
func (m *graphModel) load(g *lnrpc.ChannelGraph) (skipped int) {
	m.aliases = make(map[graph.NodeID]string, len(g.Nodes))
	m.chans = make(map[graph.SCID]*graph.Channel, len(g.Edges))
	for _, n := range g.Nodes {
		if id, err := nodeID(n.PubKey); err == nil {
			m.aliases[id] = n.Alias
		}
	}
	for _, e := range g.Edges {
		n1, err1 := nodeID(e.Node1Pub)
		n2, err2 := nodeID(e.Node2Pub)
		if err1 != nil || err2 != nil || n1 == n2 {
			skipped++
			continue
		}
		// node1_policy is the policy node1 sets for what it forwards to
		// node2: the builder's Policy[0] for the channel given as (n1, n2).
		m.chans[graph.SCID(e.ChannelId)] = &graph.Channel{SCID: graph.SCID(e.ChannelId), Node1: n1, Node2: n2,
			Capacity: uint64(max(e.Capacity, 0)), Policy: [2]*graph.Policy{policy(e.Node1Policy), policy(e.Node2Policy)}}
	}
	return skipped
}

// apply applies one topology update: node aliases, channel policies (a
// channel not seen yet is added), closed channels removed. It reports
// whether the graph changed.
func (m *graphModel) apply(u *lnrpc.GraphTopologyUpdate) bool {
	changed := false
	for _, n := range u.NodeUpdates {
		if id, err := nodeID(n.IdentityKey); err == nil && m.aliases[id] != n.Alias {
			m.aliases[id] = n.Alias
			changed = true
		}
	}
	for _, c := range u.ChannelUpdates {
		adv, err1 := nodeID(c.AdvertisingNode)
		con, err2 := nodeID(c.ConnectingNode)
		if err1 != nil || err2 != nil || adv == con {
			continue
		}
		scid := graph.SCID(c.ChanId)
		ch, ok := m.chans[scid]
		if !ok {
			ch = &graph.Channel{SCID: scid, Node1: adv, Node2: con, Capacity: uint64(max(c.Capacity, 0))}
			m.chans[scid] = ch
		}
		// The advertising node sets the policy of its own direction.
		switch adv {
		case ch.Node1:
			ch.Policy[0] = policy(c.RoutingPolicy)
		case ch.Node2:
			ch.Policy[1] = policy(c.RoutingPolicy)
		default:
			continue // not a node of this channel: ignore
		}
		changed = true
	}
	for _, c := range u.ClosedChans {
		if _, ok := m.chans[graph.SCID(c.ChanId)]; ok {
			delete(m.chans, graph.SCID(c.ChanId))
			changed = true
		}
	}
	return changed
}

// build makes a snapshot of the model.
func (m *graphModel) build() (*graph.Graph, error) {
	var b graph.Builder
	for id, alias := range m.aliases {
		b.AddNode(graph.Node{ID: id, Alias: alias})
	}
	for _, c := range m.chans {
		cc := *c
		b.AddChannel(cc)
	}
	g, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("lndnode: graph: %w", err)
	}
	return g, nil
}
