// Package simnetrpc holds the simulated network's own JSON-RPC commands
// (simnet-invoice, simnet-listnodes, simnet-fault, simnet-truth) and its
// view of our node for getinfo: what a daemon over the embedded network
// passes to rpc.New as Options.Commands and Options.Node, and what
// simnetd's control socket serves alone (NewServer). It lives beside the
// backend so that package rpc knows no backend.
package simnetrpc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/rpc"
	"github.com/payengine/payengine/simnet"
)

// Info is getinfo's view of our node in the simulated network n:
// its id and alias, the peers of its channels, the height, network
// "regtest" (the invoices are lnbcrt, which Core Lightning's clients know
// by that name).
func Info(n *simnet.Net) rpc.NodeInfo { return simnetInfo{n, 0} }

// InfoOf is Info for our node i of several (simnet.Options.Ours).
func InfoOf(n *simnet.Net, i int) rpc.NodeInfo { return simnetInfo{n, i} }

type simnetInfo struct {
	n    *simnet.Net
	node int
}

func (s simnetInfo) Self() graph.NodeID { return s.n.SelfOf(s.node) }

func (s simnetInfo) Summary() rpc.NodeSummary {
	self, g, chans := s.n.SelfOf(s.node), s.n.Graph(), s.n.LocalChannelsOf(s.node)
	peers := map[graph.NodeID]bool{}
	for _, scid := range chans {
		if c, ok := g.Channel(scid); ok {
			peer := c.Node1
			if peer == self {
				peer = c.Node2
			}
			peers[peer] = true
		}
	}
	return rpc.NodeSummary{Alias: g.Alias(self), Peers: len(peers), Channels: len(chans), Height: s.n.Height(), Network: "regtest"}
}

// CodeLabelExists is Core Lightning's INVOICE_LABEL_ALREADY_EXISTS.
const CodeLabelExists = 900

// simnetCmds are the simnet-* commands over one simulated network.
type simnetCmds struct {
	net *simnet.Net

	labelsMu sync.Mutex
	labels   map[string]bool // simnet-invoice labels issued
}

// Commands returns the simnet-* commands over n (simnet-invoice,
// simnet-listnodes, simnet-fault, simnet-truth), for rpc.Options.Commands
// of a daemon over the embedded network, or for simnetd's control socket.
func Commands(n *simnet.Net) []rpc.Command {
	h := &simnetCmds{net: n}
	return []rpc.Command{
		{Name: "simnet-invoice", Category: "developer", Handler: h.simnetInvoice,
			Params: []rpc.Param{
				{Name: "node", Required: true, Parse: rpc.ParsePubkey},
				{Name: "amount_msat", Aliases: []string{"msatoshi"}, Required: true, Parse: rpc.ParseMsatOrAny},
				{Name: "label", Parse: rpc.ParseString},
				{Name: "description", Parse: rpc.ParseString},
				{Name: "expiry", Parse: rpc.ParseU32},
			},
			Description: `Make a node of the simulated network issue an invoice for amount_msat ("any": no amount), valid for expiry seconds (3600). A label may be given once.`},
		{Name: "simnet-listnodes", Category: "developer", Handler: h.simnetListNodes,
			Description: "List the nodes of the simulated network with their alias, number of usable channels and the total capacity of their channels in sat."},
		{Name: "simnet-fault", Category: "developer", Handler: h.simnetFault,
			Params: []rpc.Param{
				{Name: "node", Required: true, Parse: rpc.ParsePubkey},
				{Name: "offline", Parse: rpc.ParseBool},
				{Name: "node_failure", Parse: rpc.ParseBool},
				{Name: "fail_rate", Parse: rpc.ParsePositiveDouble},
				{Name: "delay", Parse: rpc.ParseU32},
				{Name: "garbage", Parse: rpc.ParseBool},
			},
			Description: "Make a node of the simulated network misbehave from now on: offline, failing every HTLC (node_failure), failing a fraction fail_rate in [0, 1] of what it forwards, sitting delay ms on each HTLC, or answering with garbage onions. The fields not given are off; all off heals the node."},
		{Name: "simnet-truth", Category: "developer", Handler: h.simnetTruth,
			Params:      []rpc.Param{{Name: "payment_hash", Required: true, Parse: rpc.ParseHash}},
			Description: "What the simulated network did with a payment hash: settlements at the destination (a multi-part payment settles once), parts, the HTLCs it settled, delivered_msat settled in all, and htlcs, how many HTLCs our nodes added for it."},
	}
}

