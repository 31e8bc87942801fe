package payment

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// SinglePathMax is the amount below which pay keeps the single-path
// getroute search even when maxparts allows parts: a payment that small
// (under 100,000 sat) crosses a typical channel whole with high
// probability (uniform liquidity: (capacity - amount) / capacity, 0.9 on
// a 1M sat channel), and the single path pays exactly as v0.7's pay did.
const SinglePathMax graph.MilliSat = 100_000_000

// ErrLiquidityHeld marks a plan that failed only because HTLCs of other
// payments of ours hold the liquidity it needs (the planner found a flow
// once their reservations were left out). It comes wrapped with
// graph.ErrNoRoute.
var ErrLiquidityHeld = errors.New("payment: the liquidity is held by payments in flight")

// WaitForLiquidity is how long a pay in parts waits before planning again
// when its plan failed with ErrLiquidityHeld.
const WaitForLiquidity = 250 * time.Millisecond

// multiPart reports whether pay sends amount in parts planned as a flow.
func multiPart(p PayParams, amount graph.MilliSat) bool {
	return p.MaxParts > 1 && amount >= SinglePathMax
}

// partState is where one part of a multi-part pay stands.
type partState uint8

const (
	partPersisting partState = iota // its attempt is being written
	partInFlight                    // its HTLC is out
	partSettled
	partFailed
)

// flowPart is one part of a multi-part pay: its route and where it stands.
type flowPart struct {
	id    uint64
	route graph.Route
	state partState
}

func (p *flowPart) delivers() graph.MilliSat { return p.route[len(p.route)-1].Amount }
func (p *flowPart) sent() graph.MilliSat     { return p.route[0].Amount }
func (p *flowPart) active() bool             { return p.state == partPersisting || p.state == partInFlight }

// flowState is a pay sent in parts: rounds of plans, each for the amount
// still missing (the amount less what the parts in flight and settled
// deliver), within what is left of the fee budget and of maxparts.
type flowState struct {
	budget   graph.MilliSat // fees of all parts together, at most
	parts    []*flowPart
	planning bool   // a PlanFlow is out
	waiting  bool   // a WaitToPlan is out
	planErr  error  // the last plan's error, while parts are still out
	endErr   *Error // the pay ends with this once no part is out
	// endOfFailure says endErr is a part's failure, whose data shows the
	// payment's fields: built again once the record says failed.
	endOfFailure bool
	// stale says a part failed while the plan was out: the plan did not
	// ask for that part's amount, nor see the liquidity it gave back.
	stale    bool
	preimage *[32]byte
}

// feeBudget is pay's fee limit for the whole payment: maxfeepercent of
// the amount, or exemptfee if that is more (HEAD's exemptfee modifier).
func feeBudget(p PayParams, amount graph.MilliSat) graph.MilliSat {
	pct := graph.MilliSat(float64(amount) * p.MaxFeePercent / 100)
	return max(pct, p.ExemptFee)
}

// sums returns what the active parts and the settled ones deliver and
// send, and how many are active.
func (f *flowState) sums() (delivering, sending graph.MilliSat, active int) {
	for _, p := range f.parts {
		if p.active() || p.state == partSettled {
			delivering += p.delivers()
			sending += p.sent()
		}
		if p.active() {
			active++
		}
	}
	return delivering, sending, active
}

func (c *Core) startFlow(now time.Time) []Effect {
	p := c.pay
	p.flow = &flowState{budget: feeBudget(p.params, p.amount)}
	return c.planFlow(now)
}

// planFlow asks for the amount still missing, with the fee budget and the
// parts left; nothing when nothing is missing or a plan is already out.
func (c *Core) planFlow(now time.Time) []Effect {
	p, f := c.pay, c.pay.flow
	delivering, sending, active := f.sums()
	if f.planning || f.waiting || delivering >= p.amount || f.endErr != nil || f.preimage != nil {
		return nil
	}
	if len(f.parts) > 0 && now.After(p.start.Add(p.params.RetryFor)) {
		return c.flowEndIfIdle(now, c.gaveUp())
	}
	fees := sending - delivering
	var left graph.MilliSat
	if fees < f.budget {
		left = f.budget - fees
	}
	maxParts := p.params.MaxParts - active
	if maxParts < 1 {
		return nil // wait for a part to end
	}
	f.planning = true
	return []Effect{PlanFlow{Params: graph.FlowParams{
		Destination: p.inv.Payee, Amount: p.amount - delivering, MaxFee: left,
		FinalCLTV: p.inv.MinFinalCLTV, MaxDelay: p.params.MaxDelay, MaxParts: maxParts,
	}}}
}

