package actors

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
)

// rows reads the hash's payment rows in one scan: the single-part row
// (group 0, nil if none) and sendpay's groups with their parts.
func (e *Engine) rows(hash [32]byte) (*payment.Record, []messages.Payment, []messages.Attempt, error) {
	ps, err := e.opts.Ledger.Payments(hash)
	if err != nil && !errors.Is(err, persistence.ErrNotFound) {
		return nil, nil, nil, fmt.Errorf("actors: read groups of %x: %w", hash, err)
	}
	var rec *payment.Record
	var groups []messages.Payment
	var parts []messages.Attempt
	for i := range ps {
		p := &ps[i]
		if p.GroupID == 0 {
			rec = fromPayment(p)
			continue
		}
		atts, err := e.opts.Ledger.Attempts(hash, p.GroupID)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("actors: read parts of %x group %d: %w", hash, p.GroupID, err)
		}
		groups = append(groups, *p)
		parts = append(parts, atts...)
	}
	return rec, groups, parts, nil
}

// groupOf finds an attempt's group among groups.
func groupOf(groups []messages.Payment, id uint64) *messages.Payment {
	for i := range groups {
		if groups[i].GroupID == id {
			return &groups[i]
		}
	}
	return &messages.Payment{}
}

// restoreSendParts gives the core the sendpay parts the ledger holds;
// each still pending is kept, under its handle, to be asked after when
// the actor starts.
func (a *paymentActor) restoreSendParts(st PaymentState) {
	if len(st.SendParts) == 0 {
		return
	}
	rows := make([]payment.PartRow, len(st.SendParts))
	for i := range st.SendParts {
		att := &st.SendParts[i]
		g := groupOf(st.Groups, att.GroupID)
		rows[i] = payment.PartRow{Record: fromPart(att, g), Route: att.Route}
		if g.AmountMsat != nil {
			rows[i].Total = *g.AmountMsat
		}
	}
	handles := a.core.RestoreParts(rows)
	for i := range st.SendParts {
		att := &st.SendParts[i]
		if att.Status != messages.AttemptPending || len(att.Route) == 0 {
			continue
		}
		sent := &sentHTLC{id: att.LinkID, part: att.PartID, route: att.Route}
		if err := sent.circuit.UnmarshalBinary(att.Circuit); err != nil {
			sent.unreadable = true
		}
		if a.flow == nil {
			a.flow = map[uint64]*sentHTLC{}
		}
		a.flow[handles[i]] = sent
		a.reattachParts = append(a.reattachParts, handles[i])
	}
}

// reattachSendParts asks the first hop's peer what became of each sendpay
// part a previous run sent (restart recovery), holding its route again.
func (a *paymentActor) reattachSendParts(ctx actor.Context) {
	for _, h := range a.reattachParts {
		sent := a.flow[h]
		peer := a.deps.Peer(sent.route[0].Channel)
		if peer == nil {
			ctx.Logger().Error("payment: sendpay part in flight on a channel we no longer have", "hash", fmt.Sprintf("%x", a.hash))
			continue
		}
		ctx.Send(a.deps.Graph, &messages.Reserve{Route: sent.route})
		sent.reserved = true
		ctx.Request(peer, &messages.ReattachHTLC{ID: sent.id, Amount: sent.route[0].Amount, Hash: a.hash, Route: sent.route})
	}
	a.reattachParts = nil
}

// deleteRows is delpay's deletion as the ledger takes it.
func deleteRows(e payment.DeleteRows) *messages.DeleteRows {
	d := &messages.DeleteRows{}
	if e.Single {
		d.Groups = []uint64{0}
	}
	for _, r := range e.Parts {
		d.Parts = append(d.Parts, messages.PartKey{GroupID: r.GroupID, PartID: r.PartID})
	}
	for i := range e.Groups {
		d.Rewrite = append(d.Rewrite, toPayment(&e.Groups[i]))
	}
	return d
}
