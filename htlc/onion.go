package htlc

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/btcsuite/btcd/btcec/v2"
	sphinx "github.com/lightningnetwork/lightning-onion"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// OnionPacketSize is the size of a BOLT 4 onion packet, the onion_routing_packet
// of update_add_htlc: 1366 bytes.
const OnionPacketSize = lnwire.OnionPacketSize

// MaxHops is the longest route an onion can carry (lightning-onion's
// NumMaxHops, if the payloads fit in 1300 bytes). Core Lightning's getroute
// stops at 20.
const MaxHops = sphinx.NumMaxHops

var (
	// ErrEmptyRoute is returned by BuildOnion for a route with no hops.
	ErrEmptyRoute = errors.New("htlc: empty route")

	// ErrInvalidRoute is the class of errors BuildOnion returns for a
	// route it cannot encode (too long, a node id that is not a public
	// key, a CLTV that overflows).
	ErrInvalidRoute = errors.New("htlc: invalid route")

	// ErrSessionKey is returned when the random source gives no usable
	// session key.
	ErrSessionKey = errors.New("htlc: cannot draw a session key")
)

// OnionParams is what BuildOnion needs to wrap a route.
type OnionParams struct {
	// Route is the path as Core Lightning's getroute returns it: hop i's
	// Amount is what the node at its end must receive, Delay the CLTV
	// delta that node must see, relative to the current block height.
	Route graph.Route
	// PaymentHash is the HTLC's payment hash; the onion commits to it as
	// associated data.
	PaymentHash [32]byte
	// PaymentSecret, when not nil, goes to the final node as
	// payment_data with TotalMsat.
	PaymentSecret *[32]byte
	// TotalMsat is payment_data's total_msat; 0 means the final hop's
	// amount (a single-part payment).
	TotalMsat graph.MilliSat
	// Metadata, when not nil, goes to the final node as payment_metadata.
	Metadata []byte
	// BlockHeight is the current block height B.
	BlockHeight uint32
}

// Onion is a built onion and the HTLC that must carry it on the first
// channel.
type Onion struct {
	// Packet is the serialized onion_routing_packet.
	Packet [OnionPacketSize]byte
	// Channel, Amount and Expiry describe the HTLC to add to the first
	// channel: route[0].Channel, route[0].Amount and
	// B + 1 + route[0].Delay.
	Channel graph.SCID
	Amount  graph.MilliSat
	Expiry  uint32
	// PaymentHash is the associated data the onion commits to.
	PaymentHash [32]byte
	// Payloads are the payloads wrapped for each node, route order.
	Payloads []HopPayload
	// Circuit reads failures for this onion (see ReadFailure).
	Circuit Circuit
}

// AbsoluteCLTV returns the expiry of an HTLC with this delay sent at block
// height B: B + 1 + delay, as the onion's hops get it.
func AbsoluteCLTV(height, delay uint32) (uint32, error) { return absoluteCLTV(height, delay) }

// absoluteCLTV returns B + 1 + delay, the expiry Core Lightning's sendpay
// gives a hop with this delay [v0.7.0:lightningd/pay.c send_payment].
func absoluteCLTV(height, delay uint32) (uint32, error) {
	v := uint64(height) + 1 + uint64(delay)
	if v > math.MaxUint32 {
		return 0, fmt.Errorf("%w: cltv %d+1+%d overflows", ErrInvalidRoute, height, delay)
	}
	return uint32(v), nil
}

// RoutePayloads returns the payload each node of the route must find, with
// amounts and CLTVs mapped exactly as Core Lightning's sendpay maps them:
// the node at the end of hop i (i < last) forwards route[i+1].Amount over
// route[i+1].Channel with outgoing_cltv_value B+1+route[i+1].Delay; the
// final node gets route[last].Amount and B+1+route[last].Delay.
func RoutePayloads(p OnionParams) ([]HopPayload, error) {
	n := len(p.Route)
	if n == 0 {
		return nil, ErrEmptyRoute
	}
	out := make([]HopPayload, n)
	for i := 0; i < n-1; i++ {
		next := p.Route[i+1]
		cltv, err := absoluteCLTV(p.BlockHeight, next.Delay)
		if err != nil {
			return nil, err
		}
		out[i] = HopPayload{AmountToForward: next.Amount, OutgoingCLTV: cltv, NextChannel: next.Channel}
	}
	last := p.Route[n-1]
	cltv, err := absoluteCLTV(p.BlockHeight, last.Delay)
	if err != nil {
		return nil, err
	}
	final := HopPayload{Final: true, AmountToForward: last.Amount, OutgoingCLTV: cltv, Metadata: p.Metadata}
	if p.PaymentSecret != nil {
		total := p.TotalMsat
		if total == 0 {
			total = last.Amount
		}
		final.PaymentData = &PaymentData{Secret: *p.PaymentSecret, TotalMsat: total}
	}
	out[n-1] = final
	return out, nil
}

