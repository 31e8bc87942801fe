package payment

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
)

// ErrUnexpected is returned by Step for an event the current state does not
// accept (an actor bug, not a caller's): nothing changes.
var ErrUnexpected = errors.New("payment: unexpected event")

// phase is where the attempt of the hash stands.
type phase uint8

const (
	phaseIdle       phase = iota // no attempt under way
	phasePersisting              // attempt written, waiting for the ledger
	phaseInFlight                // HTLC out, waiting for its outcome
	phaseRouting                 // pay asked the graph for a route
	phaseDeleting                // the ledger is deleting the record (delpay, or a pay that ended before its first attempt)
)

// Core is the lifecycle of one payment hash. It is not safe for concurrent
// use: one payment actor owns it.
type Core struct {
	hash    [32]byte
	rec     *Record // nil until the first attempt
	phase   phase
	route   graph.Route // the attempt being persisted or in flight
	secret  *[32]byte
	total   graph.MilliSat
	sender  *ReplyTo    // the sendpay caller waiting for the ledger
	waiters []ReplyTo   // waitsendpay callers
	pay     *payRun     // the pay driving this hash, if any
	sparts  []*sendPart // sendpay's parts (partid ≠ 0), in the order sent
	// partSeq numbers the handles of sendpay parts; a deleted part's
	// is never given again.
	partSeq uint64
	// deleting are the deletions the ledger has been asked for, in
	// order, each answered by one Deleted: a delpay's, or nil for a pay
	// that ended before its first attempt.
	deleting []*deletion
	// ending is the answer of a pay that ended before its first attempt,
	// given once its row is deleted (endBeforeAttempt).
	ending *ending
}

// ending is a pay's answer held until its row is deleted.
type ending struct {
	reply ReplyTo
	err   *Error
}

// New returns the core of a hash, with the record the ledger holds for it
// (nil if none). A pending record means an HTLC may be in flight: the core
// waits for its outcome (restart recovery).
func New(hash [32]byte, rec *Record, route graph.Route) *Core {
	c := &Core{hash: hash, rec: rec}
	if rec != nil && rec.Status == StatusPending {
		c.phase, c.route = phaseInFlight, route
	}
	return c
}

// Resume takes up the pay that drove the recovered attempt in flight
// (the record's Pay), after a restart: when that attempt fails, the retry
// loop goes on until the pay's retry_for, counted from its original
// start. inv is the record's bolt11, decoded. Nobody waits for the answer
// (ReplyTo 0); the outcome goes to the ledger.
func (c *Core) Resume(inv Invoice) error {
	if c.rec == nil || c.rec.Pay == nil || c.phase != phaseInFlight {
		return fmt.Errorf("%w: no pay to resume", ErrUnexpected)
	}
	c.pay = &payRun{inv: inv, amount: c.rec.Amount, label: c.rec.Label, params: c.rec.Pay.Params,
		start: c.rec.Pay.Start, attempts: []PayAttempt{{Route: c.route}}}
	return nil
}

// Record returns a copy of the hash's record, or nil.
func (c *Core) Record() *Record {
	if c.rec == nil {
		return nil
	}
	r := *c.rec
	return &r
}

// Paying reports whether a pay is still working on the hash, so listpays
// can show it pending between attempts (spec section 10).
func (c *Core) Paying() bool { return c.pay != nil }

// Done reports whether nothing is under way and nobody waits: the actor may
// stop.
func (c *Core) Done() bool {
	return c.phase == phaseIdle && c.pay == nil && len(c.waiters) == 0 && c.partsIdle() && len(c.deleting) == 0
}

