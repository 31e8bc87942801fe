package simnet

import (
	"fmt"

	"github.com/payengine/payengine/graph"
)

// Delivery is the ground truth of one payment hash: what its destination
// settled, and how many HTLCs our node sent for it.
type Delivery struct {
	// Amount is the sum of the HTLC amounts settled.
	Amount graph.MilliSat
	// Settlements is how many times the destination settled a payment of
	// the hash: once for a multi-part payment whose parts all settled
	// together, once for each single-part payment.
	Settlements int
	// Parts is how many HTLCs the destination settled (the parts of
	// every settlement).
	Parts int
	// HTLCs is how many HTLCs for the hash our node added to its channels
	// (calls of Link().AddHTLC that took an id), whatever became of them:
	// with Settlements it shows whether a payer sent an HTLC twice.
	HTLCs int
}

// Delivered returns the ground truth of a payment hash (zero if nothing
// was sent or settled for it).
func (n *Net) Delivered(hash [32]byte) Delivery {
	n.truthMu.Lock()
	defer n.truthMu.Unlock()
	if d := n.truth[hash]; d != nil {
		return *d
	}
	return Delivery{}
}

// countHTLC records that our node added an HTLC for hash.
func (n *Net) countHTLC(hash [32]byte) {
	n.truthMu.Lock()
	defer n.truthMu.Unlock()
	n.truthOf(hash).HTLCs++
}

// truthOf returns hash's ground truth, made if need be; the caller holds
// truthMu.
func (n *Net) truthOf(hash [32]byte) *Delivery {
	d := n.truth[hash]
	if d == nil {
		d = &Delivery{}
		n.truth[hash] = d
	}
	return d
}

// ChannelState is a channel's live state. Index 0 is the channel's Node1
// in Graph (the lesser simnet id), as graph.Direction numbers sides.
type ChannelState struct {
	SCID  graph.SCID
	Nodes [2]graph.NodeID
	// Balance is what each side can send now; amounts held in HTLCs are
	// in Pending of the side that offered them, not in Balance.
	Balance [2]graph.MilliSat
	Pending [2]graph.MilliSat
	// HTLCs is the number of HTLCs each side has in flight.
	HTLCs [2]int
	// Policy is what each side enforces when it forwards (see
	// SetPolicy); nil for a side with no channel_update.
	Policy [2]*graph.Policy
}

// Channel returns a channel's live state.
func (n *Net) Channel(scid graph.SCID) (ChannelState, bool) {
	ci, ok := n.scids[scid]
	if !ok {
		return ChannelState{}, false
	}
	c := &n.chans[ci]
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ChannelState{SCID: scid, Nodes: [2]graph.NodeID{n.ids[c.nodes[0]], n.ids[c.nodes[1]]},
		Balance: c.balance, Pending: c.pending, HTLCs: c.slots}
	for d := range 2 {
		if c.known[d] {
			p := c.policy[d]
			s.Policy[d] = &p
		}
	}
	return s, true
}

// InFlight returns the number of HTLCs in flight on all channels (a
// payment over k channels holds k while it is pending).
func (n *Net) InFlight() int { return int(n.inflight.Load()) }

// SetPolicy changes the policy node enforces when forwarding over scid,
// as if it had changed its fees or limits without the payer having heard
// yet: Graph keeps the old one.
func (n *Net) SetPolicy(scid graph.SCID, node graph.NodeID, p graph.Policy) error {
	c, side, err := n.channel(scid, node)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.policy[side], c.known[side] = p, true
	var w *storeWrite
	if n.store != nil {
		w = n.store.submit(storeOp{kind: opSet, key: policyKey(scid, side), value: encodePolicy(p)})
	}
	c.mu.Unlock()
	return n.waitWrite(w)
}

// waitWrite waits for a write queued under a lock, if any.
func (n *Net) waitWrite(w *storeWrite) error {
	if w == nil {
		return nil
	}
	if err := w.wait(); err != nil {
		n.broke(err)
		return err
	}
	return nil
}

// SetBalance moves funds inside a channel: node's side can then send amt,
// the other side the rest of what is not held in HTLCs. It fails if amt is
// more than that.
func (n *Net) SetBalance(scid graph.SCID, node graph.NodeID, amt graph.MilliSat) error {
	c, side, err := n.channel(scid, node)
	if err != nil {
		return err
	}
	c.mu.Lock()
	free := c.balance[0] + c.balance[1]
	if amt > free {
		c.mu.Unlock()
		return fmt.Errorf("simnet: set balance of %s: %s is more than the %s not in flight", scid, amt, free)
	}
	var w *storeWrite
	if n.store != nil {
		var d [2]int64
		d[side] = int64(amt) - int64(c.balance[side])
		d[1-side] = -d[side]
		w = n.store.submit(storeOp{kind: opMerge, key: key8(prefixChannel, uint64(scid)), value: int64s(d[0], d[1])})
	}
	c.balance[side], c.balance[1-side] = amt, free-amt
	c.mu.Unlock()
	return n.waitWrite(w)
}

// Spendable returns what our side of one of our channels (of any node of
// ours) can send now (HTLCs in flight excluded), as a payer starting up
// reads it from its channels; false if scid is not one of ours.
func (n *Net) Spendable(scid graph.SCID) (graph.MilliSat, bool) {
	ci, ok := n.scids[scid]
	if !ok {
		return 0, false
	}
	c := &n.chans[ci]
	side := 0
	switch {
	case n.isOurs(c.nodes[0]):
	case n.isOurs(c.nodes[1]):
		side = 1
	default:
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.balance[side], true
}
