package persistence

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/payengine/payengine/messages"
)

// Batch is one caller's set of puts, applied atomically: all of it is durable
// or none. The ledger derives the index entries from the records: a payment
// gets its created-time entry; an attempt whose status is pending is in the
// pending index, any other status takes it out.
type Batch struct {
	// Payments are stored under (PaymentHash, GroupID), replacing the record
	// there. A payment's row id is assigned at its first write and kept by
	// later writes, whatever ID the caller sets.
	Payments []messages.Payment
	// Attempts are stored under (PaymentHash, GroupID, PartID), replacing the
	// record there. The ledger does not require the payment to exist.
	Attempts []messages.Attempt
}

// request is one Write or DeletePayment waiting for the committer.
type request struct {
	payments [][]byte // encoded, id to be patched in by the committer
	payKeys  [][]byte
	attempts []encodedAttempt
	del      *paymentRef
	rows     *rowsDeletion // DeleteRows's deletions, after payments are rewritten
	put      *keyValue     // a single key written as is (WriteKnowledge)
	records  int

	ids  []uint64 // row ids of payments, set by the committer
	err  error    // outcome, set by the committer before done is closed
	done chan struct{}
}

type encodedAttempt struct {
	key, pendingKey, value []byte
	pending                bool
}

type paymentRef struct {
	hash  [32]byte
	group uint64
}

// Write stores b durably and returns after the sync that includes it (unless
// Options.NoSync). Concurrent Writes are grouped into one Pebble batch and one
// sync. On success the row ids assigned or kept are set in b.Payments[i].ID.
//
// Write fails with ErrInvalidRecord (nothing written) for a record it cannot
// encode, with ErrClosed if the ledger is closed or closes before the write's
// commit starts, and with ctx's error if ctx ends first: if ctx ends after
// the write was queued the write may still be committed, so the outcome is
// then unknown, as with any I/O that times out.
func (l *Ledger) Write(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(b.Payments) == 0 && len(b.Attempts) == 0 {
		return nil
	}
	req := &request{done: make(chan struct{}), records: len(b.Payments) + len(b.Attempts)}
	for i := range b.Payments {
		p := &b.Payments[i]
		v, err := EncodePayment(p)
		if err != nil {
			return fmt.Errorf("payment %x group %d: %w", p.PaymentHash, p.GroupID, err)
		}
		req.payments = append(req.payments, v)
		req.payKeys = append(req.payKeys, paymentKey(p.PaymentHash, p.GroupID))
	}
	for i := range b.Attempts {
		a := &b.Attempts[i]
		v, err := EncodeAttempt(a)
		if err != nil {
			return fmt.Errorf("attempt %x/%d/%d: %w", a.PaymentHash, a.GroupID, a.PartID, err)
		}
		req.attempts = append(req.attempts, encodedAttempt{
			key:        attemptKey(prefixAttempt, a.PaymentHash, a.GroupID, a.PartID),
			pendingKey: attemptKey(prefixPending, a.PaymentHash, a.GroupID, a.PartID),
			value:      v,
			pending:    a.Status == messages.AttemptPending,
		})
	}
	if err := l.submit(ctx, req); err != nil {
		return err
	}
	for i := range b.Payments {
		b.Payments[i].ID = req.ids[i]
	}
	return nil
}

// DeletePayment removes the payment (hash, group) with all its attempts and
// index entries, durably, through the same group commit as Write. It fails
// with ErrNotFound, deleting nothing, if there is no such payment.
func (l *Ledger) DeletePayment(ctx context.Context, hash [32]byte, group uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &request{done: make(chan struct{}), del: &paymentRef{hash, group}, records: 1}
	return l.submit(ctx, req)
}

// rowsDeletion is one DeleteRows request's deletions.
type rowsDeletion struct {
	hash   [32]byte
	groups []uint64
	parts  []messages.PartKey
}

