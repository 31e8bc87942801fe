package persistence

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/messages"
)

// Record encoding, version 2 (version 1 still decodes). Every record
// starts with a version byte; a reader rejects versions it does not know
// (ErrUnknownVersion). Integers are
// unsigned varints unless said otherwise; strings and byte slices are a
// varint length and the bytes; optional fields are announced by a flags byte
// and present only when their bit is set. A record must be consumed exactly.
//
// Payment:
//
//	version  id[8 BE]  created_at[8 BE]  flags
//	hash[32] groupid destination[33] status[1]
//	amount_msat?  amount_sent_msat  completed_at?  preimage[32]?
//	label bolt11 description  payment_secret[32]?  failure?
//	[started_at retry_for riskfactor[8 BE float64] maxfeepercent[8 BE float64]
//	exemptfee maxdelay]?  (the pay run)  maxparts?  (the pay run's maxparts)
//
// The id and created_at sit at fixed offsets so the committer can assign row
// ids and find the old created-index entry without a full decode.
//
// Attempt:
//
//	version  hash[32] groupid partid flags status[1]
//	amount_msat amount_sent_msat first_hop link_id created_at resolved_at?
//	route: count, then per hop id[33] channel direction[1] amount delay style
//	preimage[32]?  failure?
//
// Failure: code (signed varint) message flags
// [erring_index origin_index(v2, signed varint) erring_node[33]
// erring_channel erring_direction[1] failcode channel_update raw_message]?
// erroronion. Flag bit 0 says the routing failure object is there; bit 1
// (v2) that the destination reported it.
//
// The maxparts flag (bit 6) came later within version 2: a record without
// it decodes as before, with maxparts 0 (not recorded).
//
// Version 2 added origin_index and the destination bit, so that a failure
// read back answers exactly as it did live. A version 1 failure gets
// origin_index erring_index-1 and, for the destination bit, the best the
// record tells: for an attempt, that the last node of its route reported
// it; for a payment, that the erring node is the one paid.
const (
	recordV1 byte = 1
	recordV2 byte = 2
	// recordVersion is the version this code writes.
	recordVersion = recordV2

	payHasAmount      = 1 << 0
	payHasCompletedAt = 1 << 1
	payHasPreimage    = 1 << 2
	payHasSecret      = 1 << 3
	payHasFailure     = 1 << 4
	payHasPayRun      = 1 << 5
	payHasMaxParts    = 1 << 6 // only with payHasPayRun
	payFlagsKnown     = 1<<7 - 1

	attHasPreimage   = 1 << 0
	attHasFailure    = 1 << 1
	attHasResolvedAt = 1 << 2
	attFlagsKnown    = 1<<3 - 1

	failHasRouting    = 1 << 0
	failDestination   = 1 << 1
	failFlagsKnownV1  = failHasRouting
	failFlagsKnown    = failHasRouting | failDestination
	payIDOffset       = 1
	payCreatedOffset  = 9
	payFixedHeaderLen = 17

	// minHopLen is the fewest bytes one encoded hop takes.
	minHopLen = 33 + 1 + 1 + 1 + 1 + 1
)

var paymentStatusCodes = map[messages.PaymentStatus]byte{
	messages.PaymentPending: 1, messages.PaymentComplete: 2, messages.PaymentFailed: 3,
}

var paymentStatusNames = [...]messages.PaymentStatus{1: messages.PaymentPending, 2: messages.PaymentComplete, 3: messages.PaymentFailed}

var attemptStatusCodes = map[messages.AttemptStatus]byte{
	messages.AttemptPending: 1, messages.AttemptSettled: 2, messages.AttemptFailed: 3,
}

var attemptStatusNames = [...]messages.AttemptStatus{1: messages.AttemptPending, 2: messages.AttemptSettled, 3: messages.AttemptFailed}