type simnetInvoiceJSON struct {
	Bolt11        string `json:"bolt11"`
	PaymentHash   string `json:"payment_hash"`
	PaymentSecret string `json:"payment_secret"`
	Destination   string `json:"destination"`
	ExpiresAt     uint64 `json:"expires_at"`
}

func (h *simnetCmds) simnetInvoice(_ context.Context, a *rpc.Args) (any, error) {
	node, _ := rpc.Arg[graph.NodeID](a, "node")
	var amount graph.MilliSat
	if v, _ := rpc.Arg[*graph.MilliSat](a, "amount_msat"); v != nil {
		amount = *v
	}
	desc, _ := rpc.Arg[string](a, "description")
	var expiry time.Duration
	if v, ok := rpc.Arg[uint64](a, "expiry"); ok {
		expiry = time.Duration(v) * time.Second
	}
	label, hasLabel := rpc.Arg[string](a, "label")
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
			return nil, &rpc.Error{Code: CodeLabelExists, Message: "Duplicate label '" + label + "'"}
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
	inv, err := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
	if err != nil {
		return nil, err
	}
	d := inv.DecodePayResult()
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

func (h *simnetCmds) simnetListNodes(context.Context, *rpc.Args) (any, error) {
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

func (h *simnetCmds) simnetFault(_ context.Context, a *rpc.Args) (any, error) {
	node, _ := rpc.Arg[graph.NodeID](a, "node")
	var f simnet.Fault
	f.Offline, _ = rpc.Arg[bool](a, "offline")
	f.NodeFailure, _ = rpc.Arg[bool](a, "node_failure")
	f.FailRate, _ = rpc.Arg[float64](a, "fail_rate")
	if ms, ok := rpc.Arg[uint64](a, "delay"); ok {
		f.Delay = time.Duration(ms) * time.Millisecond
	}
	f.Garbage, _ = rpc.Arg[bool](a, "garbage")
	if f.FailRate > 1 {
		return nil, invalidParams("'fail_rate' should be from 0 to 1, not '%v'", f.FailRate)
	}
	if err := h.net.SetFault(node, f); err != nil {
		if errors.Is(err, simnet.ErrUnknownNode) {
			return nil, invalidParams("'%s' is not a node of the simulated network: %s", a.Given("node"), node)
		}
		return nil, err
	}
	return simnetFaultJSON{Node: node.String(), Offline: f.Offline, NodeFailure: f.NodeFailure, FailRate: f.FailRate,
		DelayMs: uint64(f.Delay / time.Millisecond), Garbage: f.Garbage}, nil
}

// simnetFaultJSON is simnet-fault's answer: the node's fault from now on.
type simnetFaultJSON struct {
	Node        string  `json:"node"`
	Offline     bool    `json:"offline"`
	NodeFailure bool    `json:"node_failure"`
	FailRate    float64 `json:"fail_rate"`
	DelayMs     uint64  `json:"delay"`
	Garbage     bool    `json:"garbage"`
}

// simnetTruthJSON is simnet-truth's answer (simnet.Delivery).
type simnetTruthJSON struct {
	PaymentHash   string `json:"payment_hash"`
	Settlements   int    `json:"settlements"`
	Parts         int    `json:"parts"`
	DeliveredMsat uint64 `json:"delivered_msat"`
	HTLCs         int    `json:"htlcs"`
}

func (h *simnetCmds) simnetTruth(_ context.Context, a *rpc.Args) (any, error) {
	hash, _ := rpc.Arg[[32]byte](a, "payment_hash")
	d := h.net.Delivered(hash)
	return simnetTruthJSON{PaymentHash: hex.EncodeToString(hash[:]), Settlements: d.Settlements,
		Parts: d.Parts, DeliveredMsat: uint64(d.Amount), HTLCs: d.HTLCs}, nil
}

// invalidParams is a -32602 error, for the handlers' own checks of their
// args.
func invalidParams(format string, a ...any) *rpc.Error {
	return &rpc.Error{Code: rpc.CodeInvalidParams, Message: fmt.Sprintf(format, a...)}
}
