package payment

import (
	"errors"
	"fmt"
	"testing"

	"github.com/payengine/payengine/graph"
)

// partRow is a restored sendpay part of total 1000 delivering amount.
func partRow(group, partid uint64, st Status, amount graph.MilliSat) PartRow {
	return PartRow{Total: 1000, Route: routeABC(amount), Record: Record{Hash: hash, GroupID: group, PartID: partid, Status: st,
		Destination: nodeC, Amount: amount, AmountSent: amount + 1, CreatedAt: t0}}
}

// TestDelPayParts is HEAD's json_delpay over the rows of a hash: the
// single-part payment (group 0) and sendpay's parts. Without a
// (groupid, partid) every row of the status named goes; with one, that
// row alone; a group that keeps parts has its row summed again without
// the deleted ones. The 208s are CLN's, the status one naming the last
// row met that differs; a pending part never goes.
func TestDelPayParts(t *testing.T) {
	h := fmt.Sprintf("%x", hash)
	failed0 := &Record{Hash: hash, Destination: nodeC, Amount: 1000, AmountSent: 1001, Status: StatusFailed, CreatedAt: t0}
	mixed := []PartRow{
		partRow(1, 1, StatusFailed, 400), partRow(1, 2, StatusFailed, 600),
		partRow(2, 1, StatusFailed, 300), partRow(2, 2, StatusComplete, 300), partRow(2, 3, StatusComplete, 400),
	}
	pending := []PartRow{partRow(1, 1, StatusFailed, 400), partRow(1, 2, StatusPending, 600)}
	mismatch := func(found, asked Status) string {
		return fmt.Sprintf("reply to=1 error 208 Payment with hash %s has %s status but it different from the one provided %s", h, found, asked)
	}
	const noRow = "reply to=1 error 208 No payment for that payment_hash with that partid and groupid"
	for _, tt := range []struct {
		name    string
		single  *Record
		parts   []PartRow
		ev      DelPay
		want    string // the effect of DelPay
		deleted string // the reply once the ledger deleted ("" if none)
	}{
		{"unknown hash", nil, nil, DelPay{Status: StatusFailed},
			"reply to=1 error 208 Unknown payment with payment_hash: " + h, ""},
		{"every failed row", failed0, mixed, DelPay{Status: StatusFailed},
			"delete-rows single 1/1 1/2 2/1; group 2 complete sent=702", "reply to=1 deleted 0/0 failed 1/1 failed 1/2 failed 2/1 failed"},
		{"every complete row", failed0, mixed, DelPay{Status: StatusComplete},
			"delete-rows 2/2 2/3; group 2 failed sent=0", "reply to=1 deleted 2/2 complete 2/3 complete"},
		{"a complete group's failed part", failed0, mixed, DelPay{Status: StatusFailed, Part: &[2]uint64{2, 1}},
			"delete-rows 2/1; group 2 complete sent=702", "reply to=1 deleted 2/1 failed"},
		{"a failed group's last parts", nil, mixed[:2], DelPay{Status: StatusFailed},
			"delete-rows 1/1 1/2", "reply to=1 deleted 1/1 failed 1/2 failed"},
		{"the single-part payment by (0, 0)", failed0, mixed, DelPay{Status: StatusFailed, Part: &[2]uint64{0, 0}},
			"delete-rows single", "reply to=1 deleted 0/0 failed"},
		{"a part of another status", failed0, mixed, DelPay{Status: StatusComplete, Part: &[2]uint64{1, 1}},
			mismatch(StatusFailed, StatusComplete), ""},
		{"the single-part payment of another status", failed0, mixed, DelPay{Status: StatusComplete, Part: &[2]uint64{0, 0}},
			mismatch(StatusFailed, StatusComplete), ""},
		{"no such part", failed0, mixed, DelPay{Status: StatusFailed, Part: &[2]uint64{2, 9}}, noRow, ""},
		{"no such group", failed0, mixed, DelPay{Status: StatusFailed, Part: &[2]uint64{5, 1}}, noRow, ""},
		{"(0, 0) with no single-part payment", nil, mixed, DelPay{Status: StatusFailed, Part: &[2]uint64{0, 0}}, noRow, ""},
		{"the failed part beside a pending one", nil, pending, DelPay{Status: StatusFailed},
			"delete-rows 1/1; group 1 pending sent=601", "reply to=1 deleted 1/1 failed"},
		{"a pending part, never", nil, pending, DelPay{Status: StatusFailed, Part: &[2]uint64{1, 2}},
			mismatch(StatusPending, StatusFailed), ""},
		{"complete, with only failed and pending rows: the last met", nil, pending, DelPay{Status: StatusComplete},
			mismatch(StatusPending, StatusComplete), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(hash, tt.single, nil)
			c.RestoreParts(tt.parts)
			before := len(c.sparts)
			tt.ev.Reply = 1
			step(t, c, t0, tt.ev, tt.want)
			if tt.deleted == "" {
				if len(c.sparts) != before || (c.Record() == nil) != (tt.single == nil) || len(c.deleting) != 0 || c.phase != phaseIdle {
					t.Fatalf("a refused delpay changed the core: %d parts of %d", len(c.sparts), before)
				}
				return
			}
			step(t, c, t0, Deleted{}, tt.deleted)
			if len(c.deleting) != 0 || c.phase != phaseIdle {
				t.Fatal("still deleting after Deleted")
			}
			// Once deleted, the same delpay finds none of those rows.
			effects, _ := c.Step(t0, tt.ev)
			if got := describe(effects); len(got) == 1 && got[0] == tt.want {
				t.Fatalf("deleted rows still there: %q", got)
			}
		})
	}
}

