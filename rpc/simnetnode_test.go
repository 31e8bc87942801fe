package rpc

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/simnet"
)

// simnetNode is the rig's NodeInfo, our node in the simulated network as
// simnetrpc.Info shows it (this package's tests cannot import simnetrpc,
// which imports rpc; simnetrpc's tests check Info through getinfo).
type simnetNode struct{ n *simnet.Net }

func (s simnetNode) Self() graph.NodeID { return s.n.Self() }

func (s simnetNode) Summary() NodeSummary {
	self, g, chans := s.n.Self(), s.n.Graph(), s.n.LocalChannels()
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
	return NodeSummary{Alias: g.Alias(self), Peers: len(peers), Channels: len(chans), Height: s.n.Height(), Network: "regtest"}
}

// issueInvoice has node issue an invoice on n, with description "rpc
// test", as simnet-invoice would: amount in any form simnet-invoice takes
// (a number, "10sat", "any"), extra only "expiry" (seconds).
func issueInvoice(t testing.TB, n *simnet.Net, node string, amount any, extra map[string]any) invoiceJSON {
	t.Helper()
	id, err := graph.ParseNodeID(node)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(amount)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseMsatOrAny("amount_msat", raw)
	if err != nil {
		t.Fatalf("invoice amount %v: %v", amount, err)
	}
	var msat graph.MilliSat
	if p := v.(*graph.MilliSat); p != nil {
		msat = *p
	}
	var expiry time.Duration
	for k, x := range extra {
		s, ok := x.(int)
		if k != "expiry" || !ok {
			t.Fatalf("invoice: extra %s=%v: only an int expiry is known", k, x)
		}
		expiry = time.Duration(s) * time.Second
	}
	b, err := n.Invoice(id, msat, "rpc test", expiry, n.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
	if err != nil {
		t.Fatal(err)
	}
	d := inv.DecodePayResult()
	return invoiceJSON{Bolt11: b, PaymentHash: d.PaymentHash, PaymentSecret: d.PaymentSecret,
		Destination: d.Payee.String(), ExpiresAt: d.CreatedAt + d.Expiry}
}
