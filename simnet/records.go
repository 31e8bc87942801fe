package simnet

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

// Keys of the state store: a prefix byte, then the record's id.
//
//	m name            meta: identity, salt, height, now
//	c scid            a channel's balance moves since New (merge: int64 per side)
//	p scid side       a policy SetPolicy set
//	i hash            an invoice
//	t hash            a payment hash's ground truth (merge: settled msat, settlements, htlcs)
//	u hash            the parts its destination settled (merge: one counter)
//	s hash            its destination's multi-part HTLC set: open or settled
//	q id [node]       an HTLC our node's link took, in flight (with its onion)
//	r id [node]       an HTLC's outcome
//
// The node (4 bytes) is there for our nodes 1 and up only (Options.Ours):
// node 0's keys are a one-node network's.
const (
	prefixMeta    byte = 'm'
	prefixChannel byte = 'c'
	prefixPolicy  byte = 'p'
	prefixInvoice byte = 'i'
	prefixTruth   byte = 't'
	prefixParts   byte = 'u'
	prefixSet     byte = 's'
	prefixPending byte = 'q'
	prefixResult  byte = 'r'
)

// recordVersion is the first byte of every record that is not a counter.
const recordVersion = 1

var (
	metaIdentity = []byte("midentity")
	metaSalt     = []byte("msalt")
	metaHeight   = []byte("mheight")
	metaNow      = []byte("mnow")
)

// errCorrupt is wrapped by every error about a record that cannot be read.
var errCorrupt = errors.New("simnet: corrupt state record")

func key8(prefix byte, v uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], v)
	return k
}

func keyHash(prefix byte, h [32]byte) []byte { return append([]byte{prefix}, h[:]...) }

func policyKey(scid graph.SCID, side int) []byte {
	return append(key8(prefixPolicy, uint64(scid)), byte(side))
}

// enc appends fixed-width big-endian fields.
type enc []byte

func (e enc) u8(v byte) enc     { return append(e, v) }
func (e enc) u16(v uint16) enc  { return binary.BigEndian.AppendUint16(e, v) }
func (e enc) u32(v uint32) enc  { return binary.BigEndian.AppendUint32(e, v) }
func (e enc) u64(v uint64) enc  { return binary.BigEndian.AppendUint64(e, v) }
func (e enc) raw(b []byte) enc  { return append(e, b...) }
func (e enc) blob(b []byte) enc { return append(e.u32(uint32(len(b))), b...) }

// dec reads what enc wrote; a short read sets bad and returns zeros.
type dec struct {
	b   []byte
	bad bool
}

