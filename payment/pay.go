package payment

import (
	"errors"
	"fmt"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
)

// payRun is the state of a pay driving a hash: spec section 9.2's retry
// loop (v0.7.3, without route hints and shadow routes).
type payRun struct {
	reply     ReplyTo
	inv       Invoice
	amount    graph.MilliSat
	label     string
	params    PayParams
	start     time.Time
	exclude   []graph.Exclusion
	expensive string // the first "Route wanted ..." message, for 206
	dear      int    // routes over the fee budget so far
	attempts  []PayAttempt
	flow      *flowState // set when the pay is sent in parts
	// fresh: the hash had no row when the pay began, and the pay wrote
	// one before anything else; a pay whose caller waits and that ends
	// before its first attempt deletes it, as Core Lightning's pay leaves
	// no payment then.
	fresh bool
}

// PayAttempt is one attempt of a pay, as paystatus and error 210's
// data.attempts list them.
type PayAttempt struct {
	Route   graph.Route
	Failure *Failure // nil while in flight or if it succeeded
}

// PayFailureData is the data of error 210.
type PayFailureData struct{ Attempts []PayAttempt }

func (c *Core) stepPay(now time.Time, ev Pay) []Effect {
	inv := ev.Invoice
	switch {
	case inv.Amount != nil && ev.Amount != nil:
		return []Effect{fail(ev.Reply, CodeInvalidParams, "msatoshi parameter unnecessary")}
	case inv.Amount == nil && ev.Amount == nil:
		return []Effect{fail(ev.Reply, CodeInvalidParams, "msatoshi parameter required")}
	case inv.Amount == nil && *ev.Amount == 0:
		// Nothing to route: not a 205 from the graph.
		return []Effect{fail(ev.Reply, CodeInvalidParams, "msatoshi parameter must be positive, not 0msat")}
	}
	if c.rec != nil && c.rec.Status == StatusComplete {
		// The original pages: once paid, pay of the same bolt11 succeeds at
		// once with the stored preimage.
		return []Effect{Reply{To: ev.Reply, Record: c.Record()}}
	}
	if g, ok := c.completeGroup(); ok {
		// Paid in parts by sendpay: HEAD's pay finds the complete group
		// and succeeds with it.
		rec := c.groupRecord(g)
		return []Effect{Reply{To: ev.Reply, Record: &rec}}
	}
	if c.busy() {
		return []Effect{fail(ev.Reply, CodeInProgress, msgInProgress)}
	}
	if now.After(inv.CreatedAt.Add(inv.Expiry)) {
		return []Effect{fail(ev.Reply, CodeInvoiceExpired, "Invoice expired")}
	}
	amount := inv.Amount
	if amount == nil {
		amount = ev.Amount
	}
	start := now
	if !ev.Start.IsZero() && ev.Start.Before(now) {
		start = ev.Start
	}
	c.pay = &payRun{reply: ev.Reply, inv: inv, amount: *amount, label: ev.Label, params: ev.Params, start: start}
	effects := []Effect{c.recordPay(now)}
	if multiPart(ev.Params, *amount) {
		return append(effects, c.startFlow(now)...)
	}
	return append(effects, c.findRoute()...)
}

// recordPay is the pay's row, written before anything else so that a
// restart finds a pay killed before its first attempt and takes it up:
// a fresh pending row without attempts, or the hash's failed row, which
// carries the pay's run from now on as between two attempts.
func (c *Core) recordPay(now time.Time) Effect {
	p := c.pay
	run := &PayRun{Params: p.params, Start: p.start}
	if c.rec == nil {
		p.fresh = true
		c.rec = &Record{Hash: c.hash, Destination: p.inv.Payee, Amount: p.amount, CreatedAt: now, Status: StatusPending,
			Label: p.label, Bolt11: p.inv.Bolt11}
	}
	c.rec.Pay = run
	return PersistOutcome{Record: *c.rec, PaymentOnly: true}
}

