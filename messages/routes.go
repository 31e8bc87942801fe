package messages

import (
	"time"

	"github.com/payengine/payengine/graph"
)

// FindRoute asks the graph actor for a route; the answer, a RouteFound or
// a RouteNotFound, goes to the sender. Now is the caller's clock, which
// decides which remembered failures still apply.
type FindRoute struct {
	Params graph.GetRouteParams
	Now    time.Time
}

// RouteFound answers FindRoute with a route.
type RouteFound struct{ Route graph.Route }

// RouteNotFound answers FindRoute with the graph's error (a *graph.Error:
// 205, or -32602 for a bad parameter).
type RouteNotFound struct{ Err error }

// FindFeeFloor asks the graph actor for the least fee any route for Params
// can pay (graph.FeeFloor, which takes Params' exclusions but no remembered
// failures); the answer, a FeeFloorFound, goes to the sender.
type FindFeeFloor struct{ Params graph.GetRouteParams }

// FeeFloorFound answers FindFeeFloor: the floor, or the graph's error.
type FeeFloorFound struct {
	Floor graph.MilliSat
	Err   error
}

// Avoid tells the graph actor to leave a channel direction or a node out
// of every route until Until: what a failure from a node on a route
// teaches.
type Avoid struct {
	Exclude graph.Exclusion
	Until   time.Time
}

// ChannelUpdate gives the graph actor a channel_update a failure carried,
// whose signature by Signer (the node that reported the failure) was
// checked; the graph actor applies it only if Signer owns that direction.
type ChannelUpdate struct {
	Update graph.PolicyUpdate
	Signer graph.NodeID
}

// Succeeded tells the graph actor that a payment went through Route: its
// channels and nodes evidently work, so what failures taught of them is
// forgotten.
type Succeeded struct{ Route graph.Route }

// NewSnapshot replaces the graph actor's snapshot (a reload, or updates
// applied).
type NewSnapshot struct{ Graph *graph.Graph }

// WriteLedger asks the ledger actor to store records durably; the answer,
// a Written, goes to the sender after the sync that includes them.
type WriteLedger struct {
	Payments []Payment
	Attempts []Attempt
}

// DeleteLedger asks the ledger actor to delete the payment (PaymentHash,
// GroupID) with its attempts and index entries, in one batch; the answer,
// a Written, goes to the sender once the deletion is durable.
type DeleteLedger struct {
	PaymentHash [32]byte
	GroupID     uint64
	// Rows, when set, replaces GroupID: delpay's rows of the hash, all
	// deleted in one batch.
	Rows *DeleteRows
}

// DeleteRows is what one delpay deletes of a payment hash, applied
// atomically by the ledger.
type DeleteRows struct {
	// Groups are payments deleted whole, with every attempt (the
	// single-part payment, group 0).
	Groups []uint64
	// Parts are attempt rows of sendpay parts deleted, each with its
	// pending-index entry; a group whose last part goes loses its payment
	// row too.
	Parts []PartKey
	// Rewrite are the payment rows of groups that keep parts, written
	// again with what their remaining parts sum to.
	Rewrite []Payment
}

// PartKey names one attempt row of a payment hash.
type PartKey struct{ GroupID, PartID uint64 }

// Written answers WriteLedger and DeleteLedger; Err is nil once the
// change is durable.
type Written struct{ Err error }
