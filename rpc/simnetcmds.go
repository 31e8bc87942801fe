package rpc

import (
	"context"
	"errors"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/simnet"
)

// CodeLabelExists is Core Lightning's INVOICE_LABEL_ALREADY_EXISTS.
const CodeLabelExists = 900

func (h *handlers) simnetCommands() []Command {
	return []Command{
		{Name: "simnet-invoice", Category: "developer", Handler: h.simnetInvoice,
			Params: []Param{
				{Name: "node", Required: true, Parse: parsePubkey},
				{Name: "amount_msat", Aliases: []string{"msatoshi"}, Required: true, Parse: parseMsatOrAny},
				{Name: "label", Parse: parseString},
				{Name: "description", Parse: parseString},
				{Name: "expiry", Parse: parseU32},
			},
			Description: `Make a node of the simulated network issue an invoice for amount_msat ("any": no amount), valid for expiry seconds (3600). A label may be given once.`},
		{Name: "simnet-listnodes", Category: "developer", Handler: h.simnetListNodes,
			Description: "List the nodes of the simulated network with their alias, number of usable channels and the total capacity of their channels in sat."},
	}
}

type simnetInvoiceJSON struct {
	Bolt11        string `json:"bolt11"`
	PaymentHash   string `json:"payment_hash"`
	PaymentSecret string `json:"payment_secret"`
	Destination   string `json:"destination"`
	ExpiresAt     uint64 `json:"expires_at"`
}

func (h *handlers) simnetInvoice(_ context.Context, a *Args) (any, error) {
	node, _ := Arg[graph.NodeID](a, "node")
	var amount graph.MilliSat
	if v, _ := Arg[*graph.MilliSat](a, "amount_msat"); v != nil {
		amount = *v
	}
	desc, _ := Arg[string](a, "description")
	var expiry time.Duration
	if v, ok := Arg[uint64](a, "expiry"); ok {
		expiry = time.Duration(v) * time.Second
	}
	label, hasLabel := Arg[string](a, "label")
	if hasLabel {
		// Core Lightning's labels are unique; simnet keeps none, so the
		// server remembers the ones it issued.
		h.labelsMu.Lock()
		if h.labels == nil {
			h.labels = map[string]bool{}
		}
		dup := h.labels[label]
		h.labels[label] = true
		h.labelsMu.Unlock()
		if dup {
			return nil, &Error{Code: CodeLabelExists, Message: "Duplicate label '" + label + "'"}
		}
	}
	b, err := h.net.Invoice(node, amount, desc, expiry, h.net.Now())
	if err != nil {
		if hasLabel {
			h.labelsMu.Lock()
			delete(h.labels, label)
			h.labelsMu.Unlock()
		}
		if errors.Is(err, simnet.ErrUnknownNode) {
			return nil, invalidParams("'%s' is not a node of the simulated network: %s", a.Given("node"), node)
		}
		return nil, err
	}
	d, err := h.e.DecodePay(b, nil)
	if err != nil {
		return nil, h.fail(err)
	}
	return simnetInvoiceJSON{Bolt11: b, PaymentHash: d.PaymentHash, PaymentSecret: d.PaymentSecret,
		Destination: d.Payee.String(), ExpiresAt: d.CreatedAt + d.Expiry}, nil
}

// simnetNodeJSON is one node of simnet-listnodes. NumChannels counts the
// usable half-channels leaving the node; CapacitySat sums the capacity of
// every channel it has, usable or not (what SimLN weighs destinations by,
// and what a load test needs to draw the same workload as in-process).
type simnetNodeJSON struct {
	ID          string `json:"id"`
	Alias       string `json:"alias"`
	NumChannels int    `json:"num_channels"`
	CapacitySat uint64 `json:"capacity_sat"`
}

func (h *handlers) simnetListNodes(context.Context, *Args) (any, error) {
	g := h.net.Graph()
	capacity := make(map[graph.NodeID]uint64, g.NumNodes())
	g.Channels(func(c graph.ChannelInfo) bool {
		capacity[c.Node1] += c.Capacity
		capacity[c.Node2] += c.Capacity
		return true
	})
	ids := g.Nodes()
	out := make([]simnetNodeJSON, len(ids))
	for i, id := range ids {
		out[i] = simnetNodeJSON{ID: id.String(), Alias: g.Alias(id), NumChannels: g.NodeChannels(id), CapacitySat: capacity[id]}
	}
	return map[string]any{"nodes": out}, nil
}