func (c *Core) findRoute() []Effect {
	c.phase = phaseRouting
	return []Effect{FindRoute{Params: c.routeParams()}}
}

// findFeeFloor asks for the least fee any route can pay, with the pay's
// exclusions.
func (c *Core) findFeeFloor() []Effect {
	c.phase = phaseRouting
	return []Effect{FindFeeFloor{Params: c.routeParams()}}
}

func (c *Core) routeParams() graph.GetRouteParams {
	p := c.pay
	cltv := p.inv.MinFinalCLTV
	return graph.GetRouteParams{
		ID: p.inv.Payee, AmountMsat: p.amount, RiskFactor: p.params.RiskFactor,
		// Shared, not copied: the pay only appends to its exclusions, and
		// the full slice expression makes a receiver's append copy.
		CLTV: &cltv, Exclude: p.exclude[:len(p.exclude):len(p.exclude)],
	}
}

// tooDear is pay's fee budget (spec 9.2 step 5): a fee over exemptfee and
// over maxfeepercent of the amount.
func (p *payRun) tooDear(fee graph.MilliSat) bool {
	return fee > p.params.ExemptFee && float64(fee)*100/float64(p.amount) > p.params.MaxFeePercent
}

// stepRoute checks a route against pay's limits (spec 9.2 step 5): too
// expensive iff fee > exemptfee and fee% > maxfeepercent, or too slow if
// route[0].delay > maxdelay. Either way the worst channel is excluded and
// the graph asked again; otherwise the attempt starts.
//
// v0.7 goes on until no route is left, which on a large graph can take
// hundreds of searches when no route is within the budget. After the 1st,
// 2nd, 4th, 8th... route over the budget, pay asks for the fee floor
// first: if even that is over the budget, no route the loop could be given
// will do, and pay answers the 206 the loop would end with at once.
func (c *Core) stepRoute(now time.Time, ev RouteFound) []Effect {
	p, r := c.pay, ev.Route
	if len(r) == 0 {
		c.phase = phaseIdle
		return c.endPayBetween(&Error{Code: CodeRouteNotFound, Message: "Could not find a route"})
	}
	fee := r[0].Amount - p.amount
	var exclude *graph.Exclusion
	dear := p.tooDear(fee)
	switch {
	case dear:
		if p.expensive == "" {
			p.expensive = fmt.Sprintf("Route wanted fee of %s", fee)
		}
		exclude = worst(r, func(h graph.Hop) uint64 { return uint64(h.Amount) })
	case r[0].Delay > p.params.MaxDelay:
		if p.expensive == "" {
			p.expensive = fmt.Sprintf("Route wanted delay of %d blocks", r[0].Delay)
		}
		exclude = worst(r, func(h graph.Hop) uint64 { return uint64(h.Delay) })
	}
	if exclude != nil {
		// v0.7 excludes one channel at a time until no route is left,
		// which on a large graph can take tens of seconds; retry_for
		// bounds this loop too.
		if now.After(p.start.Add(p.params.RetryFor)) {
			c.phase = phaseIdle
			return c.endPayBetween(&Error{Code: CodeRouteTooExpensive, Message: p.expensive})
		}
		p.exclude = append(p.exclude, *exclude)
		if dear {
			if p.dear++; p.dear&(p.dear-1) == 0 {
				return c.findFeeFloor()
			}
		}
		return c.findRoute()
	}
	if len(p.attempts) > 0 && now.After(p.start.Add(p.params.RetryFor)) {
		// retry_for ran out while the route was sought: no new attempt.
		c.phase = phaseIdle
		return c.endPayBetween(c.gaveUp())
	}
	p.attempts = append(p.attempts, PayAttempt{Route: r})
	return c.startAttempt(now, r, p.amount, p.label, p.inv.Bolt11, p.inv.Secret)
}

