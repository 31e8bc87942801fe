package payment

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/payengine/payengine/graph"
)

// sendPartBit marks the Part handle of a sendpay part in the events and
// effects the core exchanges with its actor, so that it never meets the
// numbers of pay's own parts (1, 2, ...).
const sendPartBit uint64 = 1 << 63

func isSendPart(handle uint64) bool { return handle&sendPartBit != 0 }

// sendPart is one part sendpay sent with a partid other than 0 (spec
// section 5, HEAD's rules): its own row, as listsendpays shows it (Amount
// is what this part delivers), the total all parts of its group deliver,
// and where it stands.
type sendPart struct {
	handle     uint64
	rec        Record
	total      graph.MilliSat
	route      graph.Route
	secret     *[32]byte
	persisting bool     // its attempt is being written; then in flight while pending
	sender     *ReplyTo // the sendpay waiting for the write
	waiters    []ReplyTo
}

func (p *sendPart) pending() bool { return p.rec.Status == StatusPending }

// PartRow is a sendpay part as the ledger holds it, for RestoreParts: its
// own record (GroupID and PartID set), its group's total and its route.
type PartRow struct {
	Record Record
	Total  graph.MilliSat
	Route  graph.Route
}

// RestoreParts gives a fresh core the sendpay parts the ledger holds for
// its hash, before any event; a pending one has its HTLC in flight from a
// previous run, and its outcome is awaited (Settled or Failed with its
// handle). It returns each row's handle, the Part the core uses in its
// effects and expects in those events.
func (c *Core) RestoreParts(rows []PartRow) []uint64 {
	handles := make([]uint64, len(rows))
	for i, r := range rows {
		p := &sendPart{handle: c.nextHandle(), rec: r.Record, total: r.Total, route: r.Route}
		c.sparts = append(c.sparts, p)
		handles[i] = p.handle
	}
	return handles
}

// sortedParts returns the parts by (groupid, partid): the order in which
// HEAD's check_progress meets the rows of a hash.
func (c *Core) sortedParts() []*sendPart {
	ps := slices.Clone(c.sparts)
	slices.SortFunc(ps, func(a, b *sendPart) int {
		if a.rec.GroupID != b.rec.GroupID {
			return cmp.Compare(a.rec.GroupID, b.rec.GroupID)
		}
		return cmp.Compare(a.rec.PartID, b.rec.PartID)
	})
	return ps
}

func (c *Core) partsPending() bool {
	return slices.ContainsFunc(c.sparts, (*sendPart).pending)
}

func (c *Core) partsComplete() bool {
	_, ok := c.completeGroup()
	return ok
}

// completeGroup returns a group with a complete part, if any.
func (c *Core) completeGroup() (uint64, bool) {
	for _, p := range c.sparts {
		if p.rec.Status == StatusComplete {
			return p.rec.GroupID, true
		}
	}
	return 0, false
}

// partsIdle reports whether no part is pending and nobody waits on one.
func (c *Core) partsIdle() bool {
	for _, p := range c.sparts {
		if p.pending() || len(p.waiters) > 0 {
			return false
		}
	}
	return true
}

// latestGroup is the hash's highest group of parts (0 if none).
func (c *Core) latestGroup() uint64 {
	var g uint64
	for _, p := range c.sparts {
		g = max(g, p.rec.GroupID)
	}
	return g
}

func (c *Core) findPart(group, partid uint64) *sendPart {
	for _, p := range c.sparts {
		if p.rec.GroupID == group && p.rec.PartID == partid {
			return p
		}
	}
	return nil
}

// groupParts returns the records of a group's parts, by partid.
func (c *Core) groupParts(group uint64) []Record {
	var out []Record
	for _, p := range c.sortedParts() {
		if p.rec.GroupID == group {
			out = append(out, p.rec)
		}
	}
	return out
}

