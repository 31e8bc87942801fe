// Package link is the narrow interface through which a peer actor adds an
// HTLC on one of our channels and learns its outcome. The in-process
// simulated network (simnet) and wirelink (simnet in its own process)
// carry our own Sphinx onion and return the encrypted failure; a node that
// builds the onion itself from the route (lnd's SendToRouteV2) says so with
// RouteBuilder and returns the failure already decoded (Result.Sourced).
package link

import (
	"context"
	"errors"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// OnionSize is the size of a BOLT 4 onion_routing_packet: 1366 bytes.
const OnionSize = lnwire.OnionPacketSize

// Errors a Link returns from AddHTLC (the HTLC was not taken) or reports in
// Result.Local (our own channel refused it). Test with errors.Is.
var (
	// ErrClosed: the link is closed; the HTLC was not taken.
	ErrClosed = errors.New("link: closed")
	// ErrDuplicateID: an HTLC with this ID is still in flight on the link.
	ErrDuplicateID = errors.New("link: duplicate htlc id")
	// ErrUnknownHTLC: Reattach was asked about an id the link never took
	// or no longer remembers.
	ErrUnknownHTLC = errors.New("link: unknown htlc")
	// ErrUnknownChannel: the channel is not one of ours (CLN answers
	// "No connection to first peer found", unknown_next_peer).
	ErrUnknownChannel = errors.New("link: unknown channel")
	// ErrInsufficientBalance: our side of the channel cannot carry the
	// amount (temporary_channel_failure).
	ErrInsufficientBalance = errors.New("link: insufficient balance")
	// ErrTooManyHTLCs: every HTLC slot of our side of the channel is
	// taken (temporary_channel_failure).
	ErrTooManyHTLCs = errors.New("link: no free htlc slot")
)

// AddHTLC is an update_add_htlc on one of our channels.
type AddHTLC struct {
	// ID is chosen by the caller and unique among the HTLCs in flight on
	// the link, so that a reconnecting link can ask what became of it.
	ID uint64
	// Channel is our first-hop channel.
	Channel graph.SCID
	// Amount is what the HTLC carries (the first hop's amount).
	Amount graph.MilliSat
	// Expiry is the absolute CLTV expiry of the HTLC.
	Expiry uint32
	// PaymentHash is the hash the HTLC is locked to.
	PaymentHash [32]byte
	// Onion is the onion_routing_packet for the first hop's node; zero
	// for a link that builds the onion itself (RouteBuilder), and in
	// Reattach.
	Onion [OnionSize]byte
	// Route is the route the HTLC follows, first hop first: what a link
	// that builds the onion needs, and what finds the HTLC again after a
	// restart (Reattach). Links that carry our onion need not read it.
	Route graph.Route
	// BlockHeight is the height the route's delays count from: hop i's
	// outgoing CLTV is BlockHeight+1+Route[i+1].Delay (htlc.RoutePayloads),
	// and Expiry is BlockHeight+1+Route[0].Delay.
	BlockHeight uint32
	// PaymentSecret and Total are the final hop's payment_data (BOLT 4):
	// the invoice's secret (nil: none) and the total of the payment
	// (0: the final hop's amount).
	PaymentSecret *[32]byte
	Total         graph.MilliSat
}

// Malformed is an update_fail_malformed_htlc from the first hop's node: it
// could not read its layer of the onion. The payer turns it into a failure
// of that node with htlc.MalformedFailure.
type Malformed struct {
	// Code is a BADONION failure code.
	Code lnwire.FailCode
	// OnionHash is sha256 of the onion the node received.
	OnionHash [32]byte
}

// Sourced is a failure that comes back decoded, from a node that built the
// onion and read the failure itself (lnd): who sent it and what it said.
// The payer turns it into a failure with htlc.SourcedFailure, which
// classifies it exactly as htlc.ReadFailure classifies the same message
// decrypted from our own onion.
type Sourced struct {
	// Index is the sender: 0 for our own node (a local failure), k+1 for
	// route node k (lnd's failure_source_index).
	Index int
	// Message is the BOLT 4 failure message, code and fields without
	// length or padding (lnwire.EncodeFailureMessage), channel_update
	// included for update-class codes.
	Message []byte
	// Unreadable is set when the node could not read the failure onion
	// (Message is then empty): Core Lightning's 202.
	Unreadable bool
	// Detail says more, for the log and the error message.
	Detail string
}

// Result is the outcome of one HTLC; exactly one of Preimage, Reason,
// Malformed, Sourced and Local is set.
type Result struct {
	// ID is the AddHTLC's ID.
	ID uint64
	// Preimage is set when the HTLC was fulfilled.
	Preimage *[32]byte
	// Reason is the encrypted failure onion of update_fail_htlc (read it
	// with htlc.ReadFailure).
	Reason []byte
	// Malformed is set for update_fail_malformed_htlc.
	Malformed *Malformed
	// Sourced is the decoded failure from a link that builds the onion.
	Sourced *Sourced
	// Local is set when our own channel refused the HTLC before it left:
	// it wraps ErrUnknownChannel, ErrInsufficientBalance or
	// ErrTooManyHTLCs.
	Local error
}

// Link adds HTLCs on our channels.
type Link interface {
	// AddHTLC hands the HTLC to the link. It returns an error (wrapping
	// ErrClosed, ErrDuplicateID, or the context's error) only when the
	// HTLC was not taken; done is then never called. Otherwise done is
	// called exactly once with the outcome, possibly before AddHTLC
	// returns but never on the caller's stack: an implementation runs
	// done on a goroutine of its own (the simnet worker of that HTLC, a
	// socket reader), so done may take locks the caller holds while
	// calling AddHTLC. done must not block for long. Once taken, an HTLC
	// is irrevocable: cancelling ctx afterwards changes nothing.
	// AddHTLC is safe for concurrent use.
	AddHTLC(ctx context.Context, req AddHTLC, done func(Result)) error
	// Reattach asks what became of HTLC req.ID, after the caller lost its
	// done callback (a restart): done is called once with its outcome,
	// at once if it is already known, else when it resolves. req is what
	// was sent, without the onion: a link that does not know our ids
	// (lnd) finds the HTLC by its hash, route and amounts. It returns
	// ErrUnknownHTLC if the link has no record of the HTLC: it never
	// left, and will not.
	Reattach(ctx context.Context, req AddHTLC, done func(Result)) error
}

// RouteBuilder is implemented by a link that builds the onion itself from
// AddHTLC.Route (lnd's SendToRouteV2): the payer then builds none, and the
// link returns failures decoded (Result.Sourced). A link that may later
// take a pre-built onion again (lnd's SendOnion) answers false.
type RouteBuilder interface {
	BuildsOnion() bool
}

// WantsOnion reports whether l carries our own onion: true unless it is a
// RouteBuilder that builds its own.
func WantsOnion(l Link) bool {
	rb, ok := l.(RouteBuilder)
	return !ok || !rb.BuildsOnion()
}

// LocalFailCode returns the BOLT 4 code a payer reports for a Result.Local
// error: unknown_next_peer for ErrUnknownChannel, temporary_channel_failure
// otherwise.
func LocalFailCode(err error) lnwire.FailCode {
	if errors.Is(err, ErrUnknownChannel) {
		return lnwire.CodeUnknownNextPeer
	}
	return lnwire.CodeTemporaryChannelFailure
}