// stepFlow sends the parts of a plan at once: each is written, then its
// HTLC leaves (Persisted), as a single attempt does.
func (c *Core) stepFlow(now time.Time, ev FlowFound) []Effect {
	p, f := c.pay, c.pay.flow
	f.planning = false
	stale := f.stale
	f.stale = false
	if ev.Err != nil || ev.Flow == nil || len(ev.Flow.Parts) == 0 {
		f.planErr = ev.Err
		if ev.Err == nil {
			f.planErr = graph.ErrNoRoute
		}
		if _, _, active := f.sums(); active > 0 {
			if stale {
				// A part failed after the plan read the knowledge:
				// its liquidity is back and it taught something.
				return c.planFlow(now)
			}
			// Parts are out: what they teach when they end may open a
			// way; the next failure plans again.
			return nil
		}
		if errors.Is(ev.Err, ErrLiquidityHeld) && !now.After(p.start.Add(p.params.RetryFor)) {
			// Our other payments hold what this one needs: wait for
			// them rather than fail while they may still fail.
			f.waiting = true
			return []Effect{WaitToPlan{After: WaitForLiquidity}}
		}
		return c.flowEndIfIdle(now, c.flowNoRoute())
	}
	if len(f.parts) > 0 && now.After(p.start.Add(p.params.RetryFor)) {
		return c.flowEndIfIdle(now, c.gaveUp())
	}
	f.planErr = nil
	var effects []Effect
	for _, fp := range ev.Flow.Parts {
		part := &flowPart{id: uint64(len(f.parts)) + 1, route: fp.Route}
		f.parts = append(f.parts, part)
		p.attempts = append(p.attempts, PayAttempt{Route: fp.Route})
		c.flowRecord(now)
		effects = append(effects, PersistAttempt{Record: *c.rec, Route: part.route, Secret: p.inv.Secret, Total: p.amount, Part: part.id})
	}
	if stale {
		// Parts that failed while this plan was out are still missing:
		// plan them now, for no other failure may come to do it (parts
		// held at the destination only fail at its mpp_timeout).
		effects = append(effects, c.planFlow(now)...)
	}
	return effects
}

// flowRecord brings the hash's record up to date with the parts: a new
// pending record at the first part, AmountSent the sum of what the parts
// not failed send.
func (c *Core) flowRecord(now time.Time) {
	p := c.pay
	if c.rec == nil || c.rec.Status != StatusPending {
		c.rec = &Record{Hash: c.hash, Destination: p.inv.Payee, Amount: p.amount, CreatedAt: now,
			Status: StatusPending, Label: p.label, Bolt11: p.inv.Bolt11, Pay: &PayRun{Params: p.params, Start: p.start}}
	}
	_, c.rec.AmountSent, _ = p.flow.sums()
	c.rec.Parts = 0
	for _, part := range p.flow.parts {
		if part.state == partSettled {
			c.rec.Parts++
		}
	}
}

func (c *Core) part(id uint64) *flowPart {
	if c.pay == nil || c.pay.flow == nil || id == 0 || id > uint64(len(c.pay.flow.parts)) {
		return nil
	}
	return c.pay.flow.parts[id-1]
}

func (c *Core) stepPartPersisted(ev Persisted) ([]Effect, error) {
	part := c.part(ev.Part)
	if part == nil || part.state != partPersisting {
		return nil, fmt.Errorf("%w: part %d persisted", ErrUnexpected, ev.Part)
	}
	part.state = partInFlight
	return []Effect{SendHTLC{Hash: c.hash, Route: part.route, Secret: c.pay.inv.Secret, Total: c.pay.amount, Part: part.id}}, nil
}

// partRecord is one part's own outcome, for its attempt row.
func (c *Core) partRecord(now time.Time, part *flowPart, f *Failure, pre *[32]byte) *Record {
	r := *c.rec
	r.Amount, r.AmountSent, r.CompletedAt, r.Failure, r.Preimage = part.delivers(), part.sent(), now, f, pre
	r.Status = StatusComplete
	if f != nil {
		r.Status = StatusFailed
	}
	return &r
}