// EncodePayment returns the current (version 2) encoding of p. It fails,
// with ErrInvalidRecord, only on an unknown status.
func EncodePayment(p *messages.Payment) ([]byte, error) {
	st, ok := paymentStatusCodes[p.Status]
	if !ok {
		return nil, fmt.Errorf("%w: payment status %q", ErrInvalidRecord, p.Status)
	}
	var flags byte
	if p.AmountMsat != nil {
		flags |= payHasAmount
	}
	if p.CompletedAt != nil {
		flags |= payHasCompletedAt
	}
	if p.Preimage != nil {
		flags |= payHasPreimage
	}
	if p.PaymentSecret != nil {
		flags |= payHasSecret
	}
	if p.Failure != nil {
		flags |= payHasFailure
	}
	if p.Pay != nil {
		flags |= payHasPayRun
		if p.Pay.MaxParts != 0 {
			flags |= payHasMaxParts
		}
	}
	b := make([]byte, 0, 128+len(p.Label)+len(p.Bolt11)+len(p.Description))
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, p.ID)
	b = binary.BigEndian.AppendUint64(b, p.CreatedAt)
	b = append(b, flags)
	b = append(b, p.PaymentHash[:]...)
	b = binary.AppendUvarint(b, p.GroupID)
	b = append(b, p.Destination[:]...)
	b = append(b, st)
	if p.AmountMsat != nil {
		b = binary.AppendUvarint(b, uint64(*p.AmountMsat))
	}
	b = binary.AppendUvarint(b, uint64(p.AmountSentMsat))
	if p.CompletedAt != nil {
		b = binary.AppendUvarint(b, *p.CompletedAt)
	}
	if p.Preimage != nil {
		b = append(b, p.Preimage[:]...)
	}
	b = appendString(b, p.Label)
	b = appendString(b, p.Bolt11)
	b = appendString(b, p.Description)
	if p.PaymentSecret != nil {
		b = append(b, p.PaymentSecret[:]...)
	}
	if p.Failure != nil {
		b = appendFailure(b, p.Failure)
	}
	if r := p.Pay; r != nil {
		b = binary.AppendUvarint(b, r.StartedAt)
		b = binary.AppendUvarint(b, r.RetryFor)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.RiskFactor))
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.MaxFeePercent))
		b = binary.AppendUvarint(b, uint64(r.ExemptFee))
		b = binary.AppendUvarint(b, uint64(r.MaxDelay))
		if r.MaxParts != 0 {
			b = binary.AppendUvarint(b, uint64(r.MaxParts))
		}
	}
	return b, nil
}

// EncodeAttempt returns the current (version 2) encoding of a. It fails,
// with ErrInvalidRecord, only on an unknown status.
func EncodeAttempt(a *messages.Attempt) ([]byte, error) {
	st, ok := attemptStatusCodes[a.Status]
	if !ok {
		return nil, fmt.Errorf("%w: attempt status %q", ErrInvalidRecord, a.Status)
	}
	var flags byte
	if a.Preimage != nil {
		flags |= attHasPreimage
	}
	if a.Failure != nil {
		flags |= attHasFailure
	}
	if a.ResolvedAt != nil {
		flags |= attHasResolvedAt
	}
	b := make([]byte, 0, 96+len(a.Route)*(minHopLen+16))
	b = append(b, recordVersion)
	b = append(b, a.PaymentHash[:]...)
	b = binary.AppendUvarint(b, a.GroupID)
	b = binary.AppendUvarint(b, a.PartID)
	b = append(b, flags, st)
	b = binary.AppendUvarint(b, uint64(a.AmountMsat))
	b = binary.AppendUvarint(b, uint64(a.AmountSentMsat))
	b = binary.AppendUvarint(b, uint64(a.FirstHop))
	b = binary.AppendUvarint(b, a.LinkID)
	b = appendBytes(b, a.Circuit)
	b = binary.AppendUvarint(b, a.CreatedAt)
	if a.ResolvedAt != nil {
		b = binary.AppendUvarint(b, *a.ResolvedAt)
	}
	b = binary.AppendUvarint(b, uint64(len(a.Route)))
	for i := range a.Route {
		h := &a.Route[i]
		b = append(b, h.ID[:]...)
		b = binary.AppendUvarint(b, uint64(h.Channel))
		b = append(b, h.Direction)
		b = binary.AppendUvarint(b, uint64(h.Amount))
		b = binary.AppendUvarint(b, uint64(h.Delay))
		b = appendString(b, h.Style)
	}
	if a.Preimage != nil {
		b = append(b, a.Preimage[:]...)
	}
	if a.Failure != nil {
		b = appendFailure(b, a.Failure)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFailure(b []byte, f *messages.Failure) []byte {
	b = binary.AppendVarint(b, int64(f.Code))
	b = appendString(b, f.Message)
	if f.Routing == nil {
		b = append(b, 0)
	} else {
		r := f.Routing
		flags := byte(failHasRouting)
		if r.Destination {
			flags |= failDestination
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(r.ErringIndex))
		b = binary.AppendVarint(b, int64(r.OriginIndex))
		b = append(b, r.ErringNode[:]...)
		b = binary.AppendUvarint(b, uint64(r.ErringChannel))
		b = append(b, r.ErringDirection)
		b = binary.AppendUvarint(b, uint64(r.FailCode))
		b = appendBytes(b, r.ChannelUpdate)
		b = appendBytes(b, r.RawMessage)
	}
	return appendBytes(b, f.ErrorOnion)
}

// reader decodes a record; the first problem sticks in err and every later
// read returns zero values, so decoders check err once at the end.
type reader struct {
	b   []byte
	off int
	err error
	v   byte // the record's version
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", ErrCorrupt, r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("%s: need %d bytes, %d left", what, n, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) byte1(what string) byte {
	s := r.take(1, what)
	if s == nil {
		return 0
	}
	return s[0]
}

func (r *reader) fixed(dst []byte, what string) {
	if s := r.take(len(dst), what); s != nil {
		copy(dst, s)
	}
}

func (r *reader) be64(what string) uint64 {
	s := r.take(8, what)
	if s == nil {
		return 0
	}
	return binary.BigEndian.Uint64(s)
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("%s: bad varint", what)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("%s: bad varint", what)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) uint(what string, max uint64) uint64 {
	v := r.uvarint(what)
	if v > max {
		r.fail("%s: %d is above %d", what, v, max)
		return 0
	}
	return v
}

func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail("%s: length %d, %d bytes left", what, n, len(r.b)-r.off)
		return nil
	}
	if n == 0 {
		return nil
	}
	return append([]byte(nil), r.take(int(n), what)...)
}

