package actors

import (
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
)

// toPayment is the ledger's form of a payment record: group 0 is the
// single-part payment of v0.7 (a new attempt after a failure replaces the
// row); a group of sendpay parts has its own row, under its groupid.
func toPayment(r *payment.Record) messages.Payment {
	amt := r.Amount
	p := messages.Payment{
		PaymentHash: r.Hash, GroupID: r.GroupID, Destination: r.Destination, AmountMsat: &amt, AmountSentMsat: r.AmountSent,
		CreatedAt: uint64(r.CreatedAt.Unix()), Status: messages.PaymentStatus(r.Status), Preimage: r.Preimage,
		Label: r.Label, Bolt11: r.Bolt11, Failure: toFailure(r.Failure),
	}
	if !r.CompletedAt.IsZero() {
		t := uint64(r.CompletedAt.Unix())
		p.CompletedAt = &t
	}
	// The pay's run stays in the row while the pay goes on: also when the
	// row says failed between two attempts, so that a restart takes the
	// pay up there. maxparts 0 and 1 both mean one path, and 0 in the
	// ledger means not recorded: 1 is written.
	if run := r.Pay; run != nil && r.Status != payment.StatusComplete {
		p.Pay = &messages.PayRun{StartedAt: uint64(run.Start.UnixNano()), RetryFor: uint64(run.Params.RetryFor),
			RiskFactor: run.Params.RiskFactor, MaxFeePercent: run.Params.MaxFeePercent, ExemptFee: run.Params.ExemptFee,
			MaxDelay: run.Params.MaxDelay, MaxParts: uint32(max(run.Params.MaxParts, 1))}
	}
	return p
}

// toAttempt is the ledger's form of the record's attempt over route.
func toAttempt(r *payment.Record, route graph.Route, linkID, part uint64) messages.Attempt {
	a := messages.Attempt{
		PaymentHash: r.Hash, GroupID: r.GroupID, PartID: part, Route: route, AmountMsat: r.Amount, AmountSentMsat: r.AmountSent,
		LinkID: linkID, Preimage: r.Preimage, Failure: toFailure(r.Failure), CreatedAt: uint64(r.CreatedAt.Unix()),
	}
	if len(route) > 0 {
		a.FirstHop = route[0].Channel
	}
	switch r.Status {
	case payment.StatusPending:
		a.Status = messages.AttemptPending
	case payment.StatusComplete:
		a.Status = messages.AttemptSettled
	default:
		a.Status = messages.AttemptFailed
	}
	if !r.CompletedAt.IsZero() {
		t := uint64(r.CompletedAt.Unix())
		a.ResolvedAt = &t
	}
	return a
}

func toFailure(f *payment.Failure) *messages.Failure {
	if f == nil {
		return nil
	}
	out := &messages.Failure{Code: int32(f.Code), Message: f.Message, ErrorOnion: f.OnionReply}
	if r := f.Routing; r != nil {
		out.Routing = routingOf(r)
	}
	return out
}

// routingOf is the ledger's form of a routing failure object: every field,
// so that fromRouting gives back the same object and a reloaded answer is
// the live one.
func routingOf(r *htlc.RoutingFailure) *messages.RoutingFailure {
	return &messages.RoutingFailure{
		ErringIndex: uint32(r.ErringIndex), OriginIndex: int32(r.OriginIndex), ErringNode: r.ErringNode,
		Destination: r.Destination, ErringChannel: r.ErringChannel, ErringDirection: r.ErringDirection,
		FailCode: uint16(r.FailCode), ChannelUpdate: r.ChannelUpdate, RawMessage: r.RawMessage,
	}
}

// fromRouting is routingOf's inverse.
func fromRouting(r *messages.RoutingFailure) *htlc.RoutingFailure {
	return &htlc.RoutingFailure{
		ErringIndex: int(r.ErringIndex), OriginIndex: int(r.OriginIndex), ErringNode: r.ErringNode,
		Destination: r.Destination, ErringChannel: r.ErringChannel, ErringDirection: r.ErringDirection,
		FailCode: lnwire.FailCode(r.FailCode), ChannelUpdate: r.ChannelUpdate, RawMessage: r.RawMessage,
	}
}

// fromFailure is toFailure's inverse.
func fromFailure(f *messages.Failure) *payment.Failure {
	if f == nil {
		return nil
	}
	out := &payment.Failure{Code: int(f.Code), Message: f.Message, OnionReply: f.ErrorOnion}
	if f.Routing != nil {
		out.Routing = fromRouting(f.Routing)
	}
	return out
}

// fromPayment is the core's record of a ledger payment.
func fromPayment(p *messages.Payment) *payment.Record {
	r := &payment.Record{
		Hash: p.PaymentHash, GroupID: p.GroupID, Destination: p.Destination, AmountSent: p.AmountSentMsat,
		CreatedAt: time.Unix(int64(p.CreatedAt), 0), Status: payment.Status(p.Status), Preimage: p.Preimage,
		Label: p.Label, Bolt11: p.Bolt11,
	}
	if p.AmountMsat != nil {
		r.Amount = *p.AmountMsat
	}
	if p.CompletedAt != nil {
		r.CompletedAt = time.Unix(int64(*p.CompletedAt), 0)
	}
	if run := p.Pay; run != nil {
		r.Pay = &payment.PayRun{Start: time.Unix(0, int64(run.StartedAt)), Params: payment.PayParams{
			RiskFactor: run.RiskFactor, MaxFeePercent: run.MaxFeePercent, ExemptFee: run.ExemptFee,
			RetryFor: time.Duration(run.RetryFor), MaxDelay: run.MaxDelay, MaxParts: int(run.MaxParts)}}
	}
	r.Failure = fromFailure(p.Failure)
	return r
}

// fromPart is the record of a sendpay part (an attempt of a group 1 and
// up) as listsendpays shows it and its restarted actor holds it: the
// part's own amounts and outcome, under its group's label and bolt11.
func fromPart(a *messages.Attempt, group *messages.Payment) payment.Record {
	r := payment.Record{
		Hash: a.PaymentHash, GroupID: a.GroupID, PartID: a.PartID, Amount: a.AmountMsat, AmountSent: a.AmountSentMsat,
		CreatedAt: time.Unix(int64(a.CreatedAt), 0), Preimage: a.Preimage, Failure: fromFailure(a.Failure),
		Label: group.Label, Bolt11: group.Bolt11,
	}
	if len(a.Route) > 0 {
		r.Destination = a.Route[len(a.Route)-1].ID
	}
	if a.ResolvedAt != nil {
		r.CompletedAt = time.Unix(int64(*a.ResolvedAt), 0)
	}
	switch a.Status {
	case messages.AttemptSettled:
		r.Status = payment.StatusComplete
	case messages.AttemptFailed:
		r.Status = payment.StatusFailed
	default:
		r.Status = payment.StatusPending
	}
	return r
}