// groupRecord is the ledger's row of a group of parts: the total, what its
// parts not failed send, its status by listpays' rule, the first part's
// label and bolt11. The group must have a part.
func (c *Core) groupRecord(group uint64) Record {
	parts := c.groupParts(group)
	s := SumParts(parts)
	first := parts[0]
	r := Record{Hash: c.hash, GroupID: group, Destination: first.Destination, AmountSent: s.AmountSent, CreatedAt: s.CreatedAt,
		CompletedAt: s.CompletedAt, Status: s.Status, Preimage: s.Preimage, Label: first.Label, Bolt11: first.Bolt11, Parts: s.Parts}
	for _, p := range c.sparts {
		if p.rec.GroupID == group {
			r.Amount = p.total // the latest part's, should the total change after parts failed
		}
	}
	return r
}

// PartsSummary is one group of parts as listpays shows it (spec section
// 10, v24.02's rules).
type PartsSummary struct {
	// Status is complete if any part is, else pending if any is, else
	// failed.
	Status Status
	// Amount and AmountSent sum the parts that did not fail.
	Amount, AmountSent graph.MilliSat
	// Parts counts the parts that did not fail (number_of_parts, which
	// listpays shows only above 1).
	Parts int
	// Preimage is a complete part's.
	Preimage *[32]byte
	// CreatedAt is the first part's; CompletedAt the earliest success's
	// (zero if none).
	CreatedAt, CompletedAt time.Time
}

// SumParts sums the rows of one group of parts for listpays.
func SumParts(parts []Record) PartsSummary {
	s := PartsSummary{Status: StatusFailed}
	pending := false
	for i, p := range parts {
		if i == 0 || p.CreatedAt.Before(s.CreatedAt) {
			s.CreatedAt = p.CreatedAt
		}
		switch p.Status {
		case StatusFailed:
			continue
		case StatusComplete:
			s.Status = StatusComplete
			if s.Preimage == nil {
				s.Preimage = p.Preimage
			}
			if s.CompletedAt.IsZero() || p.CompletedAt.Before(s.CompletedAt) {
				s.CompletedAt = p.CompletedAt
			}
		case StatusPending:
			pending = true
		}
		s.Amount += p.Amount
		s.AmountSent += p.AmountSent
		s.Parts++
	}
	if s.Status != StatusComplete && pending {
		s.Status = StatusPending
	}
	return s
}

const msgMonitor = "Monitor status with listpayments or waitsendpay"

