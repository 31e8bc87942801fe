package messages

import "github.com/payengine/payengine/graph"

// OfferHTLC asks a peer actor to add an HTLC on its channel. The answer, an
// HTLCResolved, goes to the sender.
type OfferHTLC struct {
	ID          uint64 // unique per peer while in flight
	Amount      graph.MilliSat
	Expiry      uint32
	PaymentHash [32]byte
	// Onion is our onion; nil when the link builds its own from Route.
	Onion []byte
	// Route, BlockHeight, Secret and Total are what a link that builds
	// the onion needs (link.AddHTLC's fields of those names).
	Route       graph.Route
	BlockHeight uint32
	Secret      *[32]byte
	Total       graph.MilliSat
}

// HTLCResolved is the outcome of an OfferHTLC: exactly one of Preimage,
// Reason (the encrypted failure onion), Malformed, Sourced or Local is set.
type HTLCResolved struct {
	ID        uint64
	Preimage  *[32]byte
	Reason    []byte
	Malformed *Malformed
	Sourced   *Sourced // decoded by a link that built the onion
	Local     error    // refused before it left: no balance, no slot, no channel
}

// Malformed is an update_fail_malformed_htlc from the first hop.
type Malformed struct {
	Code      uint16
	OnionHash [32]byte
}

// Sourced is a failure a link decoded itself (link.Sourced): the sender's
// index (0: our node, k+1: route node k) and the BOLT 4 message.
type Sourced struct {
	Index      int
	Message    []byte
	Unreadable bool
	Detail     string
}

// ReattachHTLC asks a peer actor to find out what became of an HTLC a
// previous run offered (restart recovery); the answer is an HTLCResolved,
// as for OfferHTLC.
type ReattachHTLC struct {
	ID     uint64
	Amount graph.MilliSat
	// Hash and Route are what was sent, for a link that finds the HTLC
	// by them rather than by ID.
	Hash  [32]byte
	Route graph.Route
}
