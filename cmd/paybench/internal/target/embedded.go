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
	"github.com/payengine/payengine/metrics"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/simnet"
	"github.com/prometheus/client_golang/prometheus"
)

// EmbeddedConfig says which network to build and where the ledger lives.
type EmbeddedConfig = node.Config

// Embedded is the engine, simnet and a Pebble ledger in this process, as
// cmd/internal/node wires them. Outcome.Attempts is read from the ledger,
// which keeps every attempt of a payment under its own part number (an
// attempt our own channel refused included), or is error 210's count when
// that is larger.
type Embedded struct {
	node     *node.Node
	info     Info
	registry *prometheus.Registry // the engine's metrics, when StartEmbedded made them
	maxParts int
}

// StartEmbedded builds the network, opens the ledger and starts the engine
// (with its metrics in a registry of its own when cfg has none, for
// PlannerLatency).
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Graph == "" {
		cfg.Graph = graphdata.Sub300
	}
	var reg *prometheus.Registry
	if cfg.Metrics == nil {
		reg = prometheus.NewRegistry()
		m, err := metrics.New(reg)
		if err != nil {
			return nil, fmt.Errorf("target: metrics: %w", err)
		}
		cfg.Metrics = m
	}
	nd, err := node.Start(cfg)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	n := nd.Net
	e := &Embedded{node: nd, registry: reg, info: Info{Mode: "embedded", Graph: cfg.Graph, Self: n.Self(),
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

// SetMaxParts sets the maxparts every later Pay passes to pay (0: pay's
// default). It reports whether the engine takes maxparts (it does).
func (e *Embedded) SetMaxParts(n int) bool {
	e.maxParts = n
	var p payment.PayParams
	return applyMaxParts(&p, n)
}

// applyMaxParts puts maxparts in pay's parameters (0 keeps them) and
// reports whether it could: always, since pay takes maxparts.
func applyMaxParts(p *payment.PayParams, n int) bool {
	if n > 0 {
		p.MaxParts = n
	}
	return true
}

// Pay implements Target: it fills Outcome.Truth from simnet.
func (e *Embedded) Pay(ctx context.Context, inv Invoice, label string, params payment.PayParams) Outcome {
	applyMaxParts(&params, e.maxParts)
	rec, err := e.node.Engine.Pay(ctx, actors.PayRequest{Bolt11: inv.Bolt11, Label: label, Params: params})
	out := outcomeOf(rec, err)
	d := e.node.Net.Delivered(inv.Hash)
	out.Truth = &Truth{HTLCs: d.HTLCs, Parts: d.Parts}
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

// plannerMetric is the engine's histogram of route-search (planner) time.
// TODO(lead, issue 13): if the flow planner records its time under another
// name, name it here.
const plannerMetric = "payengine_route_search_seconds"

// PlannerLatency reads the engine's route-search times so far from its
// metrics; false when StartEmbedded did not make the registry or nothing
// was recorded.
func (e *Embedded) PlannerLatency() (Latency, bool) {
	if e.registry == nil {
		return Latency{}, false
	}
	fams, err := e.registry.Gather()
	if err != nil {
		return Latency{}, false
	}
	for _, f := range fams {
		if f.GetName() != plannerMetric || len(f.GetMetric()) == 0 || f.GetMetric()[0].GetHistogram() == nil {
			continue
		}
		h := f.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() == 0 {
			return Latency{}, false
		}
		var bounds []float64
		var counts []uint64
		for _, b := range h.GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
			counts = append(counts, b.GetCumulativeCount())
		}
		l := Latency{Source: plannerMetric, Count: h.GetSampleCount()}
		l.P50, l.P50Over = Quantile(0.5, bounds, counts, h.GetSampleCount())
		l.P99, l.P99Over = Quantile(0.99, bounds, counts, h.GetSampleCount())
		l.P50, l.P99 = 1000*l.P50, 1000*l.P99
		return l, true
	}
	return Latency{}, false
}

// Quantile estimates the q-quantile of a histogram given as bucket upper
// bounds with cumulative counts (the +Inf bucket implied by total), by
// linear interpolation inside the bucket that holds it, as Prometheus's
// histogram_quantile does. A quantile in the +Inf bucket is the largest
// finite bound, with over true.
func Quantile(q float64, bounds []float64, cumulative []uint64, total uint64) (v float64, over bool) {
	if total == 0 || len(bounds) == 0 {
		return 0, false
	}
	rank := q * float64(total)
	lower, below := 0.0, uint64(0)
	for i, ub := range bounds {
		if float64(cumulative[i]) >= rank {
			in := cumulative[i] - below
			if in == 0 {
				return ub, false
			}
			return lower + (ub-lower)*(rank-float64(below))/float64(in), false
		}
		lower, below = ub, cumulative[i]
	}
	return bounds[len(bounds)-1], true
}

// Oracle implements Target: simnet sees every balance.
func (e *Embedded) Oracle() Oracle { return e.node.Net }

// Close stops the engine, then closes the ledger and the network.
func (e *Embedded) Close() error { return e.node.Close() }