// Step applies one event at time now and returns the effects to carry out,
// in order. An event the current state does not accept returns an error
// wrapping ErrUnexpected and changes nothing.
func (c *Core) Step(now time.Time, ev Event) ([]Effect, error) {
	switch ev := ev.(type) {
	case SendPay:
		return c.stepSendPay(now, ev), nil
	case WaitSendPay:
		return c.stepWait(ev), nil
	case WaitTimeout:
		return c.stepTimeout(ev), nil
	case Pay:
		return c.stepPay(now, ev), nil
	case Persisted:
		if isSendPart(ev.Part) {
			return c.stepSendPartPersisted(ev)
		}
		if ev.Part != 0 {
			return c.stepPartPersisted(ev)
		}
		if c.phase != phasePersisting {
			return nil, fmt.Errorf("%w: persisted in phase %d", ErrUnexpected, c.phase)
		}
		return c.stepPersisted(), nil
	case Settled:
		if isSendPart(ev.Part) {
			return c.stepSendPartSettled(now, ev)
		}
		if ev.Part != 0 {
			return c.stepPartSettled(now, ev)
		}
		if c.phase != phaseInFlight {
			return nil, fmt.Errorf("%w: settled in phase %d", ErrUnexpected, c.phase)
		}
		return c.stepSettled(now, ev), nil
	case Failed:
		if isSendPart(ev.Part) {
			return c.stepSendPartFailed(now, ev)
		}
		if ev.Part != 0 {
			return c.stepPartFailed(now, ev)
		}
		if c.phase != phaseInFlight {
			return nil, fmt.Errorf("%w: failed in phase %d", ErrUnexpected, c.phase)
		}
		return c.stepFailed(now, ev), nil
	case RouteFound:
		if c.phase != phaseRouting {
			return nil, fmt.Errorf("%w: route in phase %d", ErrUnexpected, c.phase)
		}
		return c.stepRoute(now, ev), nil
	case PlanAgain:
		if c.pay == nil || c.pay.flow == nil || !c.pay.flow.waiting {
			return nil, fmt.Errorf("%w: plan again while not waiting", ErrUnexpected)
		}
		return c.stepPlanAgain(now), nil
	case FlowFound:
		if c.pay == nil || c.pay.flow == nil || !c.pay.flow.planning {
			return nil, fmt.Errorf("%w: flow while not planning", ErrUnexpected)
		}
		return c.stepFlow(now, ev), nil
	case RouteNotFound:
		if c.phase != phaseRouting {
			return nil, fmt.Errorf("%w: no route in phase %d", ErrUnexpected, c.phase)
		}
		return c.stepNoRoute(ev), nil
	case FeeFloorFound:
		if c.phase != phaseRouting || c.pay == nil {
			return nil, fmt.Errorf("%w: fee floor in phase %d", ErrUnexpected, c.phase)
		}
		return c.stepFeeFloor(ev), nil
	case DelPay:
		return c.stepDelPay(ev), nil
	case Deleted:
		if len(c.deleting) == 0 {
			return nil, fmt.Errorf("%w: deleted with no deletion asked", ErrUnexpected)
		}
		d := c.deleting[0]
		if d == nil && (c.phase != phaseDeleting || c.ending == nil) {
			return nil, fmt.Errorf("%w: deleted in phase %d", ErrUnexpected, c.phase)
		}
		c.deleting = c.deleting[1:]
		if d != nil {
			return c.stepRowsDeleted(d, ev), nil
		}
		return c.stepDeleted(ev), nil
	}
	return nil, fmt.Errorf("%w: %T", ErrUnexpected, ev)
}

func fail(to ReplyTo, code int, format string, a ...any) Effect {
	return Reply{To: to, Err: &Error{Code: code, Message: fmt.Sprintf(format, a...)}}
}

// busy reports whether an attempt, a pay or a sendpay part is under way:
// a new sendpay or pay then fails with 200 (the original pages' rule).
func (c *Core) busy() bool { return c.singleBusy() || c.partsPending() }

// singleBusy reports whether the single-part payment (group 0) has an
// attempt or a pay under way.
func (c *Core) singleBusy() bool { return c.phase != phaseIdle || c.pay != nil }

const msgInProgress = "Payment is still in progress"