// A ledger that cannot delete leaves every row as it was; a deletion
// under way hides its rows from another delpay and keeps the single-part
// payment busy; a part sent after its group was deleted gets a handle of
// its own, and its outcome reaches it.
func TestDelPayPartsLedger(t *testing.T) {
	h := fmt.Sprintf("%x", hash)
	c := New(hash, &Record{Hash: hash, Destination: nodeC, Amount: 1000, AmountSent: 1001, Status: StatusFailed, CreatedAt: t0}, nil)
	handles := c.RestoreParts([]PartRow{partRow(1, 1, StatusFailed, 400), partRow(1, 2, StatusFailed, 600)})
	step(t, c, t0, DelPay{Reply: 1, Status: StatusFailed}, "delete-rows single 1/1 1/2")
	step(t, c, t0, DelPay{Reply: 2, Status: StatusFailed},
		"reply to=2 error 208 Payment with hash "+h+" has pending status but it different from the one provided failed")
	step(t, c, t0, SendPay{Reply: 3, Route: routeABC(1000)}, "reply to=3 error 200 Payment is still in progress")
	step(t, c, t0, Deleted{Err: errors.New("disk full")}, "reply to=1 error -1 ledger delete failed: disk full")
	if len(c.sparts) != 2 || c.Record() == nil || !c.Done() {
		t.Fatalf("after a failed delete: %d parts, record %v", len(c.sparts), c.Record())
	}
	step(t, c, t0, DelPay{Reply: 4, Status: StatusFailed, Part: &[2]uint64{1, 2}}, "delete-rows 1/2; group 1 failed sent=0")
	step(t, c, t0, Deleted{}, "reply to=4 deleted 1/2 failed")
	step(t, c, t0, DelPay{Reply: 5, Status: StatusFailed, Part: &[2]uint64{1, 1}}, "delete-rows 1/1")
	step(t, c, t0, Deleted{}, "reply to=5 deleted 1/1 failed")
	// Group 1 is free again: a new part takes it, under a new handle.
	h3 := sendPartBit | 3
	if h3 == handles[0] || h3 == handles[1] {
		t.Fatalf("handles %x reused", handles)
	}
	sendAndPersist(t, c, part(6, 1, gid(1), 1000, 1000), h3)
	step(t, c, t0, Failed{Part: h3, Failure: remoteFailure(204, 1, nodeB, chBC, 0x1007)},
		"persist-part-outcome 1/1 failed; group failed", "report-failure")
	if _, err := c.Step(t0, Deleted{}); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("Deleted with no deletion asked: %v", err)
	}
}