// stepSendPart is sendpay with a partid (spec section 5, HEAD's rules,
// from lightningd's check_progress): the part needs the total and the
// payment secret, delivers at most the total, and joins its group unless
// another group is pending, a part already succeeded, the pending parts
// already make the total, or its (groupid, partid) has a row.
func (c *Core) stepSendPart(now time.Time, ev SendPay) []Effect {
	last := ev.Route[len(ev.Route)-1]
	switch {
	case ev.Amount == nil:
		return []Effect{fail(ev.Reply, CodeInvalidParams, "Must specify msatoshi with partid")}
	case ev.Secret == nil:
		return []Effect{fail(ev.Reply, CodeInvalidParams, "partid requires payment_secret")}
	case last.Amount > *ev.Amount:
		return []Effect{fail(ev.Reply, CodeInvalidParams, "msatoshi (%s) less than final (%s)", *ev.Amount, last.Amount)}
	case ev.GroupID != nil && *ev.GroupID == 0:
		// This engine keeps the single-part payment of a hash in group
		// 0, with attempts of its own numbering.
		return []Effect{fail(ev.Reply, CodeInvalidParams, "groupid 0 holds the single-part payment here: give parts a groupid of 1 or more")}
	}
	total, dest := *ev.Amount, last.ID
	group := c.latestGroup() + 1
	if ev.GroupID != nil {
		group = *ev.GroupID
	}
	// The single-part payment is the row (group 0, partid 0).
	haveComplete := false
	switch {
	case c.singleBusy():
		return []Effect{fail(ev.Reply, CodeInProgress, "Payment with groupid=0 still in progress, cannot retry before that completes.")}
	case c.rec != nil && c.rec.Status == StatusComplete:
		haveComplete = true
	}
	var already graph.MilliSat
	for _, p := range c.sortedParts() {
		r := &p.rec
		switch r.Status {
		case StatusComplete:
			haveComplete = true
			if r.PartID != ev.PartID {
				continue
			}
			switch {
			case p.total != total:
				return []Effect{fail(ev.Reply, CodeRHashUsed, "Already succeeded with amount %s (not %s)", p.total, total)}
			case r.Destination != dest:
				return []Effect{fail(ev.Reply, CodeRHashUsed, "Already succeeded to %s", r.Destination)}
			}
			return []Effect{Reply{To: ev.Reply, Record: p.record()}}
		case StatusPending:
			switch {
			case r.GroupID != group:
				return []Effect{fail(ev.Reply, CodeInProgress, "Payment with groupid=%d still in progress, cannot retry before that completes.", r.GroupID)}
			case r.PartID == ev.PartID && p.total != total:
				return []Effect{fail(ev.Reply, CodeRHashUsed, "Already pending with amount %s (not %s)", p.total, total)}
			case r.PartID == ev.PartID && r.Destination != dest:
				return []Effect{fail(ev.Reply, CodeRHashUsed, "Already pending to %s", r.Destination)}
			case r.PartID == ev.PartID:
				return []Effect{Reply{To: ev.Reply, Record: p.record(), Message: msgMonitor}}
			case p.total != total:
				return []Effect{fail(ev.Reply, CodeInvalidParams, "msatoshi was previously %s, now %s", p.total, total)}
			}
			already += r.Amount
		}
		if r.PartID == ev.PartID && r.GroupID == group {
			return []Effect{fail(ev.Reply, CodeRHashUsed, "There already is a payment with payment_hash=%x, groupid=%d, partid=%d. "+
				"Either change the partid, or wait for the payment to complete and start a new group.", c.hash, group, ev.PartID)}
		}
	}
	if haveComplete {
		return []Effect{fail(ev.Reply, CodeRHashUsed, "Already succeeded other parts")}
	}
	if already >= total {
		return []Effect{fail(ev.Reply, CodeInProgress, "Already have %s of %s payments in progress", already, total)}
	}
	if f := ev.NoPeer; f != nil {
		return []Effect{Reply{To: ev.Reply, Err: &Error{Code: f.Code, Message: f.Message, Data: FailureData{Routing: f.Routing}}}}
	}
	label, bolt11 := ev.Label, ev.Bolt11
	if rows := c.groupParts(group); len(rows) > 0 {
		// The group's row keeps its first part's label and bolt11,
		// which its parts show.
		label, bolt11 = rows[0].Label, rows[0].Bolt11
	}
	sender := ev.Reply
	p := &sendPart{
		handle: c.nextHandle(), total: total, route: ev.Route, secret: ev.Secret, persisting: true, sender: &sender,
		rec: Record{Hash: c.hash, GroupID: group, PartID: ev.PartID, Destination: dest, Amount: last.Amount, AmountSent: ev.Route[0].Amount,
			CreatedAt: now, Status: StatusPending, Label: label, Bolt11: bolt11},
	}
	c.sparts = append(c.sparts, p)
	return []Effect{PersistAttempt{Record: c.groupRecord(group), Route: p.route, Secret: p.secret, Total: total, Part: p.handle, PartRecord: p.record()}}
}

func (p *sendPart) record() *Record {
	r := p.rec
	return &r
}

// nextHandle gives a new sendpay part its handle.
func (c *Core) nextHandle() uint64 {
	c.partSeq++
	return sendPartBit | c.partSeq
}

func (c *Core) sendPart(handle uint64) *sendPart {
	for _, p := range c.sparts {
		if p.handle == handle {
			return p
		}
	}
	return nil
}

// stepSendPartPersisted sends the part's HTLC once its row is durable, and
// answers its sendpay.
func (c *Core) stepSendPartPersisted(ev Persisted) ([]Effect, error) {
	p := c.sendPart(ev.Part)
	if p == nil || !p.persisting {
		return nil, fmt.Errorf("%w: sendpay part %d persisted", ErrUnexpected, ev.Part&^sendPartBit)
	}
	p.persisting = false
	effects := []Effect{SendHTLC{Hash: c.hash, Route: p.route, Secret: p.secret, Total: p.total, Part: p.handle}}
	if p.sender != nil {
		effects = append(effects, Reply{To: *p.sender, Record: p.record(), Message: msgMonitor})
		p.sender = nil
	}
	return effects, nil
}

