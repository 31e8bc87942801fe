package actors

import (
	"errors"
	"fmt"
	"sort"
	"time"

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
// bolt11. Giving both, or a bolt11 that does not decode, is -32602.
func (e *Engine) ListSendPays(bolt11 string, hash *[32]byte) ([]payment.Record, error) {
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
		out := make([]payment.Record, len(ps))
		for i := range ps {
			out[i] = *fromPayment(&ps[i])
		}
		return out, nil
	}
	ps, err := e.opts.Ledger.ListByCreated(persistence.Cursor{}, 0)
	if err != nil {
		return nil, fmt.Errorf("actors: listsendpays: %w", err)
	}
	// Core Lightning lists in insertion order: the ledger's row ids.
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	out := make([]payment.Record, len(ps))
	for i := range ps {
		out[i] = *fromPayment(&ps[i])
	}
	return out, nil
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
}

// ListPays lists pays (spec section 10, v0.7.x): one row per payment, all
// or those of one bolt11 or payment hash (not both: -32602). A payment whose
// last attempt failed shows as pending while its pay is still retrying.
func (e *Engine) ListPays(bolt11 string, hash *[32]byte) ([]Pay, error) {
	recs, err := e.ListSendPays(bolt11, hash)
	if err != nil {
		return nil, err
	}
	out := make([]Pay, 0, len(recs))
	for _, r := range recs {
		p := Pay{Bolt11: r.Bolt11, Hash: r.Hash, Destination: r.Destination, Amount: r.Amount, AmountSent: r.AmountSent,
			Status: r.Status, Preimage: r.Preimage, Label: r.Label, CreatedAt: r.CreatedAt}
		if p.Status == payment.StatusFailed && e.paying(r.Hash) {
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