// worst returns the channel direction to exclude for a too expensive (or
// slow) route: route[i-1] for the consecutive pair whose field drops most
// (CLN's find_worst_channel), or the only hop.
func worst(r graph.Route, field func(graph.Hop) uint64) *graph.Exclusion {
	best, drop := 0, uint64(0)
	for i := 1; i < len(r); i++ {
		var d uint64
		if a, b := field(r[i-1]), field(r[i]); a > b {
			d = a - b
		}
		if d > drop || i == 1 {
			best, drop = i-1, d
		}
	}
	x := graph.ExcludeChannel(graph.SCIDDir{SCID: r[best].Channel, Dir: r[best].Direction})
	return &x
}

// stepFeeFloor goes on with v0.7's loop unless the fee floor shows that no
// route can be within the budget: then the loop could only end in 206, and
// pay ends with it now. A floor the graph could not find changes nothing.
func (c *Core) stepFeeFloor(ev FeeFloorFound) []Effect {
	p := c.pay
	if (ev.Err == nil && p.tooDear(ev.Floor)) || errors.Is(ev.Err, graph.ErrNoRoute) {
		c.phase = phaseIdle
		return c.endPayBetween(&Error{Code: CodeRouteTooExpensive, Message: p.expensive})
	}
	return c.findRoute()
}

func (c *Core) stepNoRoute(ev RouteNotFound) []Effect {
	c.phase = phaseIdle
	p := c.pay
	if !errors.Is(ev.Err, graph.ErrNoRoute) {
		var ge *graph.Error
		if errors.As(ev.Err, &ge) {
			return c.endPayBetween(&Error{Code: ge.Code, Message: ge.Message})
		}
		return c.endPayBetween(&Error{Code: -1, Message: ev.Err.Error()})
	}
	switch {
	case p.expensive != "":
		return c.endPayBetween(&Error{Code: CodeRouteTooExpensive, Message: p.expensive})
	case len(p.attempts) > 0:
		return c.endPayBetween(&Error{Code: CodeStoppedRetrying,
			Message: fmt.Sprintf("Ran out of routes to try after %d attempt%s: see paystatus", len(p.attempts), plural(len(p.attempts))),
			Data:    PayFailureData{Attempts: p.attempts}})
	}
	return c.endPayBetween(&Error{Code: CodeRouteNotFound, Message: "Could not find a route"})
}

// payFailed decides after a failed attempt (spec 9.2 step 7): anything but
// 204 ends the pay with that error; a 204 after retry_for gives 210; else the
// erring node (NODE bit) or channel is excluded and the graph asked again.
func (c *Core) payFailed(now time.Time, f Failure) []Effect {
	p := c.pay
	f2 := f
	p.attempts[len(p.attempts)-1].Failure = &f2
	if f.Code != CodeTryOtherRoute || f.Routing == nil {
		return c.endPay(c.failureError())
	}
	if now.After(p.start.Add(p.params.RetryFor)) {
		return c.endPay(c.gaveUp())
	}
	p.exclude = append(p.exclude, exclusion(f.Routing))
	return c.findRoute()
}

// exclusion is what a 204's routing failure keeps out of the pay's later
// routes: the erring node (NODE bit) or channel direction.
func exclusion(r *htlc.RoutingFailure) graph.Exclusion {
	if r.FailCode&lnwire.FlagNode != 0 {
		return graph.ExcludeNode(r.ErringNode)
	}
	return graph.ExcludeChannel(graph.SCIDDir{SCID: r.ErringChannel, Dir: r.ErringDirection})
}