func (c *Core) inFlightPart(handle uint64, what string) (*sendPart, error) {
	p := c.sendPart(handle)
	if p == nil || p.persisting || !p.pending() {
		return nil, fmt.Errorf("%w: sendpay part %d %s", ErrUnexpected, handle&^sendPartBit, what)
	}
	return p, nil
}

func (c *Core) stepSendPartSettled(now time.Time, ev Settled) ([]Effect, error) {
	p, err := c.inFlightPart(ev.Part, "settled")
	if err != nil {
		return nil, err
	}
	pre := ev.Preimage
	p.rec.Status, p.rec.Preimage, p.rec.CompletedAt = StatusComplete, &pre, now
	effects := []Effect{PersistOutcome{Record: c.groupRecord(p.rec.GroupID), Part: p.handle, PartRecord: p.record()}}
	for _, w := range p.waiters {
		effects = append(effects, Reply{To: w, Record: p.record()})
	}
	p.waiters = nil
	return effects, nil
}

func (c *Core) stepSendPartFailed(now time.Time, ev Failed) ([]Effect, error) {
	p, err := c.inFlightPart(ev.Part, "failed")
	if err != nil {
		return nil, err
	}
	f := ev.Failure
	p.rec.Status, p.rec.Failure, p.rec.CompletedAt = StatusFailed, &f, now
	effects := []Effect{PersistOutcome{Record: c.groupRecord(p.rec.GroupID), Part: p.handle, PartRecord: p.record()}}
	switch r := f.Routing; {
	case r != nil && f.Code == CodeTryOtherRoute && r.ErringIndex > 0 && r.ErringIndex < len(p.route):
		// As for a single attempt, a node before the destination
		// failed; the destination's own answer (mpp_timeout among
		// them) blames no channel.
		effects = append(effects, ReportFailure{Failure: f})
	case f.Code == CodeUnparseableOnion:
		effects = append(effects, ReportFailure{Failure: f, Route: p.route})
	}
	e := recordError(&p.rec)
	for _, w := range p.waiters {
		effects = append(effects, Reply{To: w, Err: e})
	}
	p.waiters = nil
	return effects, nil
}

// stepWaitPart is waitsendpay for a part (HEAD): the group defaults to the
// hash's latest group of parts.
func (c *Core) stepWaitPart(ev WaitSendPay) []Effect {
	group := c.latestGroup()
	if ev.GroupID != nil {
		group = *ev.GroupID
	}
	p := c.findPart(group, ev.PartID)
	switch {
	case p == nil:
		return []Effect{fail(ev.Reply, CodeNoSuchPayment, "Never attempted payment part %d for '%x'", ev.PartID, c.hash)}
	case p.rec.Status == StatusComplete:
		return []Effect{Reply{To: ev.Reply, Record: p.record()}}
	case p.rec.Status == StatusFailed:
		return []Effect{Reply{To: ev.Reply, Err: recordError(&p.rec)}}
	case ev.Timeout != nil && *ev.Timeout <= 0:
		return []Effect{fail(ev.Reply, CodeInProgress, "Timed out while waiting")}
	}
	p.waiters = append(p.waiters, ev.Reply)
	if ev.Timeout != nil {
		return []Effect{StartTimer{Reply: ev.Reply, After: *ev.Timeout}}
	}
	return nil
}

// partTimeout answers a waiter of a part whose timer fired.
func (c *Core) partTimeout(ev WaitTimeout) []Effect {
	for _, p := range c.sparts {
		if i := slices.Index(p.waiters, ev.Reply); i >= 0 {
			p.waiters = slices.Delete(p.waiters, i, i+1)
			return []Effect{fail(ev.Reply, CodeInProgress, "Timed out while waiting")}
		}
	}
	return nil
}
