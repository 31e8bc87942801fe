package messages

import (
	"time"

	"github.com/payengine/payengine/graph"
)

// RouteFailed tells the graph actor what a failed HTLC taught of channel
// balances: the channels of Route before hop At carried their amounts;
// when Liquidity is set, the channel at hop At could not carry its amount
// (a temporary_channel_failure there). At is len(Route) for a failure at
// the destination: every channel carried its amount.
type RouteFailed struct {
	Route     graph.Route
	At        int
	Liquidity bool
	Now       time.Time
}

// RouteSettled tells the graph actor that an HTLC over Route settled:
// every channel carried its amount, and the amounts moved.
type RouteSettled struct {
	Route graph.Route
	Now   time.Time
}

// Reserve tells the graph actor that an HTLC over Route is in flight: its
// amounts are held on their channels until an Unreserve of the same route,
// so no plan counts on them twice.
type Reserve struct{ Route graph.Route }

// Unreserve releases what a Reserve of the same route held.
type Unreserve struct{ Route graph.Route }

// OwnBalance tells the graph actor what one of our channel directions can
// send, HTLCs in flight on it counted as still there (they are reserved).
type OwnBalance struct {
	Dir     graph.SCIDDir
	Balance graph.MilliSat
	Now     time.Time
}

// PlanFlow asks the graph actor for a multi-part plan; a route worker
// answers the sender with a FlowPlanned. When Params.Liquidity is nil the
// engine's knowledge at Now is used, and when UseAvoid is set what
// failures taught is left out too (pay's plans; getroutes sets neither).
type PlanFlow struct {
	Params   graph.FlowParams
	Now      time.Time
	UseAvoid bool
	// Reserve holds the plan's parts in the knowledge before it is
	// answered, and plans that reserve run one at a time, so two payments
	// planned at once never count on the same liquidity. The caller
	// releases each part (Unreserve) when it ends or is not sent.
	Reserve bool
}

// FlowPlanned answers PlanFlow: Flow, or the planner's error.
type FlowPlanned struct {
	Flow *graph.Flow
	Err  error
}

// WriteKnowledge asks the ledger actor to store the engine's encoded
// liquidity knowledge; it answers nothing (a failure is logged).
type WriteKnowledge struct{ Data []byte }
