package rpc

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
)

// paymentJSON is a payment record as sendpay, waitsendpay and
// listsendpays print it: spec section 4's fields under the schemas' names,
// integer amounts and no msatoshi twins (the schemas forbid them).
type paymentJSON struct {
	ID             uint64  `json:"id"`
	CreatedIndex   uint64  `json:"created_index"`
	GroupID        uint64  `json:"groupid"`
	PartID         uint64  `json:"partid,omitempty"` // only a part's, as CLN
	PaymentHash    string  `json:"payment_hash"`
	Status         string  `json:"status"`
	Destination    string  `json:"destination"`
	AmountMsat     uint64  `json:"amount_msat"`
	AmountSentMsat uint64  `json:"amount_sent_msat"`
	CreatedAt      uint64  `json:"created_at"`
	CompletedAt    *uint64 `json:"completed_at,omitempty"`
	Label          string  `json:"label,omitempty"`
	Bolt11         string  `json:"bolt11,omitempty"`
	Preimage       string  `json:"payment_preimage,omitempty"`
	ErrorOnion     string  `json:"erroronion,omitempty"`
	Message        string  `json:"message,omitempty"`
}

// toPaymentJSON shapes a record; row is the ledger's row of its hash and
// group (the id, created_index and groupid: the parts of a group share
// their group's id).
func toPaymentJSON(r *payment.Record, row messages.Payment) paymentJSON {
	p := paymentJSON{
		ID: row.ID, CreatedIndex: row.ID, GroupID: row.GroupID, PartID: r.PartID, PaymentHash: hex.EncodeToString(r.Hash[:]),
		Status: string(r.Status), Destination: r.Destination.String(), AmountMsat: uint64(r.Amount),
		AmountSentMsat: uint64(r.AmountSent), CreatedAt: unix(r.CreatedAt.Unix()), Label: r.Label, Bolt11: r.Bolt11,
	}
	if r.Status != payment.StatusPending && !r.CompletedAt.IsZero() {
		t := unix(r.CompletedAt.Unix())
		p.CompletedAt = &t
	}
	if r.Status == payment.StatusComplete && r.Preimage != nil {
		p.Preimage = hex.EncodeToString(r.Preimage[:])
	}
	if r.Status == payment.StatusFailed && r.Failure != nil && len(r.Failure.OnionReply) > 0 {
		p.ErrorOnion = hex.EncodeToString(r.Failure.OnionReply)
	}
	return p
}

func unix(s int64) uint64 { return uint64(max(s, 0)) }

// payJSON is pay's success in the schema's shape (HEAD's, since the schema
// forbids v0.7's extra payment fields): one part, always.
type payJSON struct {
	Preimage       string `json:"payment_preimage"`
	Destination    string `json:"destination"`
	PaymentHash    string `json:"payment_hash"`
	CreatedAt      uint64 `json:"created_at"`
	Parts          uint32 `json:"parts"`
	AmountMsat     uint64 `json:"amount_msat"`
	AmountSentMsat uint64 `json:"amount_sent_msat"`
	Status         string `json:"status"`
}

// listPayJSON is one row of listpays. A failed row has no amount_msat (the
// schema allows only amount_sent_msat then).
type listPayJSON struct {
	CreatedIndex   uint64  `json:"created_index"`
	PaymentHash    string  `json:"payment_hash"`
	Status         string  `json:"status"`
	Destination    string  `json:"destination"`
	CreatedAt      uint64  `json:"created_at"`
	Label          string  `json:"label,omitempty"`
	Bolt11         string  `json:"bolt11,omitempty"`
	AmountMsat     *uint64 `json:"amount_msat,omitempty"`
	AmountSentMsat uint64  `json:"amount_sent_msat"`
	Preimage       string  `json:"preimage,omitempty"`
	NumberOfParts  uint64  `json:"number_of_parts,omitempty"` // only above 1, as CLN
}

// routeJSON is getroute's result.
type routeJSON struct {
	Route graph.Route `json:"route"`
}

// attemptJSON is one attempt in error 210's data.attempts, as paystatus
// shows it: the route and, if it failed, the failure as an error object.
type attemptJSON struct {
	Route   graph.Route `json:"route"`
	Failure *Error      `json:"failure,omitempty"`
}

// failureDataJSON is the data of 203 and 204: the routing failure object
// (origin_index, erring_index, erring_node, erring_channel "0:0:0" for the
// destination, failcode, failcodename, erring_direction, channel_update
// when one came) followed by the payment's fields, as v0.7.3 sends both.
func failureDataJSON(rf *htlc.RoutingFailure, rec *payment.Record, row messages.Payment) (json.RawMessage, error) {
	a, err := json.Marshal(rf)
	if err != nil {
		return nil, fmt.Errorf("rpc: routing failure: %w", err)
	}
	if rec == nil {
		return a, nil
	}
	b, err := json.Marshal(toPaymentJSON(rec, row))
	if err != nil {
		return nil, fmt.Errorf("rpc: payment fields: %w", err)
	}
	// Two flat objects with distinct keys: join them into one.
	out := append(a[:len(a)-1:len(a)-1], ',')
	return append(out, b[1:]...), nil
}

// failureError is a stored failure as an error object (for 210's attempts).
func failureError(f *payment.Failure) *Error {
	e := &Error{Code: f.Code, Message: f.Message}
	switch {
	case f.Routing != nil:
		e.Data = f.Routing
	case len(f.OnionReply) > 0:
		e.Data = map[string]string{"onionreply": hex.EncodeToString(f.OnionReply)}
	}
	return e
}
