package rpc

import (
	"fmt"
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
	// listsendpays shows every part pay sent, each with its partid, as
	// Core Lightning's does: the settled ones deliver the amount and send
	// what pay says it sent.
	var list struct{ Payments []partRow }
	r.ok(t, "listsendpays", map[string]any{"bolt11": inv.Bolt11}, &list)
	var settled int
	var delivered, sent uint64
	partids := map[uint64]bool{}
	for _, p := range list.Payments {
		if p.PartID == 0 || partids[p.PartID] || p.GroupID != 0 {
			t.Errorf("listsendpays row %+v: partid not its own", p)
		}
		partids[p.PartID] = true
		if p.Status == "complete" {
			settled++
			delivered += p.Amount
			sent += p.Sent
		}
	}
	if settled != int(paid.Parts) || delivered != amount || sent != paid.AmountSentMsat {
		t.Fatalf("listsendpays: %d parts settled delivering %d and sending %d; pay said %+v", settled, delivered, sent, paid)
	}
	// delpay of the complete pay answers with those rows as listsendpays
	// showed them: the payment went whole, with every part.
	byHash := map[string]any{"payment_hash": inv.PaymentHash}
	before := rawPayments(t, r, "listsendpays", byHash)
	if got := rawPayments(t, r, "delpay", map[string]any{"payment_hash": inv.PaymentHash, "status": "complete"}); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("delpay answered\n%v\nlistsendpays showed\n%v", got, before)
	}
	if after := rawPayments(t, r, "listsendpays", byHash); len(after) != 0 {
		t.Fatalf("listsendpays after delpay: %v", after)
	}
}