// BuildOnion wraps the route's payloads (see RoutePayloads) in a Sphinx
// packet built with lightning-onion, committing to the payment hash. The
// session key is drawn from rand (crypto/rand.Reader in production, a seeded
// reader in tests); the filler is derived from it, so the same rand bytes
// give the same packet.
func BuildOnion(p OnionParams, rand io.Reader) (*Onion, error) {
	path, ids, payloads, err := onionPath(p)
	if err != nil {
		return nil, err
	}
	session, err := drawSessionKey(rand)
	if err != nil {
		return nil, err
	}
	pkt, err := sphinx.NewOnionPacket(path, session, p.PaymentHash[:], sphinx.DeterministicPacketFiller)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRoute, err)
	}
	var buf bytes.Buffer
	if err := pkt.Encode(&buf); err != nil {
		return nil, fmt.Errorf("htlc: encode onion: %w", err)
	}
	if buf.Len() != OnionPacketSize {
		return nil, fmt.Errorf("htlc: onion is %d bytes, want %d", buf.Len(), OnionPacketSize)
	}
	expiry, err := absoluteCLTV(p.BlockHeight, p.Route[0].Delay)
	if err != nil {
		return nil, err
	}
	o := &Onion{
		Channel:     p.Route[0].Channel,
		Amount:      p.Route[0].Amount,
		Expiry:      expiry,
		PaymentHash: p.PaymentHash,
		Payloads:    payloads,
		Circuit:     Circuit{Path: ids},
	}
	copy(o.Packet[:], buf.Bytes())
	copy(o.Circuit.SessionKey[:], session.Serialize())
	return o, nil
}

// MaxPayloadBytes is how many bytes of hop payloads (each with its length
// and HMAC) an onion carries: BOLT 4's 1300.
const MaxPayloadBytes = sphinx.MaxRoutingPayloadSize

// CheckOnion reports whether BuildOnion can wrap the route: at most
// MaxHops hops, every node id a public key, CLTVs that fit, and hop
// payloads within MaxPayloadBytes (with TLV payloads about 20 to 27 hops
// fit, as amounts, CLTVs and the final payment_data vary in size). It
// draws no key and does no elliptic-curve work beyond parsing the ids,
// so a caller can refuse a route before writing anything. Its errors wrap
// ErrEmptyRoute or ErrInvalidRoute.
func CheckOnion(p OnionParams) error {
	_, _, _, err := onionPath(p)
	return err
}

// onionPath encodes the route's payloads for lightning-onion, checking
// everything NewOnionPacket would refuse.
func onionPath(p OnionParams) (*sphinx.PaymentPath, []graph.NodeID, []HopPayload, error) {
	payloads, err := RoutePayloads(p)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(p.Route) > MaxHops {
		return nil, nil, nil, fmt.Errorf("%w: %d hops, an onion carries at most %d", ErrInvalidRoute, len(p.Route), MaxHops)
	}
	var path sphinx.PaymentPath
	ids := make([]graph.NodeID, len(p.Route))
	size := 0
	for i, hop := range p.Route {
		pub, err := nodePubKey(hop.ID)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%w: hop %d node %s: %w", ErrInvalidRoute, i, hop.ID, err)
		}
		raw, err := payloads[i].Encode()
		if err != nil {
			return nil, nil, nil, err
		}
		hp, err := sphinx.NewTLVHopPayload(raw)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("htlc: hop %d payload: %w", i, err)
		}
		path[i] = sphinx.OnionHop{NodePub: *pub, HopPayload: hp}
		ids[i] = hop.ID
		size += hp.NumBytes()
	}
	if size > MaxPayloadBytes {
		return nil, nil, nil, fmt.Errorf("%w: the payloads of %d hops take %d bytes, an onion carries %d",
			ErrInvalidRoute, len(p.Route), size, MaxPayloadBytes)
	}
	return &path, ids, payloads, nil
}

// drawSessionKey reads 32-byte candidates from r until one is a valid
// secp256k1 scalar (almost always the first).
func drawSessionKey(r io.Reader) (*btcec.PrivateKey, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil random source", ErrSessionKey)
	}
	var b [32]byte
	for range 8 {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSessionKey, err)
		}
		var k btcec.ModNScalar
		if k.SetBytes(&b) == 0 && !k.IsZero() {
			return btcec.PrivKeyFromScalar(&k), nil
		}
	}
	return nil, ErrSessionKey
}

// PeeledOnion is what a forwarding node learns from its layer of an onion.
type PeeledOnion struct {
	// Payload is this node's payload; Payload.Final says whether the
	// node is the destination.
	Payload HopPayload
	// Next is the packet to forward with the next HTLC (zero when
	// Payload.Final).
	Next [OnionPacketSize]byte
	// SharedSecret is this node's shared secret with the payer: the key
	// CreateFailure and WrapFailure need to send a failure back.
	SharedSecret [32]byte
}

// PeelError is the error PeelOnion returns. Code is the BOLT 4 failure the
// node must answer with. When Code has the BADONION bit the node cannot
// encrypt a reply (it may not share a secret with the payer): it sends
// update_fail_malformed_htlc with Code and OnionHash, and the previous node
// turns that into a failure with MalformedFailure. Otherwise SharedSecret is
// set and the node sends Failure() encrypted with CreateFailure.
type PeelError struct {
	Code         lnwire.FailCode
	OnionHash    [32]byte
	SharedSecret *[32]byte
	// PayloadType is the TLV type at fault for invalid_onion_payload.
	PayloadType uint64
	Err         error
}