// stepSendPay is spec section 5 with the original pages' rules: 200 while
// pending; after success the same amount and destination succeed at once
// and another gives 201; a failed hash is tried again; msatoshi accepts a
// final amount from msatoshi to 2*msatoshi inclusive.
func (c *Core) stepSendPay(now time.Time, ev SendPay) []Effect {
	if len(ev.Route) == 0 {
		return []Effect{fail(ev.Reply, CodeInvalidParams, "Empty route")}
	}
	if ev.PartID != 0 {
		return c.stepSendPart(now, ev)
	}
	final := ev.Route[len(ev.Route)-1].Amount
	amount := final
	if ev.Amount != nil {
		amount = *ev.Amount
		if final < amount {
			return []Effect{fail(ev.Reply, CodeInvalidParams, "final %s less than msatoshi %s", final, amount)}
		}
		if final/2 > amount || (final/2 == amount && final%2 == 1) {
			return []Effect{fail(ev.Reply, CodeInvalidParams, "final %s more than twice msatoshi %s", final, amount)}
		}
	}
	if c.partsPending() {
		// HEAD: parallel and non-parallel parts do not mix.
		return []Effect{fail(ev.Reply, CodeInProgress, "Already have parallel payment in progress")}
	}
	if c.busy() {
		return []Effect{fail(ev.Reply, CodeInProgress, msgInProgress)}
	}
	dest := ev.Route[len(ev.Route)-1].ID
	if c.rec != nil && c.rec.Status == StatusComplete {
		switch {
		case c.rec.Amount != amount:
			return []Effect{fail(ev.Reply, CodeRHashUsed, "Already succeeded with amount %s", c.rec.Amount)}
		case c.rec.Destination != dest:
			return []Effect{fail(ev.Reply, CodeRHashUsed, "Already succeeded to %s", c.rec.Destination)}
		}
		return []Effect{Reply{To: ev.Reply, Record: c.Record()}}
	}
	if c.partsComplete() {
		return []Effect{fail(ev.Reply, CodeRHashUsed, "Already succeeded other parts")}
	}
	if f := ev.NoPeer; f != nil {
		// v0.7 answers before storing anything: the record, if any,
		// stays as it was.
		return []Effect{Reply{To: ev.Reply, Err: &Error{Code: f.Code, Message: f.Message, Data: FailureData{Routing: f.Routing}}}}
	}
	sender := ev.Reply
	c.sender = &sender
	return c.startAttempt(now, ev.Route, amount, ev.Label, ev.Bolt11, ev.Secret)
}

// startAttempt writes a fresh pending record for the route; the HTLC leaves
// only when the ledger says it is durable.
func (c *Core) startAttempt(now time.Time, route graph.Route, amount graph.MilliSat, label, bolt11 string, secret *[32]byte) []Effect {
	c.rec = &Record{
		Hash: c.hash, Destination: route[len(route)-1].ID, Amount: amount, AmountSent: route[0].Amount,
		CreatedAt: now, Status: StatusPending, Label: label, Bolt11: bolt11,
	}
	if c.pay != nil {
		c.rec.Pay = &PayRun{Params: c.pay.params, Start: c.pay.start}
	}
	c.phase, c.route, c.secret, c.total = phasePersisting, route, secret, route[len(route)-1].Amount
	return []Effect{PersistAttempt{Record: *c.rec, Route: route, Secret: secret, Total: c.total}}
}

func (c *Core) stepPersisted() []Effect {
	c.phase = phaseInFlight
	effects := []Effect{SendHTLC{Hash: c.hash, Route: c.route, Secret: c.secret, Total: c.total}}
	if c.sender != nil {
		effects = append(effects, Reply{To: *c.sender, Record: c.Record(), Message: "Monitor status with listpayments or waitsendpay"})
		c.sender = nil
	}
	return effects
}

func (c *Core) stepSettled(now time.Time, ev Settled) []Effect {
	pre := ev.Preimage
	c.rec.Status, c.rec.Preimage, c.rec.CompletedAt, c.rec.Pay = StatusComplete, &pre, now, nil
	c.phase = phaseIdle
	effects := []Effect{PersistOutcome{Record: *c.rec}}
	for _, w := range c.waiters {
		effects = append(effects, Reply{To: w, Record: c.Record()})
	}
	c.waiters = nil
	if c.pay != nil {
		effects = append(effects, Reply{To: c.pay.reply, Record: c.Record()})
		c.pay = nil
	}
	return effects
}

