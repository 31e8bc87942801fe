package messages

import "github.com/payengine/payengine/graph"

// OfferHTLC asks a peer actor to add an HTLC on its channel. The answer, an
// HTLCResolved, goes to the sender.
type OfferHTLC struct {
	ID          uint64 // unique per peer while in flight
	Amount      graph.MilliSat
	Expiry      uint32
	PaymentHash [32]byte
	Onion       []byte
}

// HTLCResolved is the outcome of an OfferHTLC: exactly one of Preimage,
// Reason (the encrypted failure onion), Malformed or Local is set.
type HTLCResolved struct {
	ID        uint64
	Preimage  *[32]byte
	Reason    []byte
	Malformed *Malformed
	Local     error // refused before it left: no balance, no slot, no channel
}

// Malformed is an update_fail_malformed_htlc from the first hop.
type Malformed struct {
	Code      uint16
	OnionHash [32]byte
}

// ReattachHTLC asks a peer actor to find out what became of an HTLC a
// previous run offered (restart recovery); the answer is an HTLCResolved,
// as for OfferHTLC.
type ReattachHTLC struct {
	ID     uint64
	Amount graph.MilliSat
}
