package actors

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
)

// isPaying asks a payment actor whether a pay is still working on its hash;
// it answers a bool.
type isPaying struct{ reply chan<- bool }

// ListSendPays lists payment records (spec section 7): all of them in the
// order they were created, or those of one hash, named directly or by a
// bolt11. Giving both, or a bolt11 that does not decode, is -32602. A
// group of sendpay parts gives one record per part, by partid.
func (e *Engine) ListSendPays(bolt11 string, hash *[32]byte) ([]payment.Record, error) {
	ps, err := e.listRows(bolt11, hash)
	if err != nil {
		return nil, err
	}
	var out []payment.Record
	for i := range ps {
		recs, err := e.rowsOf(&ps[i])
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// rowsOf is a ledger payment as listsendpays rows: its parts, each with
// its partid, for a group of sendpay parts or a pay sent in parts (as
// Core Lightning lists every part its pay sends); else itself, the one
// row v0.7 keeps for a hash.
func (e *Engine) rowsOf(p *messages.Payment) ([]payment.Record, error) {
	whole := func() ([]payment.Record, error) { return []payment.Record{*fromPayment(p)}, nil }
	if p.GroupID == 0 && (p.AmountMsat == nil || *p.AmountMsat < payment.SinglePathMax) {
		// Only a payment this large can have been sent in parts.
		return whole()
	}
	atts, err := e.opts.Ledger.Attempts(p.PaymentHash, p.GroupID)
	if err != nil {
		return nil, fmt.Errorf("actors: listsendpays: parts of %x group %d: %w", p.PaymentHash, p.GroupID, err)
	}
	if p.GroupID == 0 && !slices.ContainsFunc(atts, func(a messages.Attempt) bool { return a.AmountMsat < *p.AmountMsat }) {
		// Every attempt carried the whole amount: one path at a time.
		return whole()
	}
	out := make([]payment.Record, len(atts))
	for i := range atts {
		out[i] = fromPart(&atts[i], p)
	}
	return out, nil
}

// listRows reads the ledger's payments for listsendpays and listpays.
func (e *Engine) listRows(bolt11 string, hash *[32]byte) ([]messages.Payment, error) {
	if bolt11 != "" && hash != nil {
		return nil, &payment.Error{Code: payment.CodeInvalidParams, Message: "Can only specify one of {bolt11} or {payment_hash}"}
	}
	if bolt11 != "" {
		inv, err := htlc.Decode(bolt11, htlc.DecodeOptions{Network: e.opts.Network})
		if err != nil {
			return nil, &payment.Error{Code: payment.CodeInvalidParams, Message: invalidBolt11(err)}
		}
		hash = &inv.PaymentHash
	}
	if hash != nil {
		ps, err := e.opts.Ledger.Payments(*hash)
		if err != nil && !errors.Is(err, persistence.ErrNotFound) {
			return nil, fmt.Errorf("actors: listsendpays: %w", err)
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
		return ps, nil
	}
	ps, err := e.opts.Ledger.ListByCreated(persistence.Cursor{}, 0)
	if err != nil {
		return nil, fmt.Errorf("actors: listsendpays: %w", err)
	}
	// Core Lightning lists in insertion order: the ledger's row ids.
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	return ps, nil
}

// Pay is one row of listpays (spec section 10, v0.7): by bolt11 when the
// payment has one, else by hash, destination and amount.
type Pay struct {
	Bolt11      string
	Hash        [32]byte
	Destination graph.NodeID
	Amount      graph.MilliSat
	AmountSent  graph.MilliSat
	Status      payment.Status
	Preimage    *[32]byte
	Label       string
	CreatedAt   time.Time
	// Parts is how many parts (attempts not failed) the payment has when
	// it was paid in parts; 0 or 1 otherwise (listpays' number_of_parts).
	Parts int
	// GroupID is the payment's group: 0, or a group of sendpay parts.
	GroupID uint64
}

// ListPays lists pays (spec section 10, v0.7.x): one row per payment, all
// or those of one bolt11 or payment hash (not both: -32602). A payment whose
// last attempt failed shows as pending while its pay is still retrying.
func (e *Engine) ListPays(bolt11 string, hash *[32]byte) ([]Pay, error) {
	rows, err := e.listRows(bolt11, hash)
	if err != nil {
		return nil, err
	}
	out := make([]Pay, 0, len(rows))
	for i := range rows {
		if rows[i].GroupID != 0 {
			// A group of sendpay parts: summed as v24.02 does.
			parts, err := e.rowsOf(&rows[i])
			if err != nil {
				return nil, err
			}
			s := payment.SumParts(parts)
			r := fromPayment(&rows[i])
			out = append(out, Pay{Bolt11: r.Bolt11, Hash: r.Hash, Destination: r.Destination, Amount: s.Amount, AmountSent: s.AmountSent,
				Status: s.Status, Preimage: s.Preimage, Label: r.Label, CreatedAt: s.CreatedAt, Parts: s.Parts, GroupID: r.GroupID})
			continue
		}
		r := fromPayment(&rows[i])
		paying := false
		if r.Status == payment.StatusFailed {
			e.wakeBetweenRounds(r)
			if paying = e.paying(r.Hash); !paying {
				// The row was read before the question: a pay that was
				// between attempts then may have ended since, and its
				// final row is durable now.
				now, err := e.record(r.Hash)
				if err != nil {
					return nil, err
				}
				if now != nil {
					r = now
				}
			}
		}
		p := Pay{Bolt11: r.Bolt11, Hash: r.Hash, Destination: r.Destination, Amount: r.Amount, AmountSent: r.AmountSent,
			Status: r.Status, Preimage: r.Preimage, Label: r.Label, CreatedAt: r.CreatedAt}
		if paying {
			p.Status = payment.StatusPending
		}
		if r.Amount >= payment.SinglePathMax && p.Status != payment.StatusFailed {
			// Only a payment this large can have been sent in parts.
			if p.Parts, err = e.liveParts(r.Hash); err != nil {
				return nil, err
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// paying asks the hash's payment actor, if it runs, whether a pay is still
// at work.
func (e *Engine) paying(hash [32]byte) bool {
	e.mu.Lock()
	l, running := e.live[hash]
	if running {
		l.calls++
	}
	e.mu.Unlock()
	if !running {
		return false
	}
	defer e.release(hash)
	reply := make(chan bool, 1)
	e.sys.Root.Send(l.pid, isPaying{reply: reply})
	select {
	case b := <-reply:
		return b
	case <-e.stopped:
		return false
	}
}

// liveParts counts the attempts of hash that did not fail: the parts a
// payment in parts is made of.
func (e *Engine) liveParts(hash [32]byte) (int, error) {
	atts, err := e.opts.Ledger.Attempts(hash, 0)
	if err != nil {
		return 0, fmt.Errorf("actors: listpays: %w", err)
	}
	n := 0
	for i := range atts {
		if atts[i].Status != messages.AttemptFailed {
			n++
		}
	}
	return n, nil

}

// PayStatus is one payment as paystatus shows it: its record (bolt11,
// amount, destination, label) and every attempt the ledger keeps, in
// order.
type PayStatus struct {
	Record   payment.Record
	ID       uint64 // the ledger's row id
	Attempts []PayAttempt
}

// PayAttempt is one HTLC attempt of a payment, from the ledger.
type PayAttempt struct {
	// Strategy says why the attempt was made, as v0.7's pay notes it:
	// "Initial attempt" for the first; after a 204 the exclusion pay's
	// rule took ("Excluded node X" for the NODE bit, else "Excluded
	// channel SCID/DIR"); empty when no rule says (a sendpay after a
	// failure that ended a pay).
	Strategy string
	Route    graph.Route
	Start    time.Time
	End      time.Time // zero while in flight
	Pending  bool
	Preimage *[32]byte        // set when it settled
	Failure  *payment.Failure // set when it failed
}

// PayStatus lists the payments that carry a bolt11 (all, or those of one
// bolt11; a bolt11 that does not decode is -32602), with their attempts,
// for Core Lightning's paystatus.
func (e *Engine) PayStatus(bolt11 string) ([]PayStatus, error) {
	var rows []messages.Payment
	if bolt11 != "" {
		inv, err := htlc.Decode(bolt11, htlc.DecodeOptions{Network: e.opts.Network})
		if err != nil {
			return nil, &payment.Error{Code: payment.CodeInvalidParams, Message: invalidBolt11(err)}
		}
		ps, err := e.opts.Ledger.Payments(inv.PaymentHash)
		if err != nil {
			return nil, fmt.Errorf("actors: paystatus: %w", err)
		}
		for _, p := range ps {
			if p.Bolt11 == bolt11 {
				rows = append(rows, p)
			}
		}
	} else {
		ps, err := e.opts.Ledger.ListByCreated(persistence.Cursor{}, 0)
		if err != nil {
			return nil, fmt.Errorf("actors: paystatus: %w", err)
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
		for _, p := range ps {
			if p.Bolt11 != "" {
				rows = append(rows, p)
			}
		}
	}
	out := make([]PayStatus, 0, len(rows))
	for i := range rows {
		atts, err := e.opts.Ledger.Attempts(rows[i].PaymentHash, rows[i].GroupID)
		if err != nil {
			return nil, fmt.Errorf("actors: paystatus: attempts of %x: %w", rows[i].PaymentHash, err)
		}
		st := PayStatus{Record: *fromPayment(&rows[i]), ID: rows[i].ID}
		for j := range atts {
			st.Attempts = append(st.Attempts, payAttempt(&atts[j], atts[:j]))
		}
		out = append(out, st)
	}
	return out, nil
}

// payAttempt shapes a ledger attempt; before are the attempts made before
// it, whose last failure says what pay excluded.
func payAttempt(a *messages.Attempt, before []messages.Attempt) PayAttempt {
	pa := PayAttempt{Route: a.Route, Start: time.Unix(int64(a.CreatedAt), 0), Pending: a.Status == messages.AttemptPending}
	if a.ResolvedAt != nil {
		pa.End = time.Unix(int64(*a.ResolvedAt), 0)
	}
	switch a.Status {
	case messages.AttemptSettled:
		pa.Preimage = a.Preimage
	case messages.AttemptFailed:
		pa.Failure = fromFailure(a.Failure)
	}
	if len(before) == 0 {
		pa.Strategy = "Initial attempt"
		return pa
	}
	prev := before[len(before)-1].Failure
	if prev == nil || prev.Routing == nil || prev.Code != payment.CodeTryOtherRoute {
		return pa
	}
	if r := prev.Routing; lnwire.FailCode(r.FailCode)&lnwire.FlagNode != 0 {
		pa.Strategy = "Excluded node " + r.ErringNode.String()
	} else {
		pa.Strategy = "Excluded channel " + graph.SCIDDir{SCID: r.ErringChannel, Dir: r.ErringDirection}.String()
	}
	return pa
}
