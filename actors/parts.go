package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
)

// planAgain is a WaitToPlan's timer firing.
type planAgain struct{}

// flowPlanned hands the planner's answer to the core. The plan's parts are
// reserved already (the graph actor reserved them before answering); a
// core that takes no plan now gives them back.
func (a *paymentActor) flowPlanned(ctx actor.Context, m *messages.FlowPlanned) {
	effects, err := a.core.Step(a.deps.Clock(), payment.FlowFound{Flow: m.Flow, Err: m.Err})
	if err != nil {
		ctx.Logger().Error("payment: plan refused", "hash", fmt.Sprintf("%x", a.hash), "err", err)
		if m.Flow != nil {
			for _, p := range m.Flow.Parts {
				ctx.Send(a.deps.Graph, &messages.Unreserve{Route: p.Route})
			}
		}
		return
	}
	a.queue = append(a.queue, effects...)
	a.run(ctx)
}

// persistPartAttempt writes one part of a pay in parts, or a sendpay
// part, before its HTLC leaves, as PersistAttempt does for a single
// attempt: the part's own amounts in its attempt row, the payment's (or
// the group's) in its row. A pay's part is numbered by the actor and its
// route is reserved from the plan on; a sendpay part keeps the caller's
// partid, and its route is reserved when it leaves.
func (a *paymentActor) persistPartAttempt(ctx actor.Context, e payment.PersistAttempt) {
	a.deps.Metrics.Attempt()
	var sent *sentHTLC
	own := e.Record
	if e.PartRecord != nil {
		own = *e.PartRecord
		sent = &sentHTLC{id: a.deps.NextID(), part: own.PartID, route: e.Route}
	} else {
		a.parts++
		sent = &sentHTLC{id: a.deps.NextID(), part: a.parts, route: e.Route, reserved: true}
		own.Amount, own.AmountSent = e.Route[len(e.Route)-1].Amount, e.Route[0].Amount
	}
	if a.flow == nil {
		a.flow = map[uint64]*sentHTLC{}
	}
	a.flow[e.Part] = sent
	att := toAttempt(&own, e.Route, sent.id, sent.part)
	if a.deps.NoOnion {
		// The link builds the onion and reads the failure.
		sent.secret, sent.total, sent.height = e.Secret, e.Total, a.deps.Height()
		a.writing, a.persist, a.persistPart = true, true, e.Part
		ctx.Request(a.deps.Ledger, &messages.WriteLedger{Payments: []messages.Payment{toPayment(&e.Record)}, Attempts: []messages.Attempt{att}})
		return
	}
	o, err := htlc.BuildOnion(htlc.OnionParams{Route: e.Route, PaymentHash: a.hash, PaymentSecret: e.Secret,
		TotalMsat: e.Total, BlockHeight: a.deps.Height()}, a.deps.Rand)
	if err == nil {
		sent.onion, sent.circuit = o, o.Circuit
		att.Circuit, _ = o.Circuit.MarshalBinary()
	} else {
		ctx.Logger().Error("payment: onion", "hash", fmt.Sprintf("%x", a.hash), "err", err)
	}
	a.writing, a.persist, a.persistPart = true, true, e.Part
	ctx.Request(a.deps.Ledger, &messages.WriteLedger{Payments: []messages.Payment{toPayment(&e.Record)}, Attempts: []messages.Attempt{att}})
}

// persistPartOutcome writes a part's outcome in its attempt row with the
// payment's row, or the payment's row alone when a pay in parts ends.
func (a *paymentActor) persistPartOutcome(ctx actor.Context, e payment.PersistOutcome) {
	w := &messages.WriteLedger{Payments: []messages.Payment{toPayment(&e.Record)}}
	if sent := a.flow[e.Part]; sent != nil && e.PartRecord != nil {
		w.Attempts = []messages.Attempt{toAttempt(e.PartRecord, sent.route, sent.id, sent.part)}
	}
	if e.PaymentOnly {
		a.flow = nil
	}
	if e.PartRecord != nil && e.PartRecord.PartID != 0 {
		delete(a.flow, e.Part) // a sendpay part's outcome is its last word
	}
	a.writing = true
	ctx.Request(a.deps.Ledger, w)
}

// sendPart offers one part's HTLC to its first hop's peer actor.
func (a *paymentActor) sendPart(ctx actor.Context, e payment.SendHTLC) {
	sent := a.flow[e.Part]
	if sent == nil {
		return
	}
	peer := a.deps.Peer(e.Route[0].Channel)
	if peer != nil && !sent.reserved {
		// A sendpay part is held from now until its outcome.
		ctx.Send(a.deps.Graph, &messages.Reserve{Route: e.Route})
		sent.reserved = true
	}
	if peer != nil && a.deps.NoOnion {
		expiry, err := htlc.AbsoluteCLTV(sent.height, sent.route[0].Delay)
		if err == nil {
			ctx.Request(peer, &messages.OfferHTLC{ID: sent.id, Amount: sent.route[0].Amount, Expiry: expiry, PaymentHash: e.Hash,
				Route: sent.route, BlockHeight: sent.height, Secret: sent.secret, Total: sent.total})
			return
		}
		f, _ := htlc.LocalFailure(a.deps.Self, e.Route, lnwire.CodeTemporaryNodeFailure, err.Error())
		a.release(ctx, sent)
		a.failPart(ctx, f, sent, e.Part)
		return
	}
	if peer == nil || sent.onion == nil {
		var f *htlc.Failure
		if peer == nil {
			f, _ = htlc.NoFirstPeerFailure(a.deps.Self, e.Route)
		} else {
			f, _ = htlc.LocalFailure(a.deps.Self, e.Route, lnwire.CodeTemporaryNodeFailure, "could not build the onion")
		}
		a.release(ctx, sent)
		a.failPart(ctx, f, sent, e.Part)
		return
	}
	o := sent.onion
	ctx.Request(peer, &messages.OfferHTLC{ID: sent.id, Amount: o.Amount, Expiry: o.Expiry, PaymentHash: e.Hash, Onion: o.Packet[:]})
	sent.onion = nil
}