// Error describes the failure.
func (e *PeelError) Error() string {
	return fmt.Sprintf("htlc: peel onion: %s: %v", failCodeLabel(e.Code), e.Err)
}

// Unwrap returns the cause.
func (e *PeelError) Unwrap() error { return e.Err }

// Failure returns the failure message the node reports (or, for BADONION
// codes, the one the previous node will report on its behalf).
func (e *PeelError) Failure() lnwire.FailureMessage {
	switch e.Code {
	case lnwire.CodeInvalidOnionVersion:
		return &lnwire.FailInvalidOnionVersion{OnionSHA256: e.OnionHash}
	case lnwire.CodeInvalidOnionHmac:
		return &lnwire.FailInvalidOnionHmac{OnionSHA256: e.OnionHash}
	case lnwire.CodeInvalidOnionKey:
		return &lnwire.FailInvalidOnionKey{OnionSHA256: e.OnionHash}
	}
	return lnwire.NewInvalidOnionPayload(e.PayloadType, 0)
}

// PeelOnion processes an onion packet with the node's private key, as a
// forwarding or receiving node does on update_add_htlc: it checks the HMAC
// against the payment hash, decrypts the node's payload and prepares the
// packet for the next node. It keeps no replay log (the caller, a simulated
// node, may). Errors are *PeelError.
func PeelOnion(packet []byte, paymentHash [32]byte, key *btcec.PrivateKey) (*PeeledOnion, error) {
	hash := sha256.Sum256(packet)
	fail := func(code lnwire.FailCode, err error) error {
		return &PeelError{Code: code, OnionHash: hash, Err: err}
	}
	if key == nil {
		return nil, fail(lnwire.CodeInvalidOnionKey, errors.New("no node key"))
	}
	if len(packet) != OnionPacketSize {
		return nil, fail(lnwire.CodeInvalidOnionVersion,
			fmt.Errorf("packet is %d bytes, want %d", len(packet), OnionPacketSize))
	}
	var pkt sphinx.OnionPacket
	if err := pkt.Decode(bytes.NewReader(packet)); err != nil {
		if errors.Is(err, sphinx.ErrInvalidOnionVersion) {
			return nil, fail(lnwire.CodeInvalidOnionVersion, err)
		}
		return nil, fail(lnwire.CodeInvalidOnionKey, err)
	}
	router := sphinx.NewRouter(&sphinx.PrivKeyECDH{PrivKey: key}, sphinx.NewNoOpReplayLog())
	enc, err := sphinx.NewOnionErrorEncrypter(router, pkt.EphemeralKey)
	if err != nil {
		return nil, fail(lnwire.CodeInvalidOnionKey, err)
	}
	var secret bytes.Buffer
	if err := enc.Encode(&secret); err != nil {
		return nil, fail(lnwire.CodeInvalidOnionKey, err)
	}
	out := &PeeledOnion{}
	copy(out.SharedSecret[:], secret.Bytes())

	processed, err := router.ReconstructOnionPacket(&pkt, paymentHash[:])
	switch {
	case errors.Is(err, sphinx.ErrInvalidOnionHMAC):
		return nil, fail(lnwire.CodeInvalidOnionHmac, err)
	case errors.Is(err, sphinx.ErrInvalidOnionKey):
		return nil, fail(lnwire.CodeInvalidOnionKey, err)
	case err != nil:
		// The HMAC held, so the payer built this payload: it is the
		// payload that is wrong, and the node can say so.
		ss := out.SharedSecret
		return nil, &PeelError{Code: lnwire.CodeInvalidOnionPayload, OnionHash: hash, SharedSecret: &ss, Err: err}
	}
	final := processed.Action == sphinx.ExitNode
	if processed.Payload.Type != sphinx.PayloadTLV {
		ss := out.SharedSecret
		return nil, &PeelError{Code: lnwire.CodeInvalidOnionPayload, OnionHash: hash, SharedSecret: &ss,
			Err: errors.New("legacy payload")}
	}
	out.Payload, err = DecodeHopPayload(processed.Payload.Payload, final)
	if err != nil {
		ss := out.SharedSecret
		pe := &PeelError{Code: lnwire.CodeInvalidOnionPayload, OnionHash: hash, SharedSecret: &ss, Err: err}
		var perr *PayloadError
		if errors.As(err, &perr) {
			pe.PayloadType = perr.Type
		}
		return nil, pe
	}
	if !final {
		var next bytes.Buffer
		if err := processed.NextPacket.Encode(&next); err != nil || next.Len() != OnionPacketSize {
			ss := out.SharedSecret
			return nil, &PeelError{Code: lnwire.CodeInvalidOnionPayload, OnionHash: hash, SharedSecret: &ss,
				Err: fmt.Errorf("next packet: %v", err)}
		}
		copy(out.Next[:], next.Bytes())
	}
	return out, nil
}
