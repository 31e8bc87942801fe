package persistence

import (
	"encoding/binary"
	"fmt"
)

// Key layout. Every key starts with a one-byte table prefix; integers are
// big-endian so that byte order is numeric order and every scan below is one
// range read.
//
//	0x00 'meta' name                          -> value (next payment id, schema)
//	0x01 hash[32] groupid[8]                  -> Payment record
//	0x02 hash[32] groupid[8] partid[8]        -> Attempt record
//	0x03 created_at[8] hash[32] groupid[8]    -> empty (created-time index)
//	0x04 hash[32] groupid[8] partid[8]        -> empty (attempts in flight)
//	0x05 'liquidity'                          -> graph.Knowledge, its own encoding
const (
	prefixMeta        byte = 0x00
	prefixPayment     byte = 0x01
	prefixAttempt     byte = 0x02
	prefixCreated     byte = 0x03
	prefixPending     byte = 0x04
	prefixKnowledge   byte = 0x05
	paymentKeyLen          = 1 + 32 + 8
	attemptKeyLen          = 1 + 32 + 8 + 8
	createdKeyLen          = 1 + 8 + 32 + 8
	schemaVersion          = 1
	metaNextPaymentID      = "next_payment_id"
	metaSchema             = "schema"
)

func metaKey(name string) []byte {
	return append([]byte{prefixMeta}, name...)
}

func paymentKey(hash [32]byte, group uint64) []byte {
	k := make([]byte, 0, paymentKeyLen)
	k = append(k, prefixPayment)
	k = append(k, hash[:]...)
	return binary.BigEndian.AppendUint64(k, group)
}

// hashPrefix is the prefix of every key of table p that belongs to hash.
func hashPrefix(p byte, hash [32]byte) []byte {
	return append([]byte{p}, hash[:]...)
}

// groupPrefix is the prefix of every key of table p that belongs to (hash, group).
func groupPrefix(p byte, hash [32]byte, group uint64) []byte {
	return binary.BigEndian.AppendUint64(hashPrefix(p, hash), group)
}

func attemptKey(p byte, hash [32]byte, group, part uint64) []byte {
	return binary.BigEndian.AppendUint64(groupPrefix(p, hash, group), part)
}

func createdKey(created uint64, hash [32]byte, group uint64) []byte {
	k := make([]byte, 0, createdKeyLen)
	k = append(k, prefixCreated)
	k = binary.BigEndian.AppendUint64(k, created)
	k = append(k, hash[:]...)
	return binary.BigEndian.AppendUint64(k, group)
}

// prefixEnd returns the smallest key greater than every key starting with p,
// or nil if there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// parseAttemptKey splits an attempt or pending key.
func parseAttemptKey(k []byte) (hash [32]byte, group, part uint64, err error) {
	if len(k) != attemptKeyLen {
		return hash, 0, 0, fmt.Errorf("%w: attempt key of %d bytes", ErrCorrupt, len(k))
	}
	copy(hash[:], k[1:33])
	return hash, binary.BigEndian.Uint64(k[33:41]), binary.BigEndian.Uint64(k[41:49]), nil
}

// parseCreatedKey splits a created-index key.
func parseCreatedKey(k []byte) (c Cursor, err error) {
	if len(k) != createdKeyLen {
		return c, fmt.Errorf("%w: created-index key of %d bytes", ErrCorrupt, len(k))
	}
	c.CreatedAt = binary.BigEndian.Uint64(k[1:9])
	copy(c.PaymentHash[:], k[9:41])
	c.GroupID = binary.BigEndian.Uint64(k[41:49])
	return c, nil
}

// Cursor is a position in created-time order: payments sort by CreatedAt,
// then PaymentHash, then GroupID. ListByCreated starts at a Cursor.
type Cursor struct {
	CreatedAt   uint64
	PaymentHash [32]byte
	GroupID     uint64
}

// CursorAt returns the position of payment p in created-time order.
func CursorAt(createdAt uint64, hash [32]byte, group uint64) Cursor {
	return Cursor{CreatedAt: createdAt, PaymentHash: hash, GroupID: group}
}

// Next returns the position just after c, so that ListByCreated(last.Next())
// continues a listing after the payment at last. The position after the very
// last one possible is itself.
func (c Cursor) Next() Cursor {
	k := createdKey(c.CreatedAt, c.PaymentHash, c.GroupID)
	for i := len(k) - 1; i >= 1; i-- {
		k[i]++
		if k[i] != 0 {
			n, _ := parseCreatedKey(k)
			return n
		}
	}
	return c
}
