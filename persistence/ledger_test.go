package persistence

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payengine/payengine/messages"
)

func TestLedgerRoundTripSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	p := fullPayment(1)
	a := fullAttempt(1, 0, messages.AttemptFailed)
	b := &Batch{Payments: []messages.Payment{p}, Attempts: []messages.Attempt{a}}
	write(t, l, b)
	if b.Payments[0].ID != 1 {
		t.Fatalf("first payment got id %d, want 1", b.Payments[0].ID)
	}
	p.ID = 1
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openT(t, dir, nil)
	defer l.Close()
	got, err := l.Payment(p.PaymentHash, p.GroupID)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("Payment after reopen = %+v, %v; want %+v", got, err, p)
	}
	atts, err := l.Attempts(a.PaymentHash, a.GroupID)
	if err != nil || len(atts) != 1 || !reflect.DeepEqual(atts[0], a) {
		t.Fatalf("Attempts after reopen = %+v, %v; want [%+v]", atts, err, a)
	}
	if _, err := l.Payment(hashOf(2), 7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Payment(missing) = %v, want ErrNotFound", err)
	}
}

func TestPendingIndexFollowsAttemptStatus(t *testing.T) {
	l := openT(t, t.TempDir(), nil)
	defer l.Close()
	pending := func() []uint64 {
		t.Helper()
		as, err := l.Pending()
		if err != nil {
			t.Fatal(err)
		}
		var parts []uint64
		for _, a := range as {
			if a.Status != messages.AttemptPending {
				t.Fatalf("Pending returned part %d with status %s", a.PartID, a.Status)
			}
			parts = append(parts, a.PartID)
		}
		return parts
	}
	write(t, l, &Batch{
		Payments: []messages.Payment{{PaymentHash: hashOf(1), GroupID: 7, Status: messages.PaymentPending}},
		Attempts: []messages.Attempt{
			fullAttempt(1, 0, messages.AttemptPending),
			fullAttempt(1, 1, messages.AttemptPending),
			fullAttempt(1, 2, messages.AttemptFailed),
		},
	})
	if got := pending(); !reflect.DeepEqual(got, []uint64{0, 1}) {
		t.Fatalf("pending parts = %v, want [0 1]", got)
	}
	write(t, l, &Batch{Attempts: []messages.Attempt{fullAttempt(1, 0, messages.AttemptSettled)}})
	if got := pending(); !reflect.DeepEqual(got, []uint64{1}) {
		t.Fatalf("after part 0 settled: pending parts = %v, want [1]", got)
	}
	write(t, l, &Batch{Attempts: []messages.Attempt{fullAttempt(1, 1, messages.AttemptFailed)}})
	if got := pending(); len(got) != 0 {
		t.Fatalf("after part 1 failed: pending parts = %v, want none", got)
	}
	atts, _ := l.Attempts(hashOf(1), 7)
	if len(atts) != 3 || atts[0].Status != messages.AttemptSettled || atts[1].Status != messages.AttemptFailed {
		t.Fatalf("attempts kept with their new status: %+v", atts)
	}
}

// PendingHashes names each hash with an attempt pending once, in hash
// order, and follows the index as Pending does.
func TestPendingHashes(t *testing.T) {
	l := openT(t, t.TempDir(), nil)
	defer l.Close()
	hashes := func() [][32]byte {
		t.Helper()
		hs, err := l.PendingHashes()
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	a := func(hash, group, part uint64, st messages.AttemptStatus) messages.Attempt {
		at := fullAttempt(hash, part, st)
		at.GroupID = group
		return at
	}
	write(t, l, &Batch{Attempts: []messages.Attempt{
		a(3, 0, 1, messages.AttemptPending), a(3, 0, 2, messages.AttemptPending), a(3, 1, 1, messages.AttemptPending),
		a(1, 0, 1, messages.AttemptPending), a(2, 0, 1, messages.AttemptSettled),
	}})
	want := [][32]byte{hashOf(1), hashOf(3)} // hashOf puts the number first, big-endian
	if got := hashes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("PendingHashes = %x, want %x", got, want)
	}
	write(t, l, &Batch{Attempts: []messages.Attempt{a(1, 0, 1, messages.AttemptFailed)}})
	if got := hashes(); !reflect.DeepEqual(got, [][32]byte{hashOf(3)}) {
		t.Fatalf("after hash 1's attempt failed: %x", got)
	}
	l.Close()
	if _, err := l.PendingHashes(); !errors.Is(err, ErrClosed) {
		t.Fatalf("PendingHashes after Close = %v, want ErrClosed", err)
	}
}

