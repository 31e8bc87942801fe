package rpc

import (
	"testing"

	"github.com/payengine/payengine/graph"
)

// pay of more than any channel of ours can send, through the socket: with
// maxparts 1 no single path carries it; by default it goes in parts, its
// answer says how many (CLN's pay schema), and listpays sums them.
func TestPayInPartsThroughSocket(t *testing.T) {
	r := sub300Rig(t)
	var most graph.MilliSat
	for _, c := range r.e.Channels() {
		most = max(most, c.Spendable)
	}
	amount := uint64(most + most/2)
	dest := farNode(t, r)
	one := r.invoice(t, dest, amount, nil)
	if e := r.fails(t, "pay", map[string]any{"bolt11": one.Bolt11, "maxparts": 1}, 205); e.Message != "Could not find a route" {
		t.Fatalf("maxparts 1: %q", e.Message)
	}
	r.fails(t, "pay", map[string]any{"bolt11": one.Bolt11, "maxparts": 0}, CodeInvalidParams)
	inv := r.invoice(t, dest, amount, nil)
	var paid payJSON
	r.ok(t, "pay", map[string]any{"bolt11": inv.Bolt11}, &paid)
	if paid.Status != "complete" || paid.Parts < 2 || paid.AmountMsat != amount || paid.AmountSentMsat < amount {
		t.Fatalf("pay in parts: %+v", paid)
	}
	var pays struct {
		Pays []listPayJSON `json:"pays"`
	}
	r.ok(t, "listpays", map[string]any{"bolt11": inv.Bolt11}, &pays)
	if len(pays.Pays) != 1 || pays.Pays[0].NumberOfParts != uint64(paid.Parts) || pays.Pays[0].AmountSentMsat != paid.AmountSentMsat {
		t.Fatalf("listpays: %+v, pay said %+v", pays.Pays, paid)
	}
}
