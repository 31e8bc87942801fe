package simnet

import (
	"crypto/sha256"
	"fmt"
	"math"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// Fault is how one node misbehaves. The zero Fault is a healthy node.
type Fault struct {
	// Offline: the node cannot be reached. Whoever would forward an HTLC
	// to it fails with unknown_next_peer; our own channel to it refuses
	// HTLCs locally (link.ErrUnknownChannel).
	Offline bool `json:"offline,omitempty"`
	// NodeFailure: the node fails every HTLC it receives with
	// temporary_node_failure (the NODE bit).
	NodeFailure bool `json:"node_failure,omitempty"`
	// FailRate is the fraction, in [0, 1], of the HTLCs the node would
	// forward that it fails with temporary_channel_failure instead,
	// drawn from the network's seeded source.
	FailRate float64 `json:"fail_rate,omitempty"`
	// Delay is how long the node sits on every HTLC before processing it
	// (a slow hop, or an HTLC held for a duration).
	Delay time.Duration `json:"delay,omitempty"`
	// Garbage: the node fails every HTLC with a failure onion that is
	// random bytes, which no payer can read (CLN's 202).
	Garbage bool `json:"garbage,omitempty"`
}

func (f Fault) validate() error {
	if f.FailRate < 0 || f.FailRate > 1 || math.IsNaN(f.FailRate) {
		return fmt.Errorf("simnet: fault: fail rate %v is not in [0, 1]", f.FailRate)
	}
	if f.Delay < 0 {
		return fmt.Errorf("simnet: fault: delay %v is negative", f.Delay)
	}
	return nil
}

// SetFault makes node misbehave as f says from now on; the zero Fault
// heals it.
func (n *Net) SetFault(node graph.NodeID, f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	i, ok := n.index[node]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownNode, node)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if f == (Fault{}) {
		delete(n.faults, i)
	} else {
		n.faults[i] = f
	}
	return nil
}

// Faults returns every node's fault, by node id.
func (n *Net) Faults() map[graph.NodeID]Fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[graph.NodeID]Fault, len(n.faults))
	for i, f := range n.faults {
		out[n.ids[i]] = f
	}
	return out
}

// fault returns node's fault (the zero Fault when healthy).
func (n *Net) fault(node int32) Fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.faults[node]
}

// draw reports whether an event of probability p happens, from the seeded
// source.
func (n *Net) draw(p float64) bool {
	if p <= 0 {
		return false
	}
	n.rngMu.Lock()
	defer n.rngMu.Unlock()
	return n.rng.Float64() < p
}

// garbage is a failure onion no payer can read: random bytes of the size
// of a real one.
func (n *Net) garbage() outcome {
	b := make([]byte, 292)
	n.rngMu.Lock()
	fill(n, b)
	n.rngMu.Unlock()
	b[0] ^= byte(sha256.Size) // never, by chance, all zero
	return outcome{reason: b}
}

// tempChannelFailure is the failure message of FailRate.
func tempChannelFailure(u lnwire.ChannelUpdate1) lnwire.FailureMessage {
	return lnwire.NewTemporaryChannelFailure(&u)
}