func (d *dec) take(n int) []byte {
	if d.bad || len(d.b) < n {
		d.bad = true
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) u8() byte      { return d.take(1)[0] }
func (d *dec) u16() uint16   { return binary.BigEndian.Uint16(d.take(2)) }
func (d *dec) u32() uint32   { return binary.BigEndian.Uint32(d.take(4)) }
func (d *dec) u64() uint64   { return binary.BigEndian.Uint64(d.take(8)) }
func (d *dec) h32() [32]byte { return [32]byte(d.take(32)) }
func (d *dec) blob() []byte {
	n := d.u32()
	if uint64(n) > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	return append([]byte(nil), d.take(int(n))...)
}

// end reports a record that was short, long or of another version.
func (d *dec) end(what string) error {
	if d.bad || len(d.b) != 0 {
		return fmt.Errorf("%w: %s", errCorrupt, what)
	}
	return nil
}

// storedInvoice is an invoice's record: what the destination keeps and
// whether it was cancelled.
type storedInvoice struct {
	inv       invoice
	cancelled bool
}

func encodeInvoice(s storedInvoice) []byte {
	c := byte(0)
	if s.cancelled {
		c = 1
	}
	i := s.inv
	return enc{recordVersion}.u32(uint32(i.node)).u64(uint64(i.amount)).raw(i.preimage[:]).raw(i.secret[:]).
		u32(i.minFinal).u64(uint64(i.expires)).u64(i.draw).u8(c)
}

func decodeInvoice(b []byte) (storedInvoice, error) {
	d := &dec{b: b}
	var s storedInvoice
	if d.u8() != recordVersion {
		d.bad = true
	}
	s.inv.node = int32(d.u32())
	s.inv.amount = graph.MilliSat(d.u64())
	s.inv.preimage = d.h32()
	s.inv.secret = d.h32()
	s.inv.minFinal = d.u32()
	s.inv.expires = int64(d.u64())
	s.inv.draw = d.u64()
	s.cancelled = d.u8() == 1
	return s, d.end("invoice")
}

func encodeHTLC(r *link.AddHTLC) []byte {
	return enc{recordVersion}.u64(uint64(r.Channel)).u64(uint64(r.Amount)).u32(r.Expiry).raw(r.PaymentHash[:]).raw(r.Onion[:])
}

func decodeHTLC(id uint64, b []byte) (link.AddHTLC, error) {
	d := &dec{b: b}
	r := link.AddHTLC{ID: id}
	if d.u8() != recordVersion {
		d.bad = true
	}
	r.Channel = graph.SCID(d.u64())
	r.Amount = graph.MilliSat(d.u64())
	r.Expiry = d.u32()
	r.PaymentHash = d.h32()
	copy(r.Onion[:], d.take(link.OnionSize))
	return r, d.end("htlc in flight")
}

// Kinds of a stored outcome.
const (
	resultPreimage byte = iota + 1
	resultReason
	resultMalformed
	resultLocal
)

// Kinds of the link error a stored local outcome wraps.
const (
	localUnknownChannel byte = iota + 1
	localInsufficientBalance
	localTooManyHTLCs
	localOther
)

func encodeResult(r link.Result) []byte {
	e := enc{recordVersion}
	switch {
	case r.Preimage != nil:
		return e.u8(resultPreimage).raw(r.Preimage[:])
	case r.Malformed != nil:
		return e.u8(resultMalformed).u16(uint16(r.Malformed.Code)).raw(r.Malformed.OnionHash[:])
	case r.Local != nil:
		kind := localOther
		switch {
		case errors.Is(r.Local, link.ErrUnknownChannel):
			kind = localUnknownChannel
		case errors.Is(r.Local, link.ErrInsufficientBalance):
			kind = localInsufficientBalance
		case errors.Is(r.Local, link.ErrTooManyHTLCs):
			kind = localTooManyHTLCs
		}
		return e.u8(resultLocal).u8(kind).blob([]byte(r.Local.Error()))
	}
	return e.u8(resultReason).blob(r.Reason)
}

func decodeResult(id uint64, b []byte) (link.Result, error) {
	d := &dec{b: b}
	r := link.Result{ID: id}
	if d.u8() != recordVersion {
		d.bad = true
	}
	switch d.u8() {
	case resultPreimage:
		p := d.h32()
		r.Preimage = &p
	case resultReason:
		r.Reason = d.blob()
		if r.Reason == nil {
			r.Reason = []byte{}
		}
	case resultMalformed:
		r.Malformed = &link.Malformed{Code: lnwire.FailCode(d.u16()), OnionHash: d.h32()}
	case resultLocal:
		kind := d.u8()
		msg := string(d.blob())
		var sentinel error
		switch kind {
		case localUnknownChannel:
			sentinel = link.ErrUnknownChannel
		case localInsufficientBalance:
			sentinel = link.ErrInsufficientBalance
		case localTooManyHTLCs:
			sentinel = link.ErrTooManyHTLCs
		}
		r.Local = &storedError{msg: msg, is: sentinel}
	default:
		d.bad = true
	}
	return r, d.end("htlc outcome")
}

// storedError is a local failure read back from the store: its message as
// it was, and the link error it wrapped, for errors.Is.
type storedError struct {
	msg string
	is  error
}

func (e *storedError) Error() string { return e.msg }
func (e *storedError) Unwrap() error { return e.is }

func encodePolicy(p graph.Policy) []byte {
	dis := byte(0)
	if p.Disabled {
		dis = 1
	}
	return enc{recordVersion}.u32(p.BaseMsat).u32(p.FeePPM).u16(p.CLTVDelta).u64(uint64(p.HTLCMin)).
		u64(uint64(p.HTLCMax)).u32(p.LastUpdate).u8(dis)
}

func decodePolicy(b []byte) (graph.Policy, error) {
	d := &dec{b: b}
	var p graph.Policy
	if d.u8() != recordVersion {
		d.bad = true
	}
	p.BaseMsat = d.u32()
	p.FeePPM = d.u32()
	p.CLTVDelta = d.u16()
	p.HTLCMin = graph.MilliSat(d.u64())
	p.HTLCMax = graph.MilliSat(d.u64())
	p.LastUpdate = d.u32()
	p.Disabled = d.u8() == 1
	return p, d.end("policy")
}

// storedSet is a destination's HTLC set of a multi-part payment: its
// total_msat, when its first part came, and whether it settled.
type storedSet struct {
	total   graph.MilliSat
	start   int64
	settled bool
}

func encodeSet(s storedSet) []byte {
	st := byte(0)
	if s.settled {
		st = 1
	}
	return enc{recordVersion}.u64(uint64(s.total)).u64(uint64(s.start)).u8(st)
}

func decodeSet(b []byte) (storedSet, error) {
	d := &dec{b: b}
	var s storedSet
	if d.u8() != recordVersion {
		d.bad = true
	}
	s.total = graph.MilliSat(d.u64())
	s.start = int64(d.u64())
	switch d.u8() {
	case 0:
	case 1:
		s.settled = true
	default:
		d.bad = true
	}
	return s, d.end("htlc set")
}
