package payment

import (
	"time"

	"github.com/payengine/payengine/graph"
)

// Event is an input to Core.Step.
type Event interface{ isEvent() }

// SendPay is a sendpay call (spec section 5).
type SendPay struct {
	Reply  ReplyTo
	Route  graph.Route
	Amount *graph.MilliSat // msatoshi; nil means the final hop's amount
	Label  string
	Bolt11 string
	Secret *[32]byte
	// NoPeer, when set, is the failure to answer because we have no
	// channel to route[0]'s node (204 "No connection to first peer
	// found", spec section 5.2 and vector 7): once the hash's record has
	// been checked, sendpay answers it at once, and nothing is written or
	// sent.
	NoPeer *Failure
	// PartID is sendpay's partid: 0 is the single-part payment of v0.7;
	// any other makes this a part of a multi-part payment (spec section
	// 5, HEAD's rules), Amount then being the total. GroupID is its
	// groupid; nil gives a new group (the highest of the hash plus one).
	PartID  uint64
	GroupID *uint64
}

// WaitSendPay is a waitsendpay call (spec section 6). A nil Timeout waits
// for ever; zero polls.
type WaitSendPay struct {
	Reply   ReplyTo
	Timeout *time.Duration
	// PartID and GroupID name the part to wait for (HEAD): partid 0 is
	// the single-part payment; a nil GroupID means the hash's latest
	// group of parts.
	PartID  uint64
	GroupID *uint64
}

// Invoice is what pay needs of a decoded BOLT 11 invoice.
type Invoice struct {
	Bolt11       string
	Payee        graph.NodeID
	Amount       *graph.MilliSat // nil for an "any amount" invoice
	CreatedAt    time.Time
	Expiry       time.Duration
	MinFinalCLTV uint32
	Secret       *[32]byte
}

// PayParams are pay's tunables; DefaultPayParams gives the original man
// pages' defaults.
type PayParams struct {
	RiskFactor    float64        // riskfactor; 1.0 per the original pages
	MaxFeePercent float64        // maxfeepercent; 0.5
	ExemptFee     graph.MilliSat // exemptfee; 5000 msat
	RetryFor      time.Duration  // retry_for; 60 s
	MaxDelay      uint32         // maxdelay; 2016 blocks (max-locktime-blocks)
	// MaxParts is maxparts: how many parts may be in flight at once; 1
	// (or 0) keeps the single-path pay. Default DefaultMaxParts.
	MaxParts int
}

// DefaultMaxParts is pay's maxparts default (xpay's and getroutes' 100).
const DefaultMaxParts = 100

// DefaultPayParams returns pay's defaults (spec section 9.1, with the
// original pages' riskfactor of 1.0).
func DefaultPayParams() PayParams {
	return PayParams{RiskFactor: 1.0, MaxFeePercent: 0.5, ExemptFee: 5000, RetryFor: 60 * time.Second, MaxDelay: 2016, MaxParts: DefaultMaxParts}
}

// Pay is a pay call (spec section 9) with its invoice already decoded.
type Pay struct {
	Reply   ReplyTo
	Invoice Invoice
	Amount  *graph.MilliSat // msatoshi: only for an invoice without amount
	Label   string
	Params  PayParams
	// Start is when the command arrived: retry_for counts from it, as
	// CLN's pay starts its clock on the command, not when the payment's
	// turn comes. Zero (or a time after the step's) means the step's.
	Start time.Time
}

// DelPay is a delpay call: delete the hash's rows whose status is Status
// (complete or failed; the rpc layer refuses pending): the single-part
// payment (group 0, partid 0) and sendpay's parts. Part, when set, names
// the one (groupid, partid) to delete.
type DelPay struct {
	Reply  ReplyTo
	Status Status
	Part   *[2]uint64
}

// Deleted says the record of the last DeleteRecord is gone from the
// ledger, or, with Err, that the ledger could not delete it.
type Deleted struct{ Err error }

// RouteFound answers a FindRoute effect.
type RouteFound struct{ Route graph.Route }

// RouteNotFound answers a FindRoute effect that failed; Err is the graph's
// error (graph.ErrNoRoute for 205).
type RouteNotFound struct{ Err error }

// FeeFloorFound answers a FindFeeFloor effect: the least fee any route can
// pay (graph.FeeFloor), or the graph's error (graph.ErrNoRoute when no path
// can carry the amount).
type FeeFloorFound struct {
	Floor graph.MilliSat
	Err   error
}

// Persisted says the attempt of the PersistAttempt with the same Part is
// durable (Part 0: the single attempt).
type Persisted struct{ Part uint64 }

// Settled says the HTLC of Part (0: the single attempt) was fulfilled.
type Settled struct {
	Preimage [32]byte
	Part     uint64
}

// Failed says the HTLC of Part (0: the single attempt) failed, classified
// (htlc.ReadFailure or a local failure).
type Failed struct {
	Failure Failure
	Part    uint64
}

// FlowFound answers a PlanFlow effect: the planner's flow, or its error
// (graph.ErrNoRoute class when no flow fits).
type FlowFound struct {
	Flow *graph.Flow
	Err  error
}