func (c *Core) stepPartSettled(now time.Time, ev Settled) ([]Effect, error) {
	part := c.part(ev.Part)
	if part == nil || part.state != partInFlight {
		return nil, fmt.Errorf("%w: part %d settled", ErrUnexpected, ev.Part)
	}
	f := c.pay.flow
	part.state = partSettled
	pre := ev.Preimage
	f.preimage = &pre
	c.flowRecord(now)
	effects := []Effect{PersistOutcome{Record: *c.rec, Part: part.id, PartRecord: c.partRecord(now, part, nil, &pre)}}
	return append(effects, c.flowEndIfIdle(now, nil)...), nil
}

func (c *Core) stepPartFailed(now time.Time, ev Failed) ([]Effect, error) {
	part := c.part(ev.Part)
	if part == nil || part.state != partInFlight {
		return nil, fmt.Errorf("%w: part %d failed", ErrUnexpected, ev.Part)
	}
	p, f := c.pay, c.pay.flow
	part.state = partFailed
	fl := ev.Failure
	p.attempts[ev.Part-1].Failure = &fl
	c.flowRecord(now)
	effects := []Effect{PersistOutcome{Record: *c.rec, Part: part.id, PartRecord: c.partRecord(now, part, &fl, nil)}}
	switch r := fl.Routing; {
	case r != nil && fl.Code == CodeTryOtherRoute && r.ErringIndex > 0 && r.ErringIndex < len(part.route) &&
		r.FailCode != lnwire.CodeTemporaryChannelFailure:
		// A channel short of liquidity is what the knowledge learns
		// (the planner then sends less over it, not nothing), and the
		// destination's own answer (mpp_timeout) blames no channel:
		// only other failures keep a channel or node out of plans.
		effects = append(effects, ReportFailure{Failure: fl})
	case fl.Code == CodeUnparseableOnion:
		effects = append(effects, ReportFailure{Failure: fl, Route: part.route})
	}
	switch {
	case f.preimage != nil:
		// Paid already: the other parts only need to end.
	case fl.Code != CodeTryOtherRoute || fl.Routing == nil:
		if f.endErr == nil {
			c.rec.Failure = &fl
			f.endErr, f.endOfFailure = c.failureError(), true
		}
	case now.After(p.start.Add(p.params.RetryFor)):
		if f.endErr == nil {
			f.endErr = c.gaveUp()
		}
	default:
		// Plan again only the amount this part was to deliver (and any
		// other missing), around what failed; with a plan out, once it
		// answers.
		f.stale = f.stale || f.planning
		return append(effects, c.planFlow(now)...), nil
	}
	return append(effects, c.flowEndIfIdle(now, f.endErr)...), nil
}

// flowNoRoute is the error of a plan that failed: 206 when only the fee
// budget stood in the way, 210 after parts were tried, else 205.
func (c *Core) flowNoRoute() *Error {
	f, n := c.pay.flow, len(c.pay.attempts)
	switch {
	case errors.Is(f.planErr, graph.ErrFeeBudget):
		why := f.planErr.Error()
		if i := strings.LastIndex(why, ": "); i >= 0 {
			why = why[i+2:]
		}
		return &Error{Code: CodeRouteTooExpensive, Message: fmt.Sprintf("Route wanted more fee than the budget of %s: %s", f.budget, why)}
	case n > 0:
		return &Error{Code: CodeStoppedRetrying, Message: fmt.Sprintf("Ran out of routes to try after %d attempt%s: see paystatus", n, plural(n)),
			Data: PayFailureData{Attempts: c.pay.attempts}}
	}
	var ge *graph.Error
	if !errors.Is(f.planErr, graph.ErrNoRoute) && errors.As(f.planErr, &ge) {
		return &Error{Code: ge.Code, Message: ge.Message}
	}
	return &Error{Code: CodeRouteNotFound, Message: "Could not find a route"}
}