func (r *reader) string(what string) string { return string(r.bytes(what)) }

func (r *reader) flags(what string, known byte) byte {
	f := r.byte1(what)
	if f&^known != 0 {
		r.fail("%s: unknown flag bits %#x", what, f&^known)
	}
	return f
}

func (r *reader) end() {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d trailing bytes", len(r.b)-r.off)
	}
}

func version(b []byte, what string) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty %s record", ErrCorrupt, what)
	}
	if b[0] != recordV1 && b[0] != recordV2 {
		return fmt.Errorf("%w: %s record version %d", ErrUnknownVersion, what, b[0])
	}
	return nil
}

// DecodePayment decodes a payment record of any version this code knows.
// It returns an error wrapping ErrUnknownVersion or ErrCorrupt, never panics,
// and does not keep a reference to b.
func DecodePayment(b []byte) (messages.Payment, error) {
	var p messages.Payment
	if err := version(b, "payment"); err != nil {
		return p, err
	}
	r := &reader{b: b, off: 1, v: b[0]}
	p.ID = r.be64("id")
	p.CreatedAt = r.be64("created_at")
	flags := r.flags("payment flags", payFlagsKnown)
	r.fixed(p.PaymentHash[:], "payment_hash")
	p.GroupID = r.uvarint("groupid")
	r.fixed(p.Destination[:], "destination")
	st := r.byte1("status")
	if r.err == nil {
		if int(st) >= len(paymentStatusNames) || paymentStatusNames[st] == "" {
			r.fail("payment status code %d", st)
		}
		p.Status = paymentStatusNames[st%byte(len(paymentStatusNames))]
	}
	if flags&payHasAmount != 0 {
		v := graph.MilliSat(r.uvarint("amount_msat"))
		p.AmountMsat = &v
	}
	p.AmountSentMsat = graph.MilliSat(r.uvarint("amount_sent_msat"))
	if flags&payHasCompletedAt != 0 {
		v := r.uvarint("completed_at")
		p.CompletedAt = &v
	}
	if flags&payHasPreimage != 0 {
		p.Preimage = new([32]byte)
		r.fixed(p.Preimage[:], "payment_preimage")
	}
	p.Label = r.string("label")
	p.Bolt11 = r.string("bolt11")
	p.Description = r.string("description")
	if flags&payHasSecret != 0 {
		p.PaymentSecret = new([32]byte)
		r.fixed(p.PaymentSecret[:], "payment_secret")
	}
	if flags&payHasFailure != 0 {
		p.Failure = r.failure()
		if rf := p.Failure.Routing; r.v == recordV1 && rf != nil {
			rf.Destination = rf.ErringIndex > 0 && rf.ErringNode == p.Destination
		}
	}
	if flags&payHasPayRun != 0 {
		p.Pay = &messages.PayRun{StartedAt: r.uvarint("pay started_at"), RetryFor: r.uvarint("pay retry_for"),
			RiskFactor: math.Float64frombits(r.be64("pay riskfactor")), MaxFeePercent: math.Float64frombits(r.be64("pay maxfeepercent")),
			ExemptFee: graph.MilliSat(r.uvarint("pay exemptfee")), MaxDelay: uint32(r.uint("pay maxdelay", math.MaxUint32))}
		if flags&payHasMaxParts != 0 {
			p.Pay.MaxParts = uint32(r.uint("pay maxparts", math.MaxUint32))
		}
	} else if flags&payHasMaxParts != 0 {
		r.fail("maxparts without a pay run")
	}
	r.end()
	if r.err != nil {
		return messages.Payment{}, r.err
	}
	return p, nil
}

