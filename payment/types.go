// Package payment is the lifecycle of one payment hash as a pure state
// machine: Core.Step takes an event (a sendpay, a waitsendpay, a pay, a
// route found, an attempt persisted, an HTLC settled or failed, a timer) and
// the current time, and returns the effects to carry out, in order (find a
// route, persist an attempt, send the HTLC, reply, ...). It does no I/O,
// reads no clock and starts nothing, so every rule of Core Lightning's
// sendpay, waitsendpay and pay (spec sections 5, 6 and 9, with the original
// man pages' rules) is tested here without actors; the payment actor only
// turns messages into events and effects into messages.
package payment

import (
	"fmt"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
)

// Status is a payment's state as listsendpays prints it.
type Status string

// The three statuses of spec section 4.
const (
	StatusPending  Status = "pending"
	StatusComplete Status = "complete"
	StatusFailed   Status = "failed"
)

// Record is what is known of a payment hash: the fields of spec section 4.
type Record struct {
	Hash        [32]byte
	Destination graph.NodeID
	Amount      graph.MilliSat // the recorded target amount (msatoshi)
	AmountSent  graph.MilliSat // route[0]'s amount, fees included
	CreatedAt   time.Time
	CompletedAt time.Time // zero unless complete
	Status      Status
	Preimage    *[32]byte // only when complete
	Label       string
	Bolt11      string
	Failure     *Failure // only when failed
	Pay         *PayRun  // while a pay drives the attempts
	// Parts is how many parts delivered a payment made in parts (pay's
	// result "parts"); 0 for a single attempt.
	Parts int
	// GroupID and PartID name a sendpay part's row (spec section 4, HEAD):
	// its group (1 and up) and the caller's partid. Both are 0 for the
	// single-part payment of v0.7 (sendpay with partid 0, or pay).
	GroupID, PartID uint64
}

// PayRun is what a restart needs to resume a pay whose attempt was in
// flight: its limits and when it began.
type PayRun struct {
	Params PayParams
	Start  time.Time
}

// Failure is how an attempt failed, as waitsendpay reports it: the CLN code
// (202, 203, 204), its message, and the routing failure object or, for 202,
// the unreadable onion.
type Failure struct {
	Code       int
	Message    string
	Routing    *htlc.RoutingFailure
	OnionReply []byte
}

// Error is a Core Lightning JSON-RPC error: code, message and optional data.
type Error struct {
	Code    int
	Message string
	Data    any
}

func (e *Error) Error() string { return fmt.Sprintf("payment: %s (code %d)", e.Message, e.Code) }

// Core Lightning error codes used here (spec section 2).
const (
	CodeInvalidParams     = -32602
	CodeInProgress        = 200
	CodeRHashUsed         = 201
	CodeUnparseableOnion  = 202
	CodeDestPermFail      = 203
	CodeTryOtherRoute     = 204
	CodeRouteNotFound     = 205
	CodeRouteTooExpensive = 206
	CodeInvoiceExpired    = 207
	CodeNoSuchPayment     = 208
	CodeUnspecified       = 209
	CodeStoppedRetrying   = 210
)

// ReplyTo names a caller waiting for an answer; the actor chooses it and
// gets it back in a Reply effect.
type ReplyTo uint64