// flowEndIfIdle ends the pay once no part is out and no plan is: complete
// if a part settled, else failed with err (or, with no err, whatever the
// last plan said).
func (c *Core) flowEndIfIdle(now time.Time, err *Error) []Effect {
	f := c.pay.flow
	if err != nil && f.endErr == nil && f.preimage == nil {
		f.endErr = err
	}
	if _, _, active := f.sums(); active > 0 || f.planning || f.waiting {
		return nil
	}
	if f.preimage != nil {
		c.rec.Status, c.rec.Preimage, c.rec.CompletedAt, c.rec.Failure, c.rec.Pay = StatusComplete, f.preimage, now, nil, nil
		effects := []Effect{PersistOutcome{Record: *c.rec, PaymentOnly: true}}
		for _, w := range c.waiters {
			effects = append(effects, Reply{To: w, Record: c.Record()})
		}
		c.waiters = nil
		effects = append(effects, Reply{To: c.pay.reply, Record: c.Record()})
		c.pay = nil
		return effects
	}
	if f.endErr == nil {
		return nil // a round is still to be planned
	}
	end := f.endErr
	if c.rec != nil && c.rec.Status == StatusPending && len(c.pay.attempts) == 0 {
		// No part was ever written: the row is the pay's own.
		return c.endBeforeAttempt(end)
	}
	var effects []Effect
	if c.rec != nil {
		c.rec.Status = StatusFailed
		if c.rec.Failure == nil {
			for i := len(c.pay.attempts) - 1; i >= 0; i-- {
				if a := c.pay.attempts[i]; a.Failure != nil {
					c.rec.Failure = a.Failure
					break
				}
			}
		}
		c.rec.CompletedAt, c.rec.Pay = now, nil
		effects = append(effects, PersistOutcome{Record: *c.rec, PaymentOnly: true})
		err := c.failureError()
		if f.endOfFailure {
			end = err
		}
		for _, w := range c.waiters {
			effects = append(effects, Reply{To: w, Err: err})
		}
		c.waiters = nil
	}
	return append(effects, c.endPay(end)...)
}

// ResumedPart is one attempt of a pay in parts found in the ledger at a
// restart: its route, and whether it is still out or settled (a failed
// one need not be given).
type ResumedPart struct {
	Route    graph.Route
	Settled  bool
	Preimage *[32]byte
}

// ResumeParts takes up, after a restart, the pay in parts that drove the
// hash's pending record (its Pay): the parts given are still out or
// settled, in the order given (they become parts 1..n). With none out, the
// pay goes on with a new round for the amount still missing, or ends once
// retry_for, counted from the pay's original start, has run out. Nobody
// waits for the answer (ReplyTo 0); the outcome goes to the ledger. The
// effects are the first round's, if any.
func (c *Core) ResumeParts(now time.Time, inv Invoice, parts []ResumedPart) ([]Effect, error) {
	if c.rec == nil || c.rec.Pay == nil || c.rec.Status != StatusPending || c.pay != nil {
		return nil, fmt.Errorf("%w: no pay in parts to resume", ErrUnexpected)
	}
	params := c.rec.Pay.Params
	if params.MaxParts == 0 {
		params.MaxParts = DefaultMaxParts // a record written before the ledger kept maxparts
	}
	c.phase, c.route = phaseIdle, nil
	c.pay = &payRun{inv: inv, amount: c.rec.Amount, label: c.rec.Label, params: params, start: c.rec.Pay.Start}
	f := &flowState{budget: feeBudget(params, c.rec.Amount)}
	c.pay.flow = f
	for i, rp := range parts {
		part := &flowPart{id: uint64(i) + 1, route: rp.Route, state: partInFlight}
		if rp.Settled {
			part.state = partSettled
			if rp.Preimage != nil {
				pre := *rp.Preimage
				f.preimage = &pre
			}
		}
		f.parts = append(f.parts, part)
		c.pay.attempts = append(c.pay.attempts, PayAttempt{Route: rp.Route})
	}
	c.flowRecord(now)
	if _, _, active := f.sums(); active > 0 {
		return nil, nil
	}
	if f.preimage != nil {
		return c.flowEndIfIdle(now, nil), nil
	}
	if now.After(c.pay.start.Add(params.RetryFor)) {
		return c.flowEndIfIdle(now, c.gaveUp()), nil
	}
	return c.planFlow(now), nil
}

// stepPlanAgain plans again after a wait for liquidity held by others.
func (c *Core) stepPlanAgain(now time.Time) []Effect {
	c.pay.flow.waiting = false
	return c.planFlow(now)
}