// resumeParts takes up a pay in parts after a restart: each part still
// out is asked after at its first hop's peer (and reserved again), and the
// core goes on from there.
func (a *paymentActor) resumeParts(ctx actor.Context, st PaymentState) {
	parts := make([]payment.ResumedPart, len(st.Resumed))
	a.flow = map[uint64]*sentHTLC{}
	for i := range st.Resumed {
		att := &st.Resumed[i]
		parts[i] = payment.ResumedPart{Route: att.Route, Settled: att.Status == messages.AttemptSettled, Preimage: att.Preimage}
		if att.Status != messages.AttemptPending {
			continue
		}
		sent := &sentHTLC{id: att.LinkID, part: att.PartID, route: att.Route}
		if err := sent.circuit.UnmarshalBinary(att.Circuit); err != nil {
			sent.unreadable = true
		}
		a.flow[uint64(i)+1] = sent
		if peer := a.deps.Peer(att.Route[0].Channel); peer != nil {
			ctx.Send(a.deps.Graph, &messages.Reserve{Route: att.Route})
			sent.reserved = true
			ctx.Request(peer, &messages.ReattachHTLC{ID: sent.id, Amount: att.Route[0].Amount, Hash: a.hash, Route: att.Route})
		} else {
			ctx.Logger().Error("payment: part in flight on a channel we no longer have", "hash", fmt.Sprintf("%x", a.hash))
		}
	}
	effects, err := a.core.ResumeParts(a.deps.Clock(), *st.Resume, parts)
	if err != nil {
		ctx.Logger().Error("payment: resume in parts", "hash", fmt.Sprintf("%x", a.hash), "err", err)
		return
	}
	a.queue = append(a.queue, effects...)
	a.run(ctx)
}

// resumeInParts says whether a pending pay found at a start is taken up in
// parts: one of SinglePathMax or more, whose maxparts allowed parts (or
// was not recorded: a record of before the ledger kept it), with no part
// out (killed between rounds), several, or one that delivers less than
// the amount. A single attempt of the whole amount resumes as v0.7's pay
// does.
func resumeInParts(rec *payment.Record, pending []messages.Attempt) bool {
	if rec.Pay == nil || rec.Status != payment.StatusPending || rec.Amount < payment.SinglePathMax || rec.Pay.Params.MaxParts == 1 {
		return false
	}
	return len(pending) != 1 || pending[0].AmountMsat < rec.Amount
}

// betweenRoundsWindow is how far back a start looks for pays in parts
// killed between rounds (no part out, so not in the pending index).
const betweenRoundsWindow = 24 * time.Hour

// betweenRounds returns the hashes of every pay made in the last
// betweenRoundsWindow whose row still carries its run (pending, or failed
// between two attempts): a pay in parts killed between rounds, or a
// single-path pay killed between attempts, which its actor takes up (or
// ends, past retry_for) once recovery wakes it. A row with an attempt out
// has its actor running already, and waking it again changes nothing.
func (e *Engine) betweenRounds() ([][32]byte, error) {
	from := e.opts.Clock().Add(-betweenRoundsWindow)
	if from.Unix() < 0 {
		from = time.Unix(0, 0)
	}
	rows, err := e.opts.Ledger.ListByCreated(persistence.CursorAt(uint64(from.Unix()), [32]byte{}, 0), 0)
	if err != nil {
		return nil, fmt.Errorf("actors: recovery: %w", err)
	}
	var out [][32]byte
	for i := range rows {
		if p := &rows[i]; p.Pay != nil && p.Status != messages.PaymentComplete {
			out = append(out, p.PaymentHash)
		}
	}
	return out, nil
}

// wakeBetweenRounds spawns, while the start's recovery is under way, the
// actor of a pay that a stop may have left between rounds (its row
// failed, or pending, and carrying its run, made in the window recovery
// looks at), so that it takes the pay up
// before a caller is told where it stands: the answer is then the one it
// would be once recovery got there.
func (e *Engine) wakeBetweenRounds(r *payment.Record) {
	if r == nil || r.Pay == nil || r.Status == payment.StatusComplete || !e.recovering() ||
		r.CreatedAt.Unix() < e.opts.Clock().Add(-betweenRoundsWindow).Unix() {
		return
	}
	if _, err := e.wake(r.Hash); err != nil {
		e.logger().Warn("actors: waking a pay between rounds", "err", err)
	}
}
