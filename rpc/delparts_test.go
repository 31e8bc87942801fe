package rpc

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// rawPayments is the payments array of listsendpays or delpay, each
// object as the server wrote it.
func rawPayments(t *testing.T, r *rig, method string, params map[string]any) []string {
	t.Helper()
	var out struct{ Payments []json.RawMessage }
	r.ok(t, method, params, &out)
	s := make([]string, len(out.Payments))
	for i, p := range out.Payments {
		s[i] = string(p)
	}
	return s
}

// HEAD's delpay of sendpay parts, over the real engine on simnet: a pending
// part is never deleted; partid and groupid come together; a failed part
// goes alone, then a complete group (every complete row of the hash) goes
// whole. Each answer lists the rows deleted exactly as listsendpays showed
// them (CLN's delpay schema checks every answer); listsendpays and listpays
// show what is left, the same after a restart, and the restarted engine
// deletes from the ledger it reads.
func TestDelPayParts(t *testing.T) {
	r, inv, route1, route2 := partsRig(t)
	hash := inv.PaymentHash
	del := func(status string, part ...uint64) map[string]any {
		p := map[string]any{"payment_hash": hash, "status": status}
		if len(part) == 2 {
			p["groupid"], p["partid"] = part[0], part[1]
		}
		return p
	}
	mismatch := func(found, asked string) string {
		return fmt.Sprintf("Payment with hash %s has %s status but it different from the one provided %s", hash, found, asked)
	}
	byHash := map[string]any{"payment_hash": hash}

	// Group 1: one part, held at the destination, then failed with
	// mpp_timeout. While it is pending, delpay refuses it.
	r.ok(t, "sendpay", sendPart(inv, route1, 1, 1, 1_000_000), nil)
	waitFor(t, "the part at the destination", func() bool { return r.n.OpenSets() == 1 })
	r.refuses(t, "delpay", del("failed", 1, 1), 208, mismatch("pending", "failed"))
	r.refuses(t, "delpay", del("failed"), 208, mismatch("pending", "failed"))
	r.n.SetNow(r.n.Now().Add(61 * time.Second))
	r.fails(t, "waitsendpay", map[string]any{"payment_hash": hash, "partid": 1}, 204)
	// Group 2: two parts that complete the payment.
	for i, rt := range [][]hopJSON{route1, route2} {
		r.ok(t, "sendpay", sendPart(inv, rt, uint64(i+1), 2, 1_000_000), nil)
	}
	for _, partid := range []int{1, 2} {
		r.ok(t, "waitsendpay", map[string]any{"payment_hash": hash, "partid": partid, "groupid": 2}, nil)
	}
	before := rawPayments(t, r, "listsendpays", byHash)
	if len(before) != 3 {
		t.Fatalf("listsendpays before delpay: %v", before)
	}

	// The refusals: CLN's messages, nothing deleted.
	onlyPart := del("failed")
	onlyPart["partid"] = 1
	r.refuses(t, "delpay", onlyPart, -32602, "Must set both partid and groupid, or neither")
	r.refuses(t, "delpay", del("complete", 1, 1), 208, mismatch("failed", "complete"))
	r.refuses(t, "delpay", del("failed", 2, 1), 208, mismatch("complete", "failed"))
	r.refuses(t, "delpay", del("failed", 1, 2), 208, "No payment for that payment_hash with that partid and groupid")
	r.refuses(t, "delpay", del("failed", 0, 0), 208, "No payment for that payment_hash with that partid and groupid")
	r.refuses(t, "delpay", del("pending"), -32602, "'status' should be complete or failed, not 'pending': Cannot delete pending status")
	if got := rawPayments(t, r, "listsendpays", byHash); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a refused delpay changed listsendpays:\n%v\nwant\n%v", got, before)
	}

	// The failed part: the answer is its listsendpays row.
	if got := rawPayments(t, r, "delpay", del("failed", 1, 1)); len(got) != 1 || got[0] != before[0] {
		t.Fatalf("delpay of the failed part answered %v, want [%s]", got, before[0])
	}
	var list struct{ Payments []partRow }
	r.ok(t, "listsendpays", byHash, &list)
	if len(list.Payments) != 2 || list.Payments[0].GroupID != 2 || list.Payments[1].GroupID != 2 {
		t.Fatalf("listsendpays after deleting the failed part: %+v", list.Payments)
	}
	var pays struct{ Pays []payRow }
	r.ok(t, "listpays", byHash, &pays)
	if len(pays.Pays) != 1 || pays.Pays[0].Status != "complete" || pays.Pays[0].Parts != 2 {
		t.Fatalf("listpays after deleting the failed part: %+v", pays.Pays)
	}
	r.refuses(t, "delpay", del("failed", 1, 1), 208, "No payment for that payment_hash with that partid and groupid")
	r.refuses(t, "delpay", del("failed"), 208, mismatch("complete", "failed"))
	sameAfterReload(t, r, []call{
		{"listsendpays", byHash},
		{"listpays", byHash},
		{"delpay", del("failed", 1, 1)},
		{"delpay", del("failed")},
	})

	// After the restart, the complete group: every complete row.
	if got := rawPayments(t, r, "delpay", del("complete")); fmt.Sprint(got) != fmt.Sprint(before[1:]) {
		t.Fatalf("delpay of the complete group answered\n%v\nwant\n%v", got, before[1:])
	}
	r.ok(t, "listsendpays", byHash, &list)
	r.ok(t, "listpays", byHash, &pays)
	if len(list.Payments) != 0 || len(pays.Pays) != 0 {
		t.Fatalf("after deleting every row: listsendpays %+v, listpays %+v", list.Payments, pays.Pays)
	}
	unknown := "Unknown payment with payment_hash: " + hash
	r.refuses(t, "delpay", del("complete"), 208, unknown)
	sameAfterReload(t, r, []call{
		{"listsendpays", byHash},
		{"listpays", byHash},
		{"delpay", del("complete")},
		{"delpay", del("failed", 2, 1)},
	})
	// A deleted hash is one never paid: a part without groupid starts
	// group 1 (the highest left plus one).
	var again partRow
	fresh := sendPart(inv, route1, 1, 0, 1_000_000)
	delete(fresh, "groupid")
	r.ok(t, "sendpay", fresh, &again)
	if again.GroupID != 1 || again.PartID != 1 || again.Status != "pending" {
		t.Fatalf("sendpay after every row was deleted: %+v", again)
	}
}