// DecodeAttempt decodes an attempt record of any version this code knows.
// It returns an error wrapping ErrUnknownVersion or ErrCorrupt, never panics,
// and does not keep a reference to b.
func DecodeAttempt(b []byte) (messages.Attempt, error) {
	var a messages.Attempt
	if err := version(b, "attempt"); err != nil {
		return a, err
	}
	r := &reader{b: b, off: 1, v: b[0]}
	r.fixed(a.PaymentHash[:], "payment_hash")
	a.GroupID = r.uvarint("groupid")
	a.PartID = r.uvarint("partid")
	flags := r.flags("attempt flags", attFlagsKnown)
	st := r.byte1("status")
	if r.err == nil {
		if int(st) >= len(attemptStatusNames) || attemptStatusNames[st] == "" {
			r.fail("attempt status code %d", st)
		}
		a.Status = attemptStatusNames[st%byte(len(attemptStatusNames))]
	}
	a.AmountMsat = graph.MilliSat(r.uvarint("amount_msat"))
	a.AmountSentMsat = graph.MilliSat(r.uvarint("amount_sent_msat"))
	a.FirstHop = graph.SCID(r.uvarint("first_hop"))
	a.LinkID = r.uvarint("link_id")
	a.Circuit = r.bytes("circuit")
	a.CreatedAt = r.uvarint("created_at")
	if flags&attHasResolvedAt != 0 {
		v := r.uvarint("resolved_at")
		a.ResolvedAt = &v
	}
	n := r.uvarint("route length")
	if r.err == nil && n > uint64((len(b)-r.off)/minHopLen) {
		r.fail("route of %d hops in %d bytes", n, len(b)-r.off)
	}
	if r.err == nil && n > 0 {
		a.Route = make(graph.Route, n)
		for i := range a.Route {
			h := &a.Route[i]
			r.fixed(h.ID[:], "hop id")
			h.Channel = graph.SCID(r.uvarint("hop channel"))
			h.Direction = r.byte1("hop direction")
			h.Amount = graph.MilliSat(r.uvarint("hop amount"))
			h.Delay = uint32(r.uint("hop delay", math.MaxUint32))
			h.Style = r.string("hop style")
		}
	}
	if flags&attHasPreimage != 0 {
		a.Preimage = new([32]byte)
		r.fixed(a.Preimage[:], "preimage")
	}
	if flags&attHasFailure != 0 {
		a.Failure = r.failure()
		if rf := a.Failure.Routing; r.v == recordV1 && rf != nil {
			rf.Destination = rf.ErringIndex > 0 && int(rf.ErringIndex) == len(a.Route)
		}
	}
	r.end()
	if r.err != nil {
		return messages.Attempt{}, r.err
	}
	return a, nil
}

func (r *reader) failure() *messages.Failure {
	f := &messages.Failure{}
	code := r.varint("failure code")
	if code < math.MinInt32 || code > math.MaxInt32 {
		r.fail("failure code %d out of range", code)
	}
	f.Code = int32(code)
	f.Message = r.string("failure message")
	known := byte(failFlagsKnown)
	if r.v == recordV1 {
		known = failFlagsKnownV1
	}
	if flags := r.flags("failure flags", known); flags&failHasRouting != 0 {
		rf := &messages.RoutingFailure{Destination: flags&failDestination != 0}
		rf.ErringIndex = uint32(r.uint("erring_index", math.MaxUint32))
		if r.v == recordV1 {
			rf.OriginIndex = int32(rf.ErringIndex) - 1
		} else {
			oi := r.varint("origin_index")
			if oi < math.MinInt32 || oi > math.MaxInt32 {
				r.fail("origin_index %d out of range", oi)
			}
			rf.OriginIndex = int32(oi)
		}
		r.fixed(rf.ErringNode[:], "erring_node")
		rf.ErringChannel = graph.SCID(r.uvarint("erring_channel"))
		rf.ErringDirection = r.byte1("erring_direction")
		rf.FailCode = uint16(r.uint("failcode", math.MaxUint16))
		rf.ChannelUpdate = r.bytes("channel_update")
		rf.RawMessage = r.bytes("raw_message")
		f.Routing = rf
	}
	f.ErrorOnion = r.bytes("erroronion")
	return f
}
