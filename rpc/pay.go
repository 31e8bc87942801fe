package rpc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/payment"
)

// unsupported refuses a param the schema has and the engine cannot honour:
// accepted by name, refused with a reason.
func unsupported(a *Args, name, why string) error {
	if a.Has(name) {
		return invalidParams("'%s' is not supported: %s", a.Given(name), why)
	}
	return nil
}

func (h *handlers) sendpay(ctx context.Context, a *Args) (any, error) {
	if err := errors.Join(unsupported(a, "localinvreqid", "no BOLT 12"),
		unsupported(a, "payment_metadata", "the onion carries no payment_metadata")); err != nil {
		return nil, asError(err)
	}
	hops, _ := Arg[[]graph.Hop](a, "route")
	route := make(graph.Route, len(hops))
	prev := h.node.Self()
	for i, hop := range hops {
		// direction is ignored, as in v0.7: it follows from the ids.
		hop.Direction, hop.Style = graph.Direction(prev, hop.ID), "tlv"
		route[i], prev = hop, hop.ID
	}
	req := actors.SendPayRequest{Route: route}
	req.Hash, _ = Arg[[32]byte](a, "payment_hash")
	req.Label, _ = Arg[string](a, "label")
	req.Bolt11, _ = Arg[string](a, "bolt11")
	if v, ok := Arg[graph.MilliSat](a, "amount_msat"); ok {
		req.Amount = &v
	}
	req.PartID, _ = Arg[uint64](a, "partid")
	if v, ok := Arg[uint64](a, "groupid"); ok && req.PartID != 0 {
		req.GroupID = &v
	}
	if v, ok := Arg[[32]byte](a, "payment_secret"); ok {
		req.Secret = &v
	} else if req.Bolt11 != "" && req.PartID == 0 {
		// A part needs its payment_secret given, as in Core Lightning.
		req.Secret = h.secretOf(req.Bolt11, req.Hash)
	}
	rec, msg, err := h.e.SendPay(ctx, req)
	if err != nil {
		return nil, h.fail(err)
	}
	p := toPaymentJSON(rec, h.row(rec.Hash, rec.GroupID))
	if rec.Status == payment.StatusPending {
		p.Message = msg
	}
	return p, nil
}

// secretOf is the payment secret of a bolt11 for hash, or nil: sendpay
// stores its bolt11 without checking it (v0.7), so one that does not
// decode, or is for another hash, just gives no secret.
func (h *handlers) secretOf(bolt11 string, hash [32]byte) *[32]byte {
	d, err := h.e.DecodePay(bolt11, nil)
	if err != nil || d.PaymentHash != hex.EncodeToString(hash[:]) || d.PaymentSecret == "" {
		return nil
	}
	var s [32]byte
	if _, err := hex.Decode(s[:], []byte(d.PaymentSecret)); err != nil {
		return nil
	}
	return &s
}

func (h *handlers) waitsendpay(ctx context.Context, a *Args) (any, error) {
	hash, _ := Arg[[32]byte](a, "payment_hash")
	partid, _ := Arg[uint64](a, "partid")
	var groupid *uint64
	if v, ok := Arg[uint64](a, "groupid"); ok {
		groupid = &v
	}
	var timeout *time.Duration
	if v, ok := Arg[uint64](a, "timeout"); ok {
		d := time.Duration(v) * time.Second
		timeout = &d
	}
	rec, err := h.e.WaitSendPart(ctx, hash, partid, groupid, timeout)
	if err != nil {
		return nil, h.fail(err)
	}
	return toPaymentJSON(rec, h.row(rec.Hash, rec.GroupID)), nil
}

func (h *handlers) pay(ctx context.Context, a *Args) (any, error) {
	if err := errors.Join(unsupported(a, "localinvreqid", "no BOLT 12"),
		unsupported(a, "partial_msat", "no multi-part payments"),
		unsupported(a, "exclude", "pay takes no exclusions here; use getroute's exclude and sendpay")); err != nil {
		return nil, asError(err)
	}
	req := actors.PayRequest{Params: payment.DefaultPayParams()}
	req.Bolt11, _ = Arg[string](a, "bolt11")
	req.Label, _ = Arg[string](a, "label")
	if v, ok := Arg[graph.MilliSat](a, "amount_msat"); ok {
		req.Amount = &v
	}
	if v, ok := Arg[string](a, "description"); ok {
		req.Description = &v
	}
	p := &req.Params
	if v, ok := Arg[float64](a, "riskfactor"); ok {
		p.RiskFactor = v
	}
	if v, ok := Arg[float64](a, "maxfeepercent"); ok {
		p.MaxFeePercent = v
	}
	if v, ok := Arg[uint64](a, "retry_for"); ok {
		p.RetryFor = time.Duration(v) * time.Second
	}
	if v, ok := Arg[uint64](a, "maxdelay"); ok {
		p.MaxDelay = uint32(v)
	}
	if v, ok := Arg[graph.MilliSat](a, "exemptfee"); ok {
		p.ExemptFee = v
	}
	if v, ok := Arg[uint64](a, "maxparts"); ok {
		if v == 0 {
			return nil, invalidParams("maxparts: must be at least 1")
		}
		p.MaxParts = int(v)
	}
	if v, ok := Arg[graph.MilliSat](a, "maxfee"); ok {
		if a.Has("maxfeepercent") || a.Has("exemptfee") {
			return nil, invalidParams("If you specify maxfee, cannot specify maxfeepercent or exemptfee.")
		}
		// Too expensive iff fee > exemptfee and fee% > maxfeepercent:
		// with these two that is exactly fee > maxfee.
		p.ExemptFee, p.MaxFeePercent = v, 0
	}
	rec, err := h.e.Pay(ctx, req)
	if err != nil {
		return nil, h.fail(err)
	}
	if rec.Status != payment.StatusComplete || rec.Preimage == nil {
		return nil, fmt.Errorf("rpc: pay ended with status %s and no error", rec.Status)
	}
	return payJSON{Preimage: hex.EncodeToString(rec.Preimage[:]), Destination: rec.Destination.String(),
		PaymentHash: hex.EncodeToString(rec.Hash[:]), CreatedAt: unix(rec.CreatedAt.Unix()), Parts: uint32(max(rec.Parts, 1)),
		AmountMsat: uint64(rec.Amount), AmountSentMsat: uint64(rec.AmountSent), Status: string(rec.Status)}, nil
}