// WaitTimeout says a waitsendpay's timer fired.
type WaitTimeout struct{ Reply ReplyTo }

func (SendPay) isEvent()       {}
func (WaitSendPay) isEvent()   {}
func (Pay) isEvent()           {}
func (RouteFound) isEvent()    {}
func (RouteNotFound) isEvent() {}
func (FeeFloorFound) isEvent() {}
func (Persisted) isEvent()     {}
func (Settled) isEvent()       {}
func (Failed) isEvent()        {}
func (FlowFound) isEvent()     {}
func (PlanAgain) isEvent()     {}
func (WaitTimeout) isEvent()   {}
func (DelPay) isEvent()        {}
func (Deleted) isEvent()       {}

// Effect is an output of Core.Step. Effects are carried out in the order
// given; a PersistAttempt must be durable before the HTLC leaves, which the
// core guarantees by emitting SendHTLC only when the Persisted event comes.
type Effect interface{ isEffect() }

// FindRoute asks the graph for a route (the caller fills in FromID).
type FindRoute struct{ Params graph.GetRouteParams }

// FindFeeFloor asks the graph for the least fee any route for Params can
// pay (graph.FeeFloor; the caller fills in FromID); answer with
// FeeFloorFound.
type FindFeeFloor struct{ Params graph.GetRouteParams }

// PersistAttempt writes a new pending record and its attempt; answer with
// Persisted once it is durable. Secret and Total are what the HTLC's onion
// will carry, so the caller can build it, and store what it needs to read
// a failure, before the attempt is written.
type PersistAttempt struct {
	Record Record
	Route  graph.Route
	Secret *[32]byte
	Total  graph.MilliSat
	Part   uint64 // 0: the single attempt; else a part of a multi-part pay
	// PartRecord, for a sendpay part, is the part's own row, kept under
	// (Record.GroupID, PartRecord.PartID): the caller's partid, not a
	// number of the actor's. Record is then its group's row.
	PartRecord *Record
}

// SendHTLC hands the attempt's HTLC to the peer of the route's first hop.
type SendHTLC struct {
	Hash   [32]byte
	Route  graph.Route
	Secret *[32]byte
	Total  graph.MilliSat // total_msat for the final payload
	Part   uint64
}

// PersistOutcome writes the record's final status (complete or failed).
// For a part of a multi-part pay (Part > 0), PartRecord is that part's
// own outcome (its status, amounts, preimage or failure) for its attempt
// row, and Record the payment's row, which may still be pending.
type PersistOutcome struct {
	Record     Record
	Part       uint64
	PartRecord *Record
	// PaymentOnly writes the payment's row alone: a pay in parts ends
	// after each part's row was written with its own outcome; a pay's
	// first row (pending, or the hash's failed row, with the pay's run)
	// goes before anything else; a pay that ends between attempts writes
	// its failed row again without its run. Effects after it wait until
	// it is durable.
	PaymentOnly bool
}

// PlanAgain answers a WaitToPlan effect: the pay in parts plans again.
type PlanAgain struct{}

// WaitToPlan asks for a PlanAgain event after the duration: a pay in parts
// whose plan failed only because other payments of ours hold the
// liquidity waits for them.
type WaitToPlan struct{ After time.Duration }

// PlanFlow asks the graph's planner for parts that deliver Params.Amount
// (the caller fills in the source); answer with FlowFound.
type PlanFlow struct{ Params graph.FlowParams }

// ReportFailure tells the graph a node on the route failed, so later routes
// avoid it (the original pages' "route table will be updated").
type ReportFailure struct {
	Failure Failure
	// Route is set for an unreadable failure (202): every channel of it
	// is suspect.
	Route graph.Route
}

// Reply answers a caller: Err, or a Record (with Message for sendpay's
// pending answer).
type Reply struct {
	To      ReplyTo
	Record  *Record
	Message string
	Err     *Error
	// Records is delpay's answer: every row it deleted.
	Records []Record
}

// DeleteRecord deletes the record (and its attempts) from the ledger;
// answer with Deleted once that is durable.
type DeleteRecord struct{ Record Record }

// DeleteRows deletes delpay's rows from the ledger in one batch: the
// single-part payment whole (Single, with its attempts), the sendpay parts
// Parts, and the row of each group left without parts; Groups are the
// rows of groups that keep parts, rewritten with what those sum to.
// Answer with Deleted once that is durable.
type DeleteRows struct {
	Single bool
	Parts  []Record
	Groups []Record
}

// StartTimer asks for a WaitTimeout event after the duration.
type StartTimer struct {
	Reply ReplyTo
	After time.Duration
}

func (FindRoute) isEffect()      {}
func (FindFeeFloor) isEffect()   {}
func (PersistAttempt) isEffect() {}
func (SendHTLC) isEffect()       {}
func (PersistOutcome) isEffect() {}
func (ReportFailure) isEffect()  {}
func (Reply) isEffect()          {}
func (StartTimer) isEffect()     {}
func (PlanFlow) isEffect()       {}
func (WaitToPlan) isEffect()     {}
func (DeleteRecord) isEffect()   {}
func (DeleteRows) isEffect()     {}