// ResumePay takes up, after a restart, a single-path pay that was between
// two attempts (its last attempt failed and written, the next not yet
// written; the record is failed and still carries the pay's run) or had
// no attempt out at all. attempts are the pay's attempts the ledger
// holds, oldest first: their 204 failures are excluded again, as the pay
// had excluded them, and a 210 lists them. The pay goes on asking for a
// route until its retry_for, counted from its original start, and gives
// up with 210 past it. Nobody waits for the answer (ReplyTo 0); the
// outcome goes to the ledger. The caller must know that no attempt of the
// hash is out.
func (c *Core) ResumePay(now time.Time, inv Invoice, attempts []PayAttempt) ([]Effect, error) {
	if c.rec == nil || c.rec.Pay == nil || c.rec.Status == StatusComplete || c.pay != nil {
		return nil, fmt.Errorf("%w: no pay to resume", ErrUnexpected)
	}
	run := c.rec.Pay
	c.phase, c.route = phaseIdle, nil
	c.pay = &payRun{inv: inv, amount: c.rec.Amount, label: c.rec.Label, params: run.Params, start: run.Start,
		attempts: append([]PayAttempt(nil), attempts...)}
	for _, a := range attempts {
		if f := a.Failure; f != nil && f.Code == CodeTryOtherRoute && f.Routing != nil {
			c.pay.exclude = append(c.pay.exclude, exclusion(f.Routing))
		}
	}
	if now.After(run.Start.Add(run.Params.RetryFor)) {
		return c.endPayBetween(c.gaveUp()), nil
	}
	return c.findRoute(), nil
}

// gaveUp is error 210 once retry_for has run out.
func (c *Core) gaveUp() *Error {
	n := len(c.pay.attempts)
	return &Error{Code: CodeStoppedRetrying, Message: fmt.Sprintf("Gave up after %d attempt%s: see paystatus", n, plural(n)),
		Data: PayFailureData{Attempts: c.pay.attempts}}
}

// endPayBetween ends the pay between two attempts with err: the row the
// last failed attempt left still carries the pay's run (so that a restart
// takes the pay up), and is written again without it before the answer.
func (c *Core) endPayBetween(err *Error) []Effect {
	if c.rec == nil || c.rec.Pay == nil {
		return c.endPay(err)
	}
	if c.rec.Status == StatusPending {
		// The row the pay wrote before its first attempt, which it
		// never made.
		return c.endBeforeAttempt(err)
	}
	c.rec.Pay = nil
	return append([]Effect{PersistOutcome{Record: *c.rec, PaymentOnly: true}}, c.endPay(err)...)
}

// endBeforeAttempt ends with err a pay that made no attempt, whose row
// (written by recordPay) is pending. A caller waiting for a pay that
// found the hash without a row gets err once the row is deleted, as Core
// Lightning's pay leaves no payment then; a pay nobody waits for (taken up
// after a restart) leaves the row failed with err, so that its end shows
// in listsendpays and listpays.
func (c *Core) endBeforeAttempt(err *Error) []Effect {
	if c.pay.fresh && c.pay.reply != 0 {
		c.ending = &ending{reply: c.pay.reply, err: err}
		c.pay = nil
		c.phase = phaseDeleting
		c.deleting = append(c.deleting, nil) // its Deleted is stepDeleted's
		return []Effect{DeleteRecord{Record: *c.rec}}
	}
	return append(c.failRow(err), c.endPay(err)...)
}

// failRow marks the pay's pending row failed with err, without the pay's
// run, and answers the waitsendpay callers.
func (c *Core) failRow(err *Error) []Effect {
	c.rec.Status, c.rec.Pay = StatusFailed, nil
	c.rec.Failure = &Failure{Code: err.Code, Message: err.Message}
	effects := []Effect{PersistOutcome{Record: *c.rec, PaymentOnly: true}}
	werr := c.failureError()
	for _, w := range c.waiters {
		effects = append(effects, Reply{To: w, Err: werr})
	}
	c.waiters = nil
	return effects
}

// endPay answers the pay's caller with err and ends the pay.
func (c *Core) endPay(err *Error) []Effect {
	reply := c.pay.reply
	c.pay = nil
	return []Effect{Reply{To: reply, Err: err}}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
