package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
)

// Claims is a fleet's claim on payment hashes, in this member's name (the
// claims package over etcd, wrapped by the daemon): before the first HTLC
// of a payment leaves, the engine claims its hash, and sends only when it
// holds the claim. nil (Options.Claims) is a single node: nothing is
// claimed.
type Claims interface {
	// Claim asks for hash: mine is true when this member holds it (it may
	// pay); otherwise state says where another member's payment stands,
	// with its preimage when complete. An error means nothing may be sent.
	Claim(ctx context.Context, hash [32]byte) (ClaimState, error)
	// Complete writes the member's success, after the ledger has it.
	Complete(ctx context.Context, hash [32]byte, preimage [32]byte) error
	// Fail writes the member's failure, with nothing in flight.
	Fail(ctx context.Context, hash [32]byte) error
	// Held lists the hashes pending in this member's name.
	Held(ctx context.Context) ([][32]byte, error)
}

// ClaimState is a claim as the engine reads it.
type ClaimState struct {
	Mine     bool
	Holder   string
	Complete bool
	Preimage [32]byte
}

// CodeClaimUnavailable is the JSON-RPC error code of a payment refused
// because the fleet's claim store could not be reached (fail closed: no
// HTLC was sent). Core Lightning has no such case; -1 is its generic code.
const CodeClaimUnavailable = -1

// outbox writes the outcomes of claimed payments to the claim store once
// the ledger has them (the ledger is the outbox: a write that fails while
// the store is away is tried again, and at start the hashes pending in our
// name are reconciled with the ledger).
type outbox struct {
	mu     sync.Mutex
	cond   *sync.Cond       // signalled when a write ends
	hashes map[[32]byte]int // hash → callers between Claim and their call's end
	// writing marks the hashes whose outcome is being decided and written:
	// a new call waits, so that no Fail is written from a ledger read made
	// before that call's claim and attempt.
	writing map[[32]byte]bool
	wake    chan struct{}
	retry   time.Duration
}

func newOutbox() *outbox {
	o := &outbox{hashes: map[[32]byte]int{}, writing: map[[32]byte]bool{}, wake: make(chan struct{}, 1), retry: 500 * time.Millisecond}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// claimGate runs before a payment call for hash reaches its actor: with no
// claim store, or a payment this member already has under way or
// complete, it lets the call through (ok); else it claims the hash. A
// claim another member holds is the answer (200 while pending, the
// preimage when complete, in done); a store that cannot be reached refuses
// the call. release must be called when the call ends.
func (e *Engine) claimGate(ctx context.Context, hash [32]byte, inv *payment.Invoice) (done *payment.Record, release func(), err error) {
	c := e.opts.Claims
	if c == nil {
		return nil, func() {}, nil
	}
	e.out.hold(hash)
	release = func() { e.out.unhold(hash) }
	rec, _ := e.record(hash)
	e.wakeBetweenRounds(rec)
	if rec != nil && (rec.Status != payment.StatusFailed || e.paying(hash)) {
		// Ours already: sent under our claim, which still stands.
		return nil, release, nil
	}
	st, err := c.Claim(ctx, hash)
	switch {
	case err != nil:
		release()
		return nil, nil, &payment.Error{Code: CodeClaimUnavailable,
			Message: fmt.Sprintf("payment refused, nothing sent: the fleet's claim on %x could not be made: %v", hash, err)}
	case st.Mine:
		return nil, release, nil
	case st.Complete:
		release()
		pre := st.Preimage
		rec := &payment.Record{Hash: hash, Status: payment.StatusComplete, Preimage: &pre}
		if inv != nil {
			rec.Bolt11, rec.Destination = inv.Bolt11, inv.Payee
			if inv.Amount != nil {
				rec.Amount, rec.AmountSent = *inv.Amount, *inv.Amount
			}
			rec.CreatedAt = e.opts.Clock()
			rec.CompletedAt = rec.CreatedAt
		}
		return rec, nil, nil
	}
	release()
	return nil, nil, &payment.Error{Code: payment.CodeInProgress,
		Message: fmt.Sprintf("Payment is still in progress (on fleet member %s)", st.Holder)}
}

// hold marks a caller between Claim and its call's end, after any write
// of hash's outcome under way.
func (o *outbox) hold(hash [32]byte) {
	o.mu.Lock()
	for o.writing[hash] {
		o.cond.Wait()
	}
	o.hashes[hash]++
	o.mu.Unlock()
}

// unhold ends a caller's hold; the hash stays in the outbox (count 0) until
// its outcome is written.
func (o *outbox) unhold(hash [32]byte) {
	o.mu.Lock()
	if o.hashes[hash] > 0 {
		o.hashes[hash]--
	}
	o.mu.Unlock()
	o.poke()
}

func (o *outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// startOutbox reconciles the hashes pending in our name with the ledger,
// then writes outcomes as payments end, until the engine stops.
func (e *Engine) startOutbox() {
	if e.opts.Claims == nil {
		return
	}
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			held, err := e.opts.Claims.Held(ctx)
			cancel()
			if err == nil {
				e.out.mu.Lock()
				for _, h := range held {
					if _, ok := e.out.hashes[h]; !ok {
						e.out.hashes[h] = 0
					}
				}
				e.out.mu.Unlock()
				break
			}
			e.logger().Warn("fleet: listing our pending claims", "err", err)
			select {
			case <-e.stopped:
				return
			case <-time.After(e.out.retry):
			}
		}
		t := time.NewTicker(e.out.retry)
		defer t.Stop()
		for {
			e.flushOutbox()
			select {
			case <-e.stopped:
				return
			case <-e.out.wake:
			case <-t.C:
			}
		}
	}()
}