// DeleteRows removes, durably and atomically through the same group commit
// as Write, rows of the payment hash: the payments d.Groups whole (as
// DeletePayment), the attempt rows d.Parts with their pending-index
// entries, and the payment row and created-index entry of every group of
// d.Parts left without an attempt; d.Rewrite (payments of groups that keep
// attempts) is written first, as Write writes it. It fails with
// ErrNotFound, changing nothing, if a payment or attempt named is not
// there, and with ErrInvalidRecord for a rewrite it cannot encode or that
// is not of hash.
func (l *Ledger) DeleteRows(ctx context.Context, hash [32]byte, d *messages.DeleteRows) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(d.Groups) == 0 && len(d.Parts) == 0 {
		return nil
	}
	req := &request{done: make(chan struct{}), records: len(d.Groups) + len(d.Parts) + len(d.Rewrite),
		rows: &rowsDeletion{hash: hash, groups: d.Groups, parts: d.Parts}}
	for i := range d.Rewrite {
		p := &d.Rewrite[i]
		if p.PaymentHash != hash {
			return fmt.Errorf("%w: rewrite of payment %x in a deletion of %x", ErrInvalidRecord, p.PaymentHash, hash)
		}
		v, err := EncodePayment(p)
		if err != nil {
			return fmt.Errorf("payment %x group %d: %w", p.PaymentHash, p.GroupID, err)
		}
		req.payments = append(req.payments, v)
		req.payKeys = append(req.payKeys, paymentKey(p.PaymentHash, p.GroupID))
	}
	return l.submit(ctx, req)
}

// submit queues req for the committer and waits for its outcome.
func (l *Ledger) submit(ctx context.Context, req *request) error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	l.queue = append(l.queue, req)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		return fmt.Errorf("persistence: write outcome unknown: %w", ctx.Err())
	}
}

