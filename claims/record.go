// Package claims holds the fleet's claims on payment hashes, in etcd: before
// the first HTLC of a payment group leaves, the member that pays writes
// /claims/<hash> with a compare-and-set (create if absent, or replace a
// failed claim), and after its ledger has the outcome it writes the outcome
// there (with the preimage when complete). At most one payment per hash
// across the fleet rests on this record, not on where the cluster places an
// actor. Claims carry no lease: a crashed member's claims stay pending until
// it restarts and its ledger recovers them; an index of pending claims by
// member (/claims-held/<member>/<hash>), kept in the same transactions, lets
// it find them (Store.Held).
//
// Decisions (what a record allows) are pure functions in this file and
// decide.go; store.go does the etcd I/O.
package claims

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// State is where a claimed payment stands.
type State uint8

const (
	// StatePending: a member holds the hash and may have HTLCs in flight.
	StatePending State = 1
	// StateComplete: the payment succeeded; the record has the preimage.
	StateComplete State = 2
	// StateFailed: the payment failed with nothing in flight; another
	// Claim may replace the record.
	StateFailed State = 3
)

// String names the state as CLN's listpays does.
func (s State) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateComplete:
		return "complete"
	case StateFailed:
		return "failed"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Claim is one hash's record, as read from or written to etcd.
type Claim struct {
	// Hash is the payment hash claimed.
	Hash [32]byte
	// Member names the fleet member that holds the claim (its node id).
	Member string
	// State is where the payment stands.
	State State
	// Preimage is set when State is StateComplete.
	Preimage [32]byte
	// Round counts the claims on this hash: 1 for the first, one more for
	// each replace of a failed claim.
	Round uint64
	// Revision is etcd's mod revision of the record (not encoded).
	Revision int64
	// Wrote is true when the call that returned this Claim wrote it (not
	// encoded).
	Wrote bool
}

// HeldBy tells whether member holds the claim with the payment still
// pending: the member may pay (its own ledger says whether it already has
// HTLCs for the hash). A pending claim of member's own that this call did
// not write comes from before a restart, or from a Claim whose answer was
// lost after etcd had written it.
func (c Claim) HeldBy(member string) bool {
	return c.State == StatePending && c.Member == member
}

// Version is the encoding version written in every record.
const Version = 1

// The record is protobuf wire format, written with protowire (no generated
// code); as a .proto:
//
//	message Claim {
//	  uint32 version  = 1; // Version; a reader refuses other versions
//	  string member   = 2;
//	  uint32 state    = 3; // State
//	  bytes  preimage = 4; // 32 bytes, only when complete
//	  uint64 round    = 5;
//	}
//
// Unknown fields are skipped, so a later version may add fields without
// changing Version.
const (
	fieldVersion  protowire.Number = 1
	fieldMember   protowire.Number = 2
	fieldState    protowire.Number = 3
	fieldPreimage protowire.Number = 4
	fieldRound    protowire.Number = 5
)

// ErrCorrupt is returned, wrapped, for a record this version cannot read.
var ErrCorrupt = errors.New("claims: unreadable claim record")

// encode writes c's record (Hash, Revision and Wrote are not part of it).
func encode(c Claim) []byte {
	b := protowire.AppendTag(nil, fieldVersion, protowire.VarintType)
	b = protowire.AppendVarint(b, Version)
	b = protowire.AppendTag(b, fieldMember, protowire.BytesType)
	b = protowire.AppendString(b, c.Member)
	b = protowire.AppendTag(b, fieldState, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(c.State))
	if c.State == StateComplete {
		b = protowire.AppendTag(b, fieldPreimage, protowire.BytesType)
		b = protowire.AppendBytes(b, c.Preimage[:])
	}
	b = protowire.AppendTag(b, fieldRound, protowire.VarintType)
	b = protowire.AppendVarint(b, c.Round)
	return b
}

// decode reads a record written by encode for hash.
func decode(hash [32]byte, b []byte) (Claim, error) {
	c := Claim{Hash: hash}
	var version uint64
	var hasPreimage bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return Claim{}, fmt.Errorf("%w: %x: tag: %w", ErrCorrupt, hash, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == fieldVersion && typ == protowire.VarintType:
			version, n = protowire.ConsumeVarint(b)
		case num == fieldMember && typ == protowire.BytesType:
			c.Member, n = protowire.ConsumeString(b)
		case num == fieldState && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			c.State = State(v)
			if v > 255 {
				c.State = 0
			}
		case num == fieldPreimage && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n >= 0 && len(v) != 32 {
				return Claim{}, fmt.Errorf("%w: %x: preimage of %d bytes", ErrCorrupt, hash, len(v))
			}
			copy(c.Preimage[:], v)
			hasPreimage = true
		case num == fieldRound && typ == protowire.VarintType:
			c.Round, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return Claim{}, fmt.Errorf("%w: %x: field %d: %w", ErrCorrupt, hash, num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	switch {
	case version != Version:
		return Claim{}, fmt.Errorf("%w: %x: version %d, this reader knows %d", ErrCorrupt, hash, version, Version)
	case c.Member == "":
		return Claim{}, fmt.Errorf("%w: %x: no member", ErrCorrupt, hash)
	case c.State < StatePending || c.State > StateFailed:
		return Claim{}, fmt.Errorf("%w: %x: state %d", ErrCorrupt, hash, c.State)
	case (c.State == StateComplete) != hasPreimage:
		return Claim{}, fmt.Errorf("%w: %x: %s record with preimage=%v", ErrCorrupt, hash, c.State, hasPreimage)
	case hasPreimage && sha256.Sum256(c.Preimage[:]) != hash:
		return Claim{}, fmt.Errorf("%w: %x: preimage does not hash to it", ErrCorrupt, hash)
	}
	return c, nil
}
