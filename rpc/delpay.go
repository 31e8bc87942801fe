package rpc

import (
	"context"
	"encoding/json"

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

// delpay is Core Lightning's delpay: the payment of payment_hash goes,
// with its attempts, if its status is the one named; the answer lists what
// was deleted, as listsendpays showed it.
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
	// The row's ids, read before it goes; the engine decides whether
	// it goes.
	row, _ := h.ledger.Payment(hash, 0)
	rec, err := h.e.DelPay(ctx, hash, status, part)
	if err != nil {
		return nil, h.fail(err)
	}
	return map[string]any{"payments": []paymentJSON{toPaymentJSON(rec, row)}}, nil
}
