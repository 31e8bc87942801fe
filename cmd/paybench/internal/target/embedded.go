package target

import (
	"context"
	"errors"
	"fmt"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/simnet"
)

// EmbeddedConfig says which network to build and where the ledger lives.
type EmbeddedConfig = node.Config

// Embedded is the engine, simnet and a Pebble ledger in this process, as
// cmd/internal/node wires them. Outcome.Attempts is read from the ledger,
// which keeps every attempt of a payment under its own part number (an
// attempt our own channel refused included), or is error 210's count when
// that is larger.
type Embedded struct {
	node *node.Node
	info Info
}

// StartEmbedded builds the network, opens the ledger and starts the engine.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Graph == "" {
		cfg.Graph = graphdata.Sub300
	}
	nd, err := node.Start(cfg)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	n := nd.Net
	e := &Embedded{node: nd, info: Info{Mode: "embedded", Graph: cfg.Graph, Self: n.Self(),
		Nodes: n.Graph().NumNodes(), Channels: n.Graph().NumChannels()}}
	for _, scid := range n.LocalChannels() {
		spendable, _ := n.Spendable(scid)
		e.info.SourceCapacity += uint64(spendable / 1000)
	}
	return e, nil
}

// Engine returns the engine, for tests that read its ledger.
func (e *Embedded) Engine() *actors.Engine { return e.node.Engine }

// Ledger returns the ledger, for tests that read its attempts.
func (e *Embedded) Ledger() *persistence.Ledger { return e.node.Ledger }

// Net returns the simulated network, for tests that read its truth.
func (e *Embedded) Net() *simnet.Net { return e.node.Net }

// Info implements Target.
func (e *Embedded) Info() Info { return e.info }

// Nodes implements Target: every node with a channel but ours, with its
// channels' total capacity.
func (e *Embedded) Nodes(context.Context) ([]workload.Node, error) {
	g := e.node.Net.Graph()
	capacity := make(map[graph.NodeID]uint64, g.NumNodes())
	g.Channels(func(c graph.ChannelInfo) bool {
		capacity[c.Node1] += c.Capacity
		capacity[c.Node2] += c.Capacity
		return true
	})
	var out []workload.Node
	for _, id := range g.Nodes() { // load order: stable for a graph
		if id != e.node.Net.Self() && capacity[id] > 0 {
			out = append(out, workload.Node{ID: id, Capacity: capacity[id]})
		}
	}
	return out, nil
}

// Invoice implements Target: simnet's node issues it, stamped with the
// network's clock, for the default expiry.
func (e *Embedded) Invoice(_ context.Context, dest graph.NodeID, amount graph.MilliSat, label string) (Invoice, error) {
	n := e.node.Net
	bolt11, err := n.Invoice(dest, amount, label, 0, n.Now())
	if err != nil {
		return Invoice{}, fmt.Errorf("target: invoice: %w", err)
	}
	inv, err := htlc.Decode(bolt11, htlc.DecodeOptions{Network: htlc.Regtest})
	if err != nil {
		return Invoice{}, fmt.Errorf("target: decode our own invoice: %w", err)
	}
	return Invoice{Bolt11: bolt11, Hash: inv.PaymentHash}, nil
}

// Pay implements Target.
func (e *Embedded) Pay(ctx context.Context, inv Invoice, label string, params payment.PayParams) Outcome {
	rec, err := e.node.Engine.Pay(ctx, actors.PayRequest{Bolt11: inv.Bolt11, Label: label, Params: params})
	out := outcomeOf(rec, err)
	// A pay that found no route wrote nothing: no attempts.
	atts, aerr := e.node.Ledger.Attempts(inv.Hash, 0)
	if aerr != nil && !errors.Is(aerr, persistence.ErrNotFound) {
		out.Attempts = -1
		return out
	}
	out.Attempts = max(out.Attempts, len(atts))
	return out
}

// outcomeOf reads pay's answer: the record, or a *payment.Error whose data
// carries the routing failure (203, 204) or every attempt (210).
func outcomeOf(rec *payment.Record, err error) Outcome {
	if err == nil {
		if rec == nil || rec.Status != payment.StatusComplete {
			return Outcome{Code: -1, Message: "pay returned without a completed record"}
		}
		return Outcome{Complete: true, AmountSent: rec.AmountSent}
	}
	var pe *payment.Error
	if !errors.As(err, &pe) {
		return Outcome{Code: -1, Message: err.Error()}
	}
	out := Outcome{Code: pe.Code, Message: pe.Message}
	switch d := pe.Data.(type) {
	case payment.FailureData:
		if d.Routing != nil {
			out.FailCode = uint16(d.Routing.FailCode)
		}
	case payment.PayFailureData:
		out.Attempts = len(d.Attempts)
		if k := len(d.Attempts); k > 0 {
			if f := d.Attempts[k-1].Failure; f != nil && f.Routing != nil {
				out.FailCode = uint16(f.Routing.FailCode)
			}
		}
	}
	return out
}

// Oracle implements Target: simnet sees every balance.
func (e *Embedded) Oracle() Oracle { return e.node.Net }

// Close stops the engine, then closes the ledger and the network.
func (e *Embedded) Close() error { return e.node.Close() }