func TestListByCreatedOrderAndPages(t *testing.T) {
	l := openT(t, t.TempDir(), nil)
	defer l.Close()
	// created times deliberately out of write order, with ties
	created := []uint64{50, 10, 30, 10, 50, 20, 10}
	var want []Cursor
	for i, c := range created {
		p := messages.Payment{PaymentHash: hashOf(uint64(100 - i)), GroupID: uint64(i % 2), CreatedAt: c, Status: messages.PaymentPending}
		write(t, l, &Batch{Payments: []messages.Payment{p}})
		want = append(want, CursorAt(p.CreatedAt, p.PaymentHash, p.GroupID))
	}
	// a rewrite of a payment with a new created_at moves it in the index
	moved := messages.Payment{PaymentHash: hashOf(100), GroupID: 0, CreatedAt: 5, Status: messages.PaymentFailed}
	write(t, l, &Batch{Payments: []messages.Payment{moved}})
	want[0] = CursorAt(5, hashOf(100), 0)
	sortCursors(want)

	all, err := l.ListByCreated(Cursor{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := cursorsOf(all); !reflect.DeepEqual(got, want) {
		t.Fatalf("ListByCreated order:\n got %v\nwant %v", got, want)
	}
	for _, pageSize := range []int{1, 2, 3, 7, 8} {
		var got []Cursor
		start := Cursor{}
		for pages := 0; ; pages++ {
			page, err := l.ListByCreated(start, pageSize)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > pageSize || pages > len(want) {
				t.Fatalf("page size %d: page of %d after %d pages", pageSize, len(page), pages)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, cursorsOf(page)...)
			last := page[len(page)-1]
			start = CursorAt(last.CreatedAt, last.PaymentHash, last.GroupID).Next()
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("page size %d:\n got %v\nwant %v", pageSize, got, want)
		}
	}
	from20, _ := l.ListByCreated(Cursor{CreatedAt: 20}, 0)
	if len(from20) != 3 || from20[0].CreatedAt != 20 {
		t.Fatalf("ListByCreated(from 20) = %v", cursorsOf(from20))
	}
}

func cursorsOf(ps []messages.Payment) []Cursor {
	var cs []Cursor
	for _, p := range ps {
		cs = append(cs, CursorAt(p.CreatedAt, p.PaymentHash, p.GroupID))
	}
	return cs
}

func sortCursors(cs []Cursor) {
	less := func(a, b Cursor) bool {
		return string(createdKey(a.CreatedAt, a.PaymentHash, a.GroupID)) < string(createdKey(b.CreatedAt, b.PaymentHash, b.GroupID))
	}
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && less(cs[j], cs[j-1]); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

func TestCursorNextCarries(t *testing.T) {
	var h [32]byte
	h[31] = 0xff
	c := CursorAt(3, h, ^uint64(0)).Next()
	var wh [32]byte
	wh[30] = 1
	if want := CursorAt(3, wh, 0); c != want {
		t.Fatalf("Next = %+v, want %+v", c, want)
	}
}

func TestRowIDsMonotonicAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	b := &Batch{Payments: []messages.Payment{
		{PaymentHash: hashOf(1), Status: messages.PaymentPending},
		{PaymentHash: hashOf(2), Status: messages.PaymentPending},
	}}
	write(t, l, b)
	if b.Payments[0].ID != 1 || b.Payments[1].ID != 2 || l.NextPaymentID() != 3 {
		t.Fatalf("ids %d %d next %d, want 1 2 3", b.Payments[0].ID, b.Payments[1].ID, l.NextPaymentID())
	}
	// rewriting keeps the id, whatever the caller put in ID
	re := &Batch{Payments: []messages.Payment{{ID: 77, PaymentHash: hashOf(1), Status: messages.PaymentComplete}}}
	write(t, l, re)
	if re.Payments[0].ID != 1 {
		t.Fatalf("rewrite got id %d, want 1", re.Payments[0].ID)
	}
	if err := l.DeletePayment(context.Background(), hashOf(2), 0); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l = openT(t, dir, nil)
	defer l.Close()
	if l.NextPaymentID() != 3 {
		t.Fatalf("after reopen NextPaymentID = %d, want 3", l.NextPaymentID())
	}
	b = &Batch{Payments: []messages.Payment{{PaymentHash: hashOf(2), Status: messages.PaymentPending}}}
	write(t, l, b)
	if b.Payments[0].ID != 3 {
		t.Fatalf("after reopen and a delete, new payment got id %d, want 3 (ids are never reused)", b.Payments[0].ID)
	}
	p, err := l.Payment(hashOf(1), 0)
	if err != nil || p.ID != 1 || p.Status != messages.PaymentComplete {
		t.Fatalf("Payment(1) = %+v, %v", p, err)
	}
}

func TestDeletePaymentRemovesAttemptsAndIndexes(t *testing.T) {
	l := openT(t, t.TempDir(), nil)
	defer l.Close()
	ctx := context.Background()
	for i := uint64(1); i <= 2; i++ {
		write(t, l, &Batch{
			Payments: []messages.Payment{{PaymentHash: hashOf(i), GroupID: 7, CreatedAt: i, Status: messages.PaymentPending}},
			Attempts: []messages.Attempt{fullAttempt(i, 0, messages.AttemptPending), fullAttempt(i, 1, messages.AttemptFailed)},
		})
	}
	if err := l.DeletePayment(ctx, hashOf(1), 7); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Payment(hashOf(1), 7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted payment: %v, want ErrNotFound", err)
	}
	if as, _ := l.Attempts(hashOf(1), 7); len(as) != 0 {
		t.Fatalf("deleted payment still has %d attempts", len(as))
	}
	pend, _ := l.Pending()
	if len(pend) != 1 || pend[0].PaymentHash != hashOf(2) {
		t.Fatalf("Pending after delete = %+v, want only payment 2's part 0", pend)
	}
	all, _ := l.ListByCreated(Cursor{}, 0)
	if len(all) != 1 || all[0].PaymentHash != hashOf(2) {
		t.Fatalf("ListByCreated after delete = %v", cursorsOf(all))
	}
	if as, _ := l.Attempts(hashOf(2), 7); len(as) != 2 {
		t.Fatalf("the other payment lost attempts: %d", len(as))
	}
	if err := l.DeletePayment(ctx, hashOf(1), 7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete = %v, want ErrNotFound", err)
	}
}

func TestPaymentsAllGroups(t *testing.T) {
	l := openT(t, t.TempDir(), nil)
	defer l.Close()
	for _, g := range []uint64{3, 1, 2} {
		write(t, l, &Batch{Payments: []messages.Payment{{PaymentHash: hashOf(1), GroupID: g, Status: messages.PaymentFailed}}})
	}
	write(t, l, &Batch{Payments: []messages.Payment{{PaymentHash: hashOf(2), GroupID: 0, Status: messages.PaymentPending}}})
	ps, err := l.Payments(hashOf(1))
	if err != nil || len(ps) != 3 || ps[0].GroupID != 1 || ps[1].GroupID != 2 || ps[2].GroupID != 3 {
		t.Fatalf("Payments = %+v, %v; want groups 1 2 3 of hash 1", ps, err)
	}
}

func TestConcurrentWritersGroupedAndDurable(t *testing.T) {
	const writers, each = 256, 20
	dir := t.TempDir()
	l := openT(t, dir, nil)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				h := hashOf(uint64(w*each + i))
				b := &Batch{
					Payments: []messages.Payment{{PaymentHash: h, CreatedAt: uint64(i), Status: messages.PaymentPending}},
					Attempts: []messages.Attempt{{PaymentHash: h, Status: messages.AttemptPending, LinkID: uint64(w)}},
				}
				if err := l.Write(context.Background(), b); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	m := l.Metrics()
	t.Logf("metrics: %s", m)
	if m.Writes != writers*each || m.Records != 2*writers*each {
		t.Fatalf("metrics count %d writes, %d records; want %d, %d", m.Writes, m.Records, writers*each, 2*writers*each)
	}
	if m.Commits >= m.Writes || m.BatchMax < 2 {
		t.Fatalf("writes were not grouped: %s", m)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openT(t, dir, nil)
	defer l.Close()
	all, err := l.ListByCreated(Cursor{}, 0)
	if err != nil || len(all) != writers*each {
		t.Fatalf("after reopen: %d payments, %v; want %d", len(all), err, writers*each)
	}
	ids := map[uint64]bool{}
	for _, p := range all {
		if p.ID == 0 || p.ID > writers*each || ids[p.ID] {
			t.Fatalf("payment %x has id %d: ids must be 1..%d and unique", p.PaymentHash, p.ID, writers*each)
		}
		ids[p.ID] = true
	}
	pend, err := l.Pending()
	if err != nil || len(pend) != writers*each {
		t.Fatalf("after reopen: %d pending attempts, %v; want %d", len(pend), err, writers*each)
	}
	if l.NextPaymentID() != writers*each+1 {
		t.Fatalf("NextPaymentID = %d, want %d", l.NextPaymentID(), writers*each+1)
	}
}

func TestWriteAfterCloseFails(t *testing.T) {
	l := openT(t, t.TempDir(), nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b := &Batch{Payments: []messages.Payment{{Status: messages.PaymentPending}}}
	if err := l.Write(context.Background(), b); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
	if err := l.DeletePayment(context.Background(), hashOf(1), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("DeletePayment after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Payment(hashOf(1), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Payment after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Pending(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Pending after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

// TestCloseWhileWriting closes the ledger under 64 busy writers: every Write
// returns, either nil (and then the write is on disk) or ErrClosed.
func TestCloseWhileWriting(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, &Options{MaxBatch: 4})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[[32]byte]bool{}
	closedSeen := 0
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				h := hashOf(uint64(w<<20 | i))
				err := l.Write(context.Background(), &Batch{Payments: []messages.Payment{{PaymentHash: h, Status: messages.PaymentPending}}})
				mu.Lock()
				switch {
				case err == nil:
					acked[h] = true
				case errors.Is(err, ErrClosed):
					closedSeen++
				default:
					t.Errorf("Write = %v, want nil or ErrClosed", err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if closedSeen != 64 || len(acked) == 0 {
		t.Fatalf("%d writers saw ErrClosed, %d writes acked; want 64 and some", closedSeen, len(acked))
	}
	l = openT(t, dir, nil)
	defer l.Close()
	for h := range acked {
		if _, err := l.Payment(h, 0); err != nil {
			t.Fatalf("acknowledged write %x lost: %v", h, err)
		}
	}
}

func TestSecondOpenFailsLocked(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	l2, err := Open(dir, nil)
	if !errors.Is(err, ErrLocked) {
		if l2 != nil {
			l2.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %q does not name the directory", err)
	}
	l.Close()
	l = openT(t, dir, nil) // and the lock is released by Close
	l.Close()
}

func TestWriteRejectsInvalidRecordAlone(t *testing.T) {
	l := openT(t, t.TempDir(), nil)
	defer l.Close()
	bad := &Batch{
		Payments: []messages.Payment{{PaymentHash: hashOf(1), Status: messages.PaymentPending}},
		Attempts: []messages.Attempt{{PaymentHash: hashOf(1), Status: "bogus"}},
	}
	if err := l.Write(context.Background(), bad); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("Write(bad status) = %v, want ErrInvalidRecord", err)
	}
	if _, err := l.Payment(hashOf(1), 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a rejected batch must write nothing: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Write(ctx, &Batch{Payments: bad.Payments}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestOptionsValidateListsEveryProblem(t *testing.T) {
	o := Options{MaxBatch: -1, MaxDelay: -time.Second}
	err := o.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Validate = %v, want ErrInvalidOptions", err)
	}
	for _, want := range []string{"MaxBatch -1 is negative", "MaxDelay -1s is negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q lacks %q", err, want)
		}
	}
	o = Options{MaxBatch: 1 << 21, MaxDelay: time.Hour}
	err = o.Validate()
	for _, want := range []string{"MaxBatch 2097152 is above", "MaxDelay 1h0m0s is above"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v lacks %q", err, want)
		}
	}
	var z Options
	z.EnsureDefaults()
	if err := z.Validate(); err != nil || z.MaxBatch != DefaultMaxBatch || z.Logger == nil {
		t.Fatalf("defaults: %+v, Validate = %v", z, err)
	}
	if _, err := Open(t.TempDir(), &Options{MaxBatch: -5}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Open(bad options) = %v, want ErrInvalidOptions", err)
	}
}

func TestMaxDelayGathers(t *testing.T) {
	l := openT(t, t.TempDir(), &Options{MaxDelay: 20 * time.Millisecond, NoSync: true})
	defer l.Close()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			write(t, l, &Batch{Payments: []messages.Payment{{PaymentHash: hashOf(uint64(i)), Status: messages.PaymentPending}}})
		}()
	}
	wg.Wait()
	if m := l.Metrics(); m.Commits > 4 {
		t.Fatalf("with a 20ms MaxDelay 16 simultaneous writes took %d commits: %s", m.Commits, m)
	}
}

func ExampleMetrics_String() {
	fmt.Println(Metrics{Commits: 2, Writes: 5, Records: 9, BatchMin: 2, BatchAvg: 2.5, BatchMax: 3, SyncAvg: time.Millisecond, SyncMax: 2 * time.Millisecond})
	// Output: commits 2 (failed 0), writes 5, records 9, writes/commit min 2 avg 2.5 max 3, sync avg 1ms max 2ms
}

func TestLingerDecision(t *testing.T) {
	o := Options{}
	o.EnsureDefaults()
	var lg linger
	if d := lg.wait(&o); d != 0 {
		t.Fatalf("fresh: waits %v", d)
	}
	for range 100 {
		lg.committed(0) // a lone writer: nothing arrives during its commits
	}
	if d := lg.wait(&o); d != 0 {
		t.Fatalf("lone writer: waits %v", d)
	}
	for range 3 {
		lg.committed(2)
	}
	if d := lg.wait(&o); d != DefaultLinger {
		t.Fatalf("writers arriving during commits: waits %v, want %v", d, DefaultLinger)
	}
	off := o
	off.Linger = -1
	if d := lg.wait(&off); d != 0 {
		t.Fatalf("Linger off: waits %v", d)
	}
	fixed := o
	fixed.MaxDelay = 7 * time.Millisecond
	if d := lg.wait(&fixed); d != fixed.MaxDelay {
		t.Fatalf("MaxDelay set: waits %v", d)
	}
	for range 30 {
		lg.committed(100)
	}
	if d := lg.wait(&o); d != 0 {
		t.Fatalf("crowds of writers during each commit: waits %v", d)
	}
	for range 60 {
		lg.committed(0)
	}
	if d := lg.wait(&o); d != 0 {
		t.Fatalf("writers gone: still waits %v", d)
	}
}

// A writer alone never waits for company: each of its writes is a commit
// of its own, at once, even with the longest Linger.
func TestLoneWriterDoesNotLinger(t *testing.T) {
	l := openT(t, t.TempDir(), &Options{Linger: time.Second})
	defer l.Close()
	start := time.Now()
	for i := range 10 {
		write(t, l, &Batch{Payments: []messages.Payment{{PaymentHash: hashOf(uint64(i)), Status: messages.PaymentPending}}})
	}
	if took := time.Since(start); took >= time.Second {
		t.Fatalf("10 writes in a row took %v: the committer lingered", took)
	}
	if m := l.Metrics(); m.Commits != 10 {
		t.Fatalf("10 writes in a row: %s", m)
	}
}

// Writers that work between their writes (as payments do between an
// attempt's row and its outcome) arrive one at a time; once they arrive
// during syncs, the committer lingers and one sync serves several.
func TestLingerGroupsWritersThatPause(t *testing.T) {
	l := openT(t, t.TempDir(), &Options{Linger: 20 * time.Millisecond})
	defer l.Close()
	const writers, each = 8, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		r := rand.New(rand.NewPCG(uint64(w), 1))
		go func() {
			defer wg.Done()
			for i := range each {
				time.Sleep(time.Duration(1+r.IntN(9)) * time.Millisecond)
				write(t, l, &Batch{Payments: []messages.Payment{{PaymentHash: hashOf(uint64(w*each + i)), Status: messages.PaymentPending}}})
			}
		}()
	}
	wg.Wait()
	// Without lingering, writers 1 to 9 ms apart (seeded, so they do not
	// move in step) seldom meet in a sync: over 100 commits for 160 writes.
	m := l.Metrics()
	t.Logf("%s", m)
	if m.Commits > writers*each/3 {
		t.Fatalf("%d writers pausing 1-9 ms: %s", writers, m)
	}
}
