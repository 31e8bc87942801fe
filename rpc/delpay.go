package rpc

import (
	"context"
	"encoding/json"

	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
)

// parseDelStatus is delpay's status: complete or failed; a pending
// payment is never deleted.
func parseDelStatus(name string, raw json.RawMessage) (any, error) {
	s, _ := text(raw)
	switch payment.Status(s) {
	case payment.StatusComplete, payment.StatusFailed:
		return payment.Status(s), nil
	case payment.StatusPending:
		return nil, invalidParams("'%s' should be complete or failed, not 'pending': Cannot delete pending status", name)
	}
	return nil, bad(name, "complete or failed", raw)
}

// delpay is Core Lightning's delpay: the rows of payment_hash whose status
// is the one named go (all of them, or the one of partid and groupid, which
// come together); the answer lists what was deleted, as listsendpays
// showed it.
func (h *handlers) delpay(ctx context.Context, a *Args) (any, error) {
	hash, _ := Arg[[32]byte](a, "payment_hash")
	status, _ := Arg[payment.Status](a, "status")
	partid, hasPart := Arg[uint64](a, "partid")
	groupid, hasGroup := Arg[uint64](a, "groupid")
	if hasPart != hasGroup {
		return nil, invalidParams("Must set both partid and groupid, or neither")
	}
	var part *[2]uint64
	if hasPart {
		part = &[2]uint64{groupid, partid}
	}
	// The rows' ids, read before they go; the engine decides which go.
	rows := map[uint64]messages.Payment{}
	var single []payment.Record // group 0 as listsendpays shows it
	if recs, err := h.e.ListSendPays("", &hash); err == nil {
		for i := range recs {
			if g := recs[i].GroupID; rows[g].ID == 0 {
				rows[g] = h.row(hash, g)
			}
			if recs[i].GroupID == 0 {
				single = append(single, recs[i])
			}
		}
	}
	recs, err := h.e.DelPay(ctx, hash, status, part)
	if err != nil {
		return nil, h.fail(err)
	}
	out := make([]paymentJSON, 0, len(recs))
	for i := range recs {
		row, ok := rows[recs[i].GroupID]
		if !ok {
			// A group written after the read above: its row is gone
			// now, and with it its id.
			row = messages.Payment{PaymentHash: hash, GroupID: recs[i].GroupID}
		}
		if recs[i].GroupID == 0 && len(single) > 0 && single[0].PartID != 0 {
			// A pay sent in parts, which listsendpays showed part by
			// part: the single-part payment went whole, with them all.
			for j := range single {
				out = append(out, toPaymentJSON(&single[j], row))
			}
			continue
		}
		out = append(out, toPaymentJSON(&recs[i], row))
	}
	return map[string]any{"payments": out}, nil
}
