// Package messages holds the plain structs that cross actor boundaries and
// the records the ledger stores. It holds data only: no methods with logic,
// no I/O, and of payengine's packages it imports only graph.
package messages

import "github.com/payengine/payengine/graph"

// PaymentStatus is the status of a payment record, spelled as Core Lightning's
// listsendpays spells it (spec §4).
type PaymentStatus string

// The payment statuses of spec §4. PaymentPending is the only non-terminal one.
const (
	PaymentPending  PaymentStatus = "pending"
	PaymentComplete PaymentStatus = "complete"
	PaymentFailed   PaymentStatus = "failed"
)

// AttemptStatus is the status of one HTLC attempt (one part of a payment).
type AttemptStatus string

// The attempt statuses. AttemptPending means the HTLC may be in flight: the
// ledger keeps every pending attempt in its recovery index.
const (
	AttemptPending AttemptStatus = "pending"
	AttemptSettled AttemptStatus = "settled"
	AttemptFailed  AttemptStatus = "failed"
)

// Payment is the ledger's record of one payment: one per (PaymentHash,
// GroupID), as Core Lightning keeps it since groups exist (spec §4, §7, §10).
// Optional fields are pointers (nil: absent) or empty strings and slices.
type Payment struct {
	// ID is the row id, assigned by the ledger when the payment is first
	// written (monotonic, starting at 1, never reused); the ledger ignores
	// the value a writer puts here.
	ID uint64
	// PaymentHash is the payment hash the HTLCs are locked to.
	PaymentHash [32]byte
	// GroupID tells apart successive payments of the same hash.
	GroupID uint64
	// Destination is the node paid (the last hop of the route).
	Destination graph.NodeID
	// AmountMsat is the recorded target amount (sendpay's msatoshi, else the
	// final hop's amount); nil when unknown (sendonion-like payments).
	AmountMsat *graph.MilliSat
	// AmountSentMsat is what left this node, fees included.
	AmountSentMsat graph.MilliSat
	// CreatedAt is the creation time in unix seconds.
	CreatedAt uint64
	// CompletedAt is when the payment reached a terminal status, unix
	// seconds; nil while pending.
	CompletedAt *uint64
	// Status is pending, complete or failed.
	Status PaymentStatus
	// Preimage is the payment preimage; set only when Status is complete.
	Preimage *[32]byte
	// Label is the caller's optional label.
	Label string
	// Bolt11 is the invoice, stored verbatim (not validated); optional.
	Bolt11 string
	// Description is the invoice description, when known.
	Description string
	// PaymentSecret is the invoice's payment secret, when it has one.
	PaymentSecret *[32]byte
	// Failure says why the payment failed; set only when Status is failed.
	Failure *Failure
	// Pay is set while a pay drives the payment's attempts: what a
	// restart needs to go on retrying.
	Pay *PayRun
}

// PayRun is a pay's retry state: its limits and when it began.
type PayRun struct {
	// StartedAt is when the pay began, unix nanoseconds; retry_for runs
	// from it.
	StartedAt uint64
	// RetryFor is pay's retry_for, in nanoseconds.
	RetryFor uint64
	// RiskFactor and MaxFeePercent are pay's riskfactor and maxfeepercent.
	RiskFactor, MaxFeePercent float64
	// ExemptFee is pay's exemptfee.
	ExemptFee graph.MilliSat
	// MaxDelay is pay's maxdelay, in blocks.
	MaxDelay uint32
	// MaxParts is pay's maxparts; 0 in a record written before the ledger
	// kept it.
	MaxParts uint32
}

// Attempt is the ledger's record of one HTLC sent for a payment, keyed by
// (PaymentHash, GroupID, PartID). An attempt is written as pending before
// its HTLC leaves, so after a crash every HTLC that may be in flight is known.
type Attempt struct {
	// PaymentHash and GroupID name the payment this attempt belongs to.
	PaymentHash [32]byte
	// GroupID is the payment's group (see Payment.GroupID).
	GroupID uint64
	// PartID tells apart the attempts of one payment group.
	PartID uint64
	// Route is the path the HTLC takes, first hop first.
	Route graph.Route
	// AmountMsat is what this part delivers to the destination.
	AmountMsat graph.MilliSat
	// AmountSentMsat is what this part sends on the first hop, fees included.
	AmountSentMsat graph.MilliSat
	// FirstHop is the local channel the HTLC is added to.
	FirstHop graph.SCID
	// LinkID is the HTLC id on the first-hop link, used to re-attach to the
	// HTLC after a restart.
	LinkID uint64
	// Circuit is the onion's circuit (htlc.Circuit, binary), so a failure
	// that comes back after a restart can still be read.
	Circuit []byte
	// Status is pending, settled or failed.
	Status AttemptStatus
	// Preimage is set when the attempt settled.
	Preimage *[32]byte
	// Failure is set when the attempt failed.
	Failure *Failure
	// CreatedAt is when the attempt was made, unix seconds.
	CreatedAt uint64
	// ResolvedAt is when it settled or failed, unix seconds; nil while pending.
	ResolvedAt *uint64
}

// Failure is a recorded failure of a payment or an attempt, in the shape of
// Core Lightning's error answer (spec §2, §3).
type Failure struct {
	// Code is the JSON-RPC error code: 202 (unparseable onion), 203
	// (destination permanent failure), 204 (try another route), 209
	// (reason unknown), or another code of spec §2.
	Code int32
	// Message is the error message.
	Message string
	// Routing holds the routing failure object (spec §3); nil when there is
	// none (202, 209).
	Routing *RoutingFailure
	// ErrorOnion is the undecryptable failure onion of a 202, raw bytes.
	ErrorOnion []byte
}

// RoutingFailure is Core Lightning's routing failure object (spec §3).
type RoutingFailure struct {
	// ErringIndex is 0 for the local node, k+1 when route node k reported
	// it.
	ErringIndex uint32
	// OriginIndex is the original pages' origin_index as answered: -1 for
	// the local node, else the index of the reporting route node.
	OriginIndex int32
	// ErringNode is the node blamed.
	ErringNode graph.NodeID
	// Destination is true when the destination itself reported the
	// failure (erring_channel is then answered as 0:0:0). It is kept
	// because nothing else tells it: a BADONION reported by the hop
	// before the destination blames the destination too.
	Destination bool
	// ErringChannel is the channel blamed.
	ErringChannel graph.SCID
	// ErringDirection is the direction of ErringChannel (0 or 1).
	ErringDirection uint8
	// FailCode is the BOLT 4 failure code.
	FailCode uint16
	// ChannelUpdate is the channel_update the failure carried, raw bytes.
	ChannelUpdate []byte
	// RawMessage is the whole decrypted failure message, raw bytes.
	RawMessage []byte
}
