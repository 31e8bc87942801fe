// Package target is what paybench drives: a payment engine and the network
// it pays over, behind the few calls a load test needs (list destinations,
// have one issue an invoice, pay it, and, where the network can tell, say
// whether the payment was feasible at all). Embedded runs the engine and
// simnet in this process; RPC talks to a running payd.
package target

import (
	"context"

	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/simnet"
)

// Target is a payment engine with a network to pay over. Its methods are
// safe for concurrent use.
type Target interface {
	// Info describes the target for the report.
	Info() Info
	// Nodes lists the destinations the network offers, our node left out.
	Nodes(ctx context.Context) ([]workload.Node, error)
	// Invoice has dest issue an invoice for amount.
	Invoice(ctx context.Context, dest graph.NodeID, amount graph.MilliSat, label string) (Invoice, error)
	// Pay pays an invoice with pay's semantics and says how it ended.
	// Failures of the payment are in the Outcome, not an error.
	Pay(ctx context.Context, inv Invoice, label string, params payment.PayParams) Outcome
	// Oracle returns the feasibility oracle, or nil when the target cannot
	// see the network's balances (a daemon in another process).
	Oracle() Oracle
	// Close stops what the target started.
	Close() error
}

// Info describes a target.
type Info struct {
	// Mode is "embedded" or "rpc".
	Mode string `json:"mode"`
	// Graph names the network's graph (embedded only).
	Graph string `json:"graph,omitempty"`
	// Self is our node (zero through a front-end: see Members).
	Self graph.NodeID `json:"self"`
	// Members are a fleet front-end's members (rpc only), the nodes of
	// ours that may pay: the front-end picks one per payment.
	Members []graph.NodeID `json:"members,omitempty"`
	// Simnet is simnetd's control socket that served the network's
	// commands (rpc with --simnet-rpc only).
	Simnet string `json:"simnet,omitempty"`
	// SourceCapacity is our channels' total capacity in sat (0 unknown).
	SourceCapacity uint64 `json:"source_capacity_sat"`
	// Nodes and Channels are the network's size (Channels 0: unknown, as
	// over RPC, where payd does not serve it).
	Nodes    int `json:"nodes"`
	Channels int `json:"channels"`
	// Labels is how the run's invoices and pays are labelled in the
	// daemon (rpc only), to find them in its listpays.
	Labels string `json:"labels,omitempty"`
}

// Invoice is an invoice to pay.
type Invoice struct {
	Bolt11 string
	Hash   [32]byte
}

// Outcome is how one pay ended.
type Outcome struct {
	// Complete is true when the payment succeeded.
	Complete bool
	// AmountSent is what left our node, fees included (complete only).
	AmountSent graph.MilliSat
	// Code is Core Lightning's error code (0 on success; -1 for an error
	// that is not a Core Lightning error, such as a dead daemon).
	Code int
	// Message is the error's message.
	Message string
	// FailCode is the BOLT 4 failure code of the last attempt's routing
	// failure, 0 when there was none (for example 205: no route at all).
	FailCode uint16
	// Attempts is how many attempts the pay made, -1 when unknown (see
	// Embedded for how it is counted).
	Attempts int
	// Truth is what the network saw of the payment hash, nil when the
	// target cannot see it (a daemon in another process).
	Truth *Truth
}

// Truth is the network's ground truth of one payment hash after its pay
// returned.
type Truth struct {
	// HTLCs is how many HTLCs our node sent for the hash (every part of
	// every attempt, including those our own channel refused).
	HTLCs int `json:"htlcs"`
	// Parts is how many HTLCs the destination settled: the parts of a
	// successful payment.
	Parts int `json:"parts"`
}

// Latency is a distribution of durations read from the engine's metrics.
type Latency struct {
	// Source names the metric.
	Source string `json:"source"`
	// Count is how many durations it holds.
	Count uint64 `json:"count"`
	// P50 and P99, in milliseconds, are interpolated inside the
	// histogram's buckets (as Prometheus's histogram_quantile does).
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	// P50Over and P99Over say the quantile lies above the histogram's
	// largest bound, which the figure then is: a lower bound.
	P50Over bool `json:"p50_over,omitempty"`
	P99Over bool `json:"p99_over,omitempty"`
}

// Oracle says what the network could have carried (simnet.Net implements
// it).
type Oracle interface {
	Feasible(to graph.NodeID, amount graph.MilliSat) simnet.Feasibility
}
