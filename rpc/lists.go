package rpc

import (
	"context"
	"encoding/hex"
	"encoding/json"

	"github.com/payengine/payengine/payment"
)

// parseStatus is a payment status filter.
func parseStatus(name string, raw json.RawMessage) (any, error) {
	s, _ := text(raw)
	switch payment.Status(s) {
	case payment.StatusPending, payment.StatusComplete, payment.StatusFailed:
		return payment.Status(s), nil
	}
	return nil, bad(name, "one of pending, complete or failed", raw)
}

// listFilter is the filters and paging listsendpays and listpays share.
type listFilter struct {
	bolt11 string
	hash   *[32]byte
	status payment.Status
	paged  bool
	start  uint64
	limit  uint64
}

func listFilterOf(a *Args) (listFilter, error) {
	var f listFilter
	f.bolt11, _ = Arg[string](a, "bolt11")
	if h, ok := Arg[[32]byte](a, "payment_hash"); ok {
		f.hash = &h
	}
	f.status, _ = Arg[payment.Status](a, "status")
	idx, hasIndex := Arg[string](a, "index")
	switch {
	case hasIndex && idx == "created":
		f.paged = true
	case hasIndex && idx == "updated":
		return f, invalidParams("index 'updated' is not supported: payments carry no updated_index")
	case hasIndex:
		return f, invalidParams("'index' should be created or updated, not '%s'", idx)
	case a.Has("start") || a.Has("limit"):
		return f, invalidParams("Can only specify {start} or {limit} with {index}")
	}
	f.start, _ = Arg[uint64](a, "start")
	f.limit, _ = Arg[uint64](a, "limit")
	return f, nil
}

// keep applies the status filter and the created-index page.
func (f *listFilter) keep(status payment.Status, id uint64, kept int) bool {
	if f.status != "" && status != f.status {
		return false
	}
	if f.paged && (id < f.start || (f.limit > 0 && uint64(kept) >= f.limit)) {
		return false
	}
	return true
}

func (h *handlers) listsendpays(ctx context.Context, a *Args) (any, error) {
	f, err := listFilterOf(a)
	if err != nil {
		return nil, err
	}
	recs, err := h.e.ListSendPays(f.bolt11, f.hash)
	if err != nil {
		return nil, h.fail(err)
	}
	out := []paymentJSON{}
	for i := range recs {
		row := h.row(recs[i].Hash, recs[i].GroupID)
		if f.keep(recs[i].Status, row.ID, len(out)) {
			out = append(out, toPaymentJSON(&recs[i], row))
		}
	}
	return map[string]any{"payments": out}, nil
}

func (h *handlers) listpays(ctx context.Context, a *Args) (any, error) {
	f, err := listFilterOf(a)
	if err != nil {
		return nil, err
	}
	pays, err := h.e.ListPays(f.bolt11, f.hash)
	if err != nil {
		return nil, h.fail(err)
	}
	out := []listPayJSON{}
	for _, p := range pays {
		row := h.row(p.Hash, p.GroupID)
		if !f.keep(p.Status, row.ID, len(out)) {
			continue
		}
		r := listPayJSON{CreatedIndex: row.ID, PaymentHash: hex.EncodeToString(p.Hash[:]), Status: string(p.Status),
			Destination: p.Destination.String(), CreatedAt: unix(p.CreatedAt.Unix()), Label: p.Label, Bolt11: p.Bolt11,
			AmountSentMsat: uint64(p.AmountSent)}
		if p.Status != payment.StatusFailed {
			amt := uint64(p.Amount)
			r.AmountMsat = &amt
		}
		if p.Status == payment.StatusComplete && p.Preimage != nil {
			r.Preimage = hex.EncodeToString(p.Preimage[:])
		}
		if p.Parts > 1 {
			r.NumberOfParts = uint64(p.Parts)
		}
		out = append(out, r)
	}
	return map[string]any{"pays": out}, nil
}
