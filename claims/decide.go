package claims

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotClaimed: an outcome was written for a hash nobody claimed.
	ErrNotClaimed = errors.New("claims: hash not claimed")
	// ErrNotHolder: an outcome was written by a member that does not hold
	// the claim (another member's, or a failed claim since replaced).
	ErrNotHolder = errors.New("claims: claim held by another member")
	// ErrComplete: Fail was asked of a payment whose claim is complete; a
	// success is never undone.
	ErrComplete = errors.New("claims: payment already complete")
	// ErrBadPreimage: Complete was given a preimage that does not hash to
	// the payment hash.
	ErrBadPreimage = errors.New("claims: preimage does not match the payment hash")
	// ErrBadMember: the member name is empty, longer than MaxMember or has
	// a "/".
	ErrBadMember = errors.New("claims: bad member name")
)

// MaxMember is the longest member name accepted, in bytes (a node id in hex
// is 66).
const MaxMember = 256

// checkMember refuses empty and over-long names, and names with a "/",
// which would make the held index's keys ambiguous.
func checkMember(member string) error {
	if member == "" || len(member) > MaxMember {
		return fmt.Errorf("%w: %d bytes, want 1..%d", ErrBadMember, len(member), MaxMember)
	}
	if strings.Contains(member, "/") {
		return fmt.Errorf("%w: %q has a /", ErrBadMember, member)
	}
	return nil
}

// claimNext says what Claim writes given the record it read (nil: none):
// a new pending record for member, or nothing (write false) when another
// claim stands, which is then the answer.
func claimNext(hash [32]byte, cur *Claim, member string) (next Claim, write bool) {
	switch {
	case cur == nil:
		return Claim{Hash: hash, Member: member, State: StatePending, Round: 1}, true
	case cur.State == StateFailed:
		return Claim{Hash: hash, Member: member, State: StatePending, Round: cur.Round + 1}, true
	}
	return *cur, false
}

// outcomeNext says what writing the outcome want (StateComplete with
// preimage, or StateFailed) by member does to the record cur: the record to
// write, no write (the outcome is there already), or an error.
//
// A failed claim of member's own may still be completed: the preimage is
// proof the payment succeeded, and the record must say so. Once another
// member holds the hash, the late success is an error (ErrNotHolder) for
// the caller to raise loudly: the hash may have been paid twice.
func outcomeNext(hash [32]byte, cur *Claim, member string, want State, preimage [32]byte) (next Claim, write bool, err error) {
	if want == StateComplete && sha256.Sum256(preimage[:]) != hash {
		return Claim{}, false, fmt.Errorf("%w: %x", ErrBadPreimage, hash)
	}
	switch {
	case cur == nil:
		return Claim{}, false, fmt.Errorf("%w: %x", ErrNotClaimed, hash)
	case cur.Member != member:
		return *cur, false, fmt.Errorf("%w: %x is held by %s (%s), not %s", ErrNotHolder, hash, cur.Member, cur.State, member)
	case cur.State == want:
		return *cur, false, nil
	case cur.State == StateComplete:
		return *cur, false, fmt.Errorf("%w: %x", ErrComplete, hash)
	}
	next = *cur
	next.State = want
	next.Preimage = [32]byte{}
	if want == StateComplete {
		next.Preimage = preimage
	}
	return next, true, nil
}