// commitLoop is the committer: the only goroutine that writes to Pebble. It
// takes every queued request (up to MaxBatch), applies them to one batch,
// commits with one sync and answers them; until Close.
func (l *Ledger) commitLoop() {
	defer close(l.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var lg linger
	for {
		select {
		case <-l.stop:
			l.failQueued()
			return
		case <-l.notify:
		}
		for n := l.queued(); n > 0; {
			if d := lg.wait(&l.opts); d > 0 && !l.gather(timer, d) {
				l.failQueued()
				return
			}
			select {
			case <-l.stop:
				l.failQueued()
				return
			default:
			}
			l.commit(l.take())
			n = l.queued() // arrived during the commit
			lg.committed(n)
		}
	}
}

// linger decides how long the committer waits for more writes before a
// commit. It keeps a moving average of the writes that arrived while a
// commit ran. A lone writer, whose next write comes only after its commit,
// adds none, so it never waits. Writers that work between their writes (as
// payments do) arrive now and then: one sync per write or two, unless the
// committer waits Linger for more of them. Writers that all wait on the
// ledger arrive in crowds during each commit, which groups them well
// already; waiting would only add to their time.
type linger struct{ arriving float64 }

// The moving average of writes arriving during a commit within which the
// committer lingers: from one in four commits seeing a second writer, to
// four writers sharing a sync on their own.
const (
	lingerAbove = 0.25
	lingerBelow = 4
)

// committed records a commit during which n writes arrived.
func (lg *linger) committed(n int) { lg.arriving += (float64(n) - lg.arriving) / 8 }

// wait is how long to wait before the next commit: MaxDelay if set, else
// Linger while writers arrive now and then during commits.
func (lg *linger) wait(o *Options) time.Duration {
	switch {
	case o.MaxDelay > 0:
		return o.MaxDelay
	case o.Linger > 0 && lg.arriving > lingerAbove && lg.arriving < lingerBelow:
		return o.Linger
	}
	return 0
}

// gather waits up to d for more writes, or until MaxBatch are queued; false
// if the ledger closes meanwhile.
func (l *Ledger) gather(timer *time.Timer, d time.Duration) bool {
	timer.Reset(d)
	defer timer.Stop()
	for l.queued() < l.opts.MaxBatch {
		select {
		case <-timer.C:
			return true
		case <-l.notify:
		case <-l.stop:
			return false
		}
	}
	return true
}

func (l *Ledger) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// take removes up to MaxBatch requests from the queue.
func (l *Ledger) take() []*request {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(len(l.queue), l.opts.MaxBatch)
	group := make([]*request, n)
	copy(group, l.queue)
	rest := copy(l.queue, l.queue[n:])
	clear(l.queue[rest:])
	l.queue = l.queue[:rest]
	return group
}

// failQueued answers every request still queued with ErrClosed. Close has
// set closing, so no request joins the queue after this.
func (l *Ledger) failQueued() {
	l.mu.Lock()
	q := l.queue
	l.queue = nil
	l.mu.Unlock()
	for _, r := range q {
		r.err = ErrClosed
		close(r.done)
	}
}

// commit applies a group of requests to one indexed batch (so a request sees
// the writes of those before it in the group) and commits it with one sync.
func (l *Ledger) commit(group []*request) {
	b := l.db.NewIndexedBatch()
	defer b.Close()
	firstID := l.nextID.Load()
	next := firstID
	var err error
	records := 0
	for _, r := range group {
		switch {
		case r.put != nil:
			err = b.Set(r.put.key, r.put.value, nil)
		case r.del != nil:
			r.err, err = l.applyDelete(b, r.del)
		case r.rows != nil:
			next, r.err, err = l.applyRows(b, r, next)
		default:
			next, err = l.applyWrite(b, r, next)
		}
		if err != nil {
			break
		}
		if r.err == nil {
			records += r.records
		}
	}
	if err == nil && next != firstID {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], next)
		err = b.Set(metaKey(metaNextPaymentID), v[:], nil)
	}
	var took time.Duration
	if err == nil {
		wo := pebble.Sync
		if l.opts.NoSync {
			wo = pebble.NoSync
		}
		start := time.Now()
		err = b.Commit(wo)
		took = time.Since(start)
	}
	if err != nil {
		err = fmt.Errorf("persistence: commit: %w", err)
		l.opts.Logger.Error("ledger commit failed", "err", err, "writes", len(group))
	} else {
		l.nextID.Store(next)
	}
	l.record(len(group), records, took, err)
	for _, r := range group {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// applyWrite puts one Write's records and index entries into b; it returns
// the next row id. An error is a store error and fails the whole group.
func (l *Ledger) applyWrite(b *pebble.Batch, r *request, next uint64) (uint64, error) {
	r.ids = make([]uint64, len(r.payments))
	for i, v := range r.payments {
		key := r.payKeys[i]
		old, closer, err := b.Get(key)
		var id, oldCreated uint64
		switch {
		case errors.Is(err, pebble.ErrNotFound):
			id = next
			next++
		case err != nil:
			return next, err
		default:
			if len(old) < payFixedHeaderLen || version(old, "payment") != nil {
				closer.Close()
				return next, fmt.Errorf("%w: stored payment %x", ErrCorrupt, key)
			}
			id = binary.BigEndian.Uint64(old[payIDOffset:])
			oldCreated = binary.BigEndian.Uint64(old[payCreatedOffset:])
			closer.Close()
			newCreated := binary.BigEndian.Uint64(v[payCreatedOffset:])
			if oldCreated != newCreated {
				if err := b.Delete(createdKeyFor(oldCreated, key), nil); err != nil {
					return next, err
				}
			}
		}
		binary.BigEndian.PutUint64(v[payIDOffset:], id)
		r.ids[i] = id
		if err := b.Set(key, v, nil); err != nil {
			return next, err
		}
		created := binary.BigEndian.Uint64(v[payCreatedOffset:])
		if err := b.Set(createdKeyFor(created, key), nil, nil); err != nil {
			return next, err
		}
	}
	for _, a := range r.attempts {
		if err := b.Set(a.key, a.value, nil); err != nil {
			return next, err
		}
		var err error
		if a.pending {
			err = b.Set(a.pendingKey, nil, nil)
		} else {
			err = b.Delete(a.pendingKey, nil)
		}
		if err != nil {
			return next, err
		}
	}
	return next, nil
}

// createdKeyFor builds the created-index key of the payment stored at pkey.
func createdKeyFor(created uint64, pkey []byte) []byte {
	k := make([]byte, 0, createdKeyLen)
	k = append(k, prefixCreated)
	k = binary.BigEndian.AppendUint64(k, created)
	return append(k, pkey[1:]...)
}

// applyDelete puts the deletion of one payment into b. The first result is
// the request's own outcome (ErrNotFound); the second a store error.
func (l *Ledger) applyDelete(b *pebble.Batch, ref *paymentRef) (reqErr, err error) {
	key := paymentKey(ref.hash, ref.group)
	old, closer, err := b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("%w: payment %x group %d", ErrNotFound, ref.hash, ref.group), nil
	}
	if err != nil {
		return nil, err
	}
	if len(old) < payFixedHeaderLen {
		closer.Close()
		return nil, fmt.Errorf("%w: stored payment %x", ErrCorrupt, key)
	}
	created := binary.BigEndian.Uint64(old[payCreatedOffset:])
	closer.Close()
	if err := b.Delete(key, nil); err != nil {
		return nil, err
	}
	if err := b.Delete(createdKeyFor(created, key), nil); err != nil {
		return nil, err
	}
	for _, p := range []byte{prefixAttempt, prefixPending} {
		gp := groupPrefix(p, ref.hash, ref.group)
		if err := b.DeleteRange(gp, prefixEnd(gp), nil); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// applyRows puts one DeleteRows request into b: it checks that every row
// named is there (else the request's own ErrNotFound, nothing applied),
// rewrites the payments, then deletes. It returns the next row id, the
// request's outcome and a store error.
func (l *Ledger) applyRows(b *pebble.Batch, r *request, next uint64) (uint64, error, error) {
	d := r.rows
	for _, g := range d.groups {
		if ok, err := has(b, paymentKey(d.hash, g)); err != nil || !ok {
			return next, notFound(ok, "payment %x group %d", d.hash, g), err
		}
	}
	for _, p := range d.parts {
		if ok, err := has(b, attemptKey(prefixAttempt, d.hash, p.GroupID, p.PartID)); err != nil || !ok {
			return next, notFound(ok, "attempt %x/%d/%d", d.hash, p.GroupID, p.PartID), err
		}
	}
	next, err := l.applyWrite(b, r, next)
	if err != nil {
		return next, nil, err
	}
	for _, g := range d.groups {
		if _, err := l.applyDelete(b, &paymentRef{d.hash, g}); err != nil {
			return next, nil, err
		}
	}
	var groups []uint64
	for _, p := range d.parts {
		for _, t := range []byte{prefixAttempt, prefixPending} {
			if err := b.Delete(attemptKey(t, d.hash, p.GroupID, p.PartID), nil); err != nil {
				return next, nil, err
			}
		}
		if !slices.Contains(groups, p.GroupID) {
			groups = append(groups, p.GroupID)
		}
	}
	for _, g := range groups {
		left := false
		err := scan(b, groupPrefix(prefixAttempt, d.hash, g), func(_, _ []byte) (bool, error) {
			left = true
			return false, nil
		})
		if err != nil {
			return next, nil, err
		}
		if left {
			continue
		}
		// The group's last part went: its payment row goes with it.
		if ok, err := has(b, paymentKey(d.hash, g)); err != nil || !ok {
			if err != nil {
				return next, nil, err
			}
			continue
		}
		if _, err := l.applyDelete(b, &paymentRef{d.hash, g}); err != nil {
			return next, nil, err
		}
	}
	return next, nil, nil
}

// has reports whether key is in b (or the store under it).
func has(b *pebble.Batch, key []byte) (bool, error) {
	_, closer, err := b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	closer.Close()
	return true, nil
}

// notFound is a request's ErrNotFound for a row missing (ok false), else
// nil.
func notFound(ok bool, format string, a ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("%w: "+format, append([]any{ErrNotFound}, a...)...)
}