// flushOutbox writes the outcome of every hash in the outbox whose ledger
// has one and that no caller holds; what fails stays for the next round.
func (e *Engine) flushOutbox() {
	e.out.mu.Lock()
	var todo [][32]byte
	for h, n := range e.out.hashes {
		if n == 0 && !e.out.writing[h] {
			todo = append(todo, h)
		}
	}
	e.out.mu.Unlock()
	for _, h := range todo {
		e.out.mu.Lock()
		if e.out.hashes[h] != 0 {
			e.out.mu.Unlock()
			continue // a call came in: its end brings the hash back
		}
		e.out.writing[h] = true
		e.out.mu.Unlock()
		done, err := e.writeOutcome(h)
		if err != nil {
			e.logger().Warn("fleet: writing a claim's outcome", "hash", fmt.Sprintf("%x", h), "err", err)
		}
		e.out.mu.Lock()
		delete(e.out.writing, h)
		if done && e.out.hashes[h] == 0 {
			delete(e.out.hashes, h)
		}
		e.out.cond.Broadcast()
		e.out.mu.Unlock()
	}
}

// writeOutcome writes hash's outcome if the ledger has one: complete with
// its preimage; failed once nothing is in flight and no pay retries; no
// record at all (nothing was sent under the claim) is failed too. done is
// false while the payment is under way or the write failed.
func (e *Engine) writeOutcome(hash [32]byte) (done bool, err error) {
	rec, err := e.record(hash)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rec != nil && rec.Status == payment.StatusComplete && rec.Preimage != nil {
		err = e.opts.Claims.Complete(ctx, hash, *rec.Preimage)
		return err == nil || errors.Is(err, ErrClaimFinal), err
	}
	e.wakeBetweenRounds(rec)
	if rec != nil && (rec.Status == payment.StatusPending || e.paying(hash)) {
		return false, nil
	}
	_, groups, parts, err := e.rows(hash)
	if err != nil {
		return false, err
	}
	for i := range groups {
		if groups[i].Preimage != nil {
			// A group of sendpay parts settled.
			err = e.opts.Claims.Complete(ctx, hash, *groups[i].Preimage)
			return err == nil || errors.Is(err, ErrClaimFinal), err
		}
	}
	for j := range parts {
		if parts[j].Status == messages.AttemptPending {
			return false, nil
		}
	}
	if atts, err := e.opts.Ledger.Attempts(hash, 0); err != nil {
		return false, err
	} else {
		for i := range atts {
			if atts[i].Status == messages.AttemptPending {
				return false, nil
			}
		}
	}
	err = e.opts.Claims.Fail(ctx, hash)
	return err == nil || errors.Is(err, ErrClaimFinal), err
}

// ErrClaimFinal marks an outcome the claim store refuses for good (the
// claim is not ours, or already complete): logged, not retried. A Claims
// implementation wraps such errors with it.
var ErrClaimFinal = errors.New("actors: claim outcome refused for good")

// logger is Options.Logger, or a discarding one.
func (e *Engine) logger() *slog.Logger {
	if e.opts.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.opts.Logger
}

// Spendable is what our channels can send now, summed: a fleet member's
// liquidity, by which a front-end picks the member that pays.
func (e *Engine) Spendable() graph.MilliSat {
	e.peersMu.RLock()
	pids := make([]*actor.PID, 0, len(e.peers))
	for _, pid := range e.peers {
		pids = append(pids, pid)
	}
	e.peersMu.RUnlock()
	var total graph.MilliSat
	for _, pid := range pids {
		res, err := e.sys.Root.RequestFuture(pid, spendableQuery{}, 5*time.Second).Result()
		if amt, ok := res.(graph.MilliSat); err == nil && ok {
			total += amt
		}
	}
	return total
}