func (c *Core) stepFailed(now time.Time, ev Failed) []Effect {
	f := ev.Failure
	c.rec.Status, c.rec.Failure = StatusFailed, &f
	c.phase = phaseIdle
	effects := []Effect{PersistOutcome{Record: *c.rec}}
	switch r := f.Routing; {
	case r != nil && f.Code == CodeTryOtherRoute && r.ErringIndex > 0:
		// A node other than the destination failed: the route table
		// learns of it (the original pages).
		effects = append(effects, ReportFailure{Failure: f})
	case f.Code == CodeUnparseableOnion:
		// Some node on the route sent garbage; which one cannot be
		// told, so the route table learns of the whole route.
		effects = append(effects, ReportFailure{Failure: f, Route: c.route})
	}
	err := c.failureError()
	for _, w := range c.waiters {
		effects = append(effects, Reply{To: w, Err: err})
	}
	c.waiters = nil
	if c.pay != nil {
		effects = append(effects, c.payFailed(now, f)...)
		if c.pay == nil {
			// The pay ended with this attempt: its row no longer
			// carries the pay's run, so a restart does not take it up.
			c.rec.Pay = nil
			effects[0] = PersistOutcome{Record: *c.rec}
		}
	}
	return effects
}

// failureError is waitsendpay's answer for the failed record (spec
// section 6): 202 with the onion, 203 or 204 with the routing failure and
// the payment's fields, or 209 when no details were kept.
func (c *Core) failureError() *Error { return recordError(c.rec) }

// recordError is waitsendpay's answer for a failed record: the single
// payment's or a sendpay part's.
func recordError(rec *Record) *Error {
	f := rec.Failure
	if f == nil {
		return &Error{Code: CodeUnspecified, Message: "Payment failure reason unknown"}
	}
	switch f.Code {
	case CodeUnparseableOnion:
		return &Error{Code: f.Code, Message: "Malformed error reply", Data: map[string]string{"onionreply": hex.EncodeToString(f.OnionReply)}}
	}
	r := *rec
	return &Error{Code: f.Code, Message: f.Message, Data: FailureData{Record: &r, Routing: f.Routing}}
}

// FailureData is the data of a 203 or 204 error: the routing failure
// object and the payment's fields (v0.7.3 carries both); Record is nil for
// a failure sendpay answers before any record exists.
type FailureData struct {
	Record  *Record
	Routing *htlc.RoutingFailure
}

func (c *Core) stepWait(ev WaitSendPay) []Effect {
	if ev.PartID != 0 || (ev.GroupID != nil && *ev.GroupID != 0) {
		return c.stepWaitPart(ev)
	}
	switch {
	case c.rec == nil:
		return []Effect{fail(ev.Reply, CodeNoSuchPayment, "Never attempted payment for '%x'", c.hash)}
	case c.rec.Status == StatusComplete:
		return []Effect{Reply{To: ev.Reply, Record: c.Record()}}
	case c.rec.Status == StatusFailed:
		// Even while a pay is between attempts: v0.7's row says failed.
		return []Effect{Reply{To: ev.Reply, Err: c.failureError()}}
	}
	if ev.Timeout != nil && *ev.Timeout <= 0 {
		return []Effect{fail(ev.Reply, CodeInProgress, "Timed out while waiting")}
	}
	c.waiters = append(c.waiters, ev.Reply)
	if ev.Timeout != nil {
		return []Effect{StartTimer{Reply: ev.Reply, After: *ev.Timeout}}
	}
	return nil
}

// stepTimeout answers a waiter whose timer fired; one already answered is
// no longer waiting, and its late timer is ignored.
func (c *Core) stepTimeout(ev WaitTimeout) []Effect {
	for i, w := range c.waiters {
		if w == ev.Reply {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return []Effect{fail(ev.Reply, CodeInProgress, "Timed out while waiting")}
		}
	}
	return c.partTimeout(ev)
}

// stepDeleted goes on once the ledger has deleted the row of a pay that
// ended before its first attempt: a hash deleted is a hash never paid.
func (c *Core) stepDeleted(ev Deleted) []Effect {
	c.phase = phaseIdle
	e := c.ending
	c.ending = nil
	if ev.Err != nil {
		// The row stays: failed, so that no restart takes the
		// pay up again.
		return append(c.failRow(e.err), Reply{To: e.reply, Err: e.err})
	}
	c.rec = nil
	effects := []Effect{Reply{To: e.reply, Err: e.err}}
	for _, w := range c.waiters {
		effects = append(effects, fail(w, CodeNoSuchPayment, "Never attempted payment for '%x'", c.hash))
	}
	c.waiters = nil
	return effects
}
