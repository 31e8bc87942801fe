package persistence

import (
	"context"
	"errors"
	"testing"

	"github.com/payengine/payengine/messages"
)

// part is fullAttempt of hash 1 in group g.
func part(g, p uint64, st messages.AttemptStatus) messages.Attempt {
	a := fullAttempt(1, p, st)
	a.GroupID = g
	return a
}

// TestDeleteRowsParts deletes sendpay parts one by one through the group
// commit: a part leaves with its pending-index entry, its group's row is
// rewritten while parts remain and goes with the last one, another group
// and the single-part payment stay, a missing row changes nothing, and
// all of it holds after the ledger is closed and opened again.
func TestDeleteRowsParts(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	ctx := context.Background()
	h := hashOf(1)
	write(t, l, &Batch{
		Payments: []messages.Payment{
			{PaymentHash: h, GroupID: 0, CreatedAt: 5, Status: messages.PaymentFailed},
			{PaymentHash: h, GroupID: 1, CreatedAt: 10, Status: messages.PaymentComplete, Label: "g1"},
			{PaymentHash: h, GroupID: 2, CreatedAt: 20, Status: messages.PaymentPending},
		},
		Attempts: []messages.Attempt{
			part(1, 1, messages.AttemptFailed), part(1, 2, messages.AttemptSettled), part(1, 3, messages.AttemptPending),
			part(2, 1, messages.AttemptPending),
		},
	})
	ids := map[uint64]uint64{}
	ps, _ := l.Payments(h)
	for _, p := range ps {
		ids[p.GroupID] = p.ID
	}

	// A part named twice over a missing one: nothing changes.
	err := l.DeleteRows(ctx, h, &messages.DeleteRows{Parts: []messages.PartKey{{GroupID: 1, PartID: 1}, {GroupID: 1, PartID: 9}}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteRows of a missing part = %v, want ErrNotFound", err)
	}
	if as, _ := l.Attempts(h, 1); len(as) != 3 {
		t.Fatalf("a refused deletion deleted: %d parts left of 3", len(as))
	}

	// The failed part 1 and the pending part 3 (its pending entry too);
	// the group keeps part 2 and its row is rewritten.
	rewrite := messages.Payment{PaymentHash: h, GroupID: 1, CreatedAt: 12, Status: messages.PaymentComplete, Label: "g1 again"}
	err = l.DeleteRows(ctx, h, &messages.DeleteRows{
		Parts:   []messages.PartKey{{GroupID: 1, PartID: 1}, {GroupID: 1, PartID: 3}},
		Rewrite: []messages.Payment{rewrite},
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		as, _ := l.Attempts(h, 1)
		if len(as) != 1 || as[0].PartID != 2 {
			t.Fatalf("%s: group 1 parts = %d, want part 2 alone", when, len(as))
		}
		g1, err := l.Payment(h, 1)
		if err != nil || g1.Label != "g1 again" || g1.CreatedAt != 12 || g1.ID != ids[1] {
			t.Fatalf("%s: group 1 row = %+v, %v; want the rewrite under id %d", when, g1, err, ids[1])
		}
		pend, _ := l.Pending()
		if len(pend) != 1 || pend[0].GroupID != 2 {
			t.Fatalf("%s: pending = %+v, want group 2's part alone", when, pend)
		}
		all, _ := l.ListByCreated(Cursor{}, 0)
		if len(all) != 3 || all[1].GroupID != 1 || all[1].CreatedAt != 12 {
			t.Fatalf("%s: created index = %v, want groups 0, 1 (at 12), 2", when, cursorsOf(all))
		}
	}
	check("after the first deletion")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, nil)
	check("after reopening")

	// The group's last part: its row goes too; group 0 goes whole in the
	// same batch; group 2 stays.
	err = l.DeleteRows(ctx, h, &messages.DeleteRows{Groups: []uint64{0}, Parts: []messages.PartKey{{GroupID: 1, PartID: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, nil)
	defer l.Close()
	for _, g := range []uint64{0, 1} {
		if _, err := l.Payment(h, g); !errors.Is(err, ErrNotFound) {
			t.Fatalf("group %d after its deletion: %v, want ErrNotFound", g, err)
		}
		if as, _ := l.Attempts(h, g); len(as) != 0 {
			t.Fatalf("group %d keeps %d attempts", g, len(as))
		}
	}
	all, _ := l.ListByCreated(Cursor{}, 0)
	if len(all) != 1 || all[0].GroupID != 2 || all[0].ID != ids[2] {
		t.Fatalf("created index after deleting = %v, want group 2 alone", cursorsOf(all))
	}
	if as, _ := l.Attempts(h, 2); len(as) != 1 {
		t.Fatalf("group 2 lost its part: %d", len(as))
	}
	err = l.DeleteRows(ctx, h, &messages.DeleteRows{Parts: []messages.PartKey{{GroupID: 1, PartID: 2}}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a deleted part = %v, want ErrNotFound", err)
	}
}
