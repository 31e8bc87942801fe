// Package link is the narrow interface through which a peer actor adds an
// HTLC on one of our channels and learns its outcome. The in-process
// simulated network (simnet) implements it today; a socket implementation
// talking to a real node can follow without changing its users.
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
	// Onion is the onion_routing_packet for the first hop's node.
	Onion [OnionSize]byte
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

// Result is the outcome of one HTLC; exactly one of Preimage, Reason,
// Malformed and Local is set.
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
	// Reattach asks what became of HTLC id, after the caller lost its
	// done callback (a restart): done is called once with its outcome,
	// at once if it is already known, else when it resolves. It returns
	// ErrUnknownHTLC if the link has no record of id.
	Reattach(ctx context.Context, id uint64, done func(Result)) error
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
