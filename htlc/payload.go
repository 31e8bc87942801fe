package htlc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/record"
	"github.com/lightningnetwork/lnd/tlv"
	"github.com/payengine/payengine/graph"
)

// ErrInvalidPayload is the class of errors DecodeHopPayload returns; see
// PayloadError for the offending TLV type.
var ErrInvalidPayload = errors.New("htlc: invalid hop payload")

// PaymentData is the final hop's payment_data record (BOLT 4 type 8): the
// invoice's payment secret and the total amount of the payment.
type PaymentData struct {
	Secret    [32]byte
	TotalMsat graph.MilliSat
}

// HopPayload is what one node of a route finds in its layer of the onion, a
// BOLT 4 tlv_payload. An intermediate node gets amt_to_forward,
// outgoing_cltv_value and short_channel_id (types 2, 4, 6); the final node
// gets amt_to_forward, outgoing_cltv_value and, when the invoice had a
// payment secret, payment_data (type 8), and payment_metadata (type 16) when
// the invoice had metadata.
type HopPayload struct {
	// Final is true for the destination's payload: no short_channel_id.
	Final bool
	// AmountToForward is amt_to_forward: what the next HTLC must carry,
	// or for the final node what it must receive.
	AmountToForward graph.MilliSat
	// OutgoingCLTV is outgoing_cltv_value: the absolute expiry of the
	// next HTLC, or for the final node the expiry it must see.
	OutgoingCLTV uint32
	// NextChannel is short_channel_id, the channel to forward over
	// (intermediate nodes only).
	NextChannel graph.SCID
	// PaymentData is payment_data (final node only); nil when absent.
	PaymentData *PaymentData
	// Metadata is payment_metadata (final node only); nil when absent.
	Metadata []byte
}

// PayloadError is the error DecodeHopPayload returns. Type is the TLV type
// at fault, the value BOLT 4's invalid_onion_payload failure reports.
type PayloadError struct {
	Type uint64
	Err  error
}

// Error describes the fault.
func (e *PayloadError) Error() string {
	return fmt.Sprintf("htlc: invalid hop payload: tlv type %d: %v", e.Type, e.Err)
}

// Unwrap returns ErrInvalidPayload and the cause.
func (e *PayloadError) Unwrap() []error { return []error{ErrInvalidPayload, e.Err} }

// Encode serializes the payload as a BOLT 4 TLV stream (without the length
// prefix the onion adds).
func (p HopPayload) Encode() ([]byte, error) {
	amt := uint64(p.AmountToForward)
	cltv := p.OutgoingCLTV
	recs := []tlv.Record{record.NewAmtToFwdRecord(&amt), record.NewLockTimeRecord(&cltv)}
	if !p.Final {
		scid := uint64(p.NextChannel)
		recs = append(recs, record.NewNextHopIDRecord(&scid))
	} else {
		if p.PaymentData != nil {
			mpp := record.NewMPP(lnwire.MilliSatoshi(p.PaymentData.TotalMsat), p.PaymentData.Secret)
			recs = append(recs, mpp.Record())
		}
		if p.Metadata != nil {
			meta := p.Metadata
			recs = append(recs, record.NewMetadataRecord(&meta))
		}
	}
	stream, err := tlv.NewStream(recs...)
	if err != nil {
		return nil, fmt.Errorf("htlc: encode hop payload: %w", err)
	}
	var b bytes.Buffer
	if err := stream.Encode(&b); err != nil {
		return nil, fmt.Errorf("htlc: encode hop payload: %w", err)
	}
	return b.Bytes(), nil
}

// DecodeHopPayload parses a BOLT 4 tlv_payload. final says whether the
// packet said this node is the last (sphinx's exit-node marker). It checks
// what BOLT 4 requires a reader to check: the records a node of that kind
// needs are present and no unknown even type is. Errors are *PayloadError.
func DecodeHopPayload(b []byte, final bool) (HopPayload, error) {
	var (
		amt   uint64
		cltv  uint32
		scid  uint64
		mpp   = &record.MPP{}
		meta  []byte
		p     = HopPayload{Final: final}
		known = map[tlv.Type]bool{
			record.AmtOnionType: true, record.LockTimeOnionType: true,
			record.NextHopOnionType: true, record.MPPOnionType: true,
			record.MetadataOnionType: true,
		}
	)
	stream, err := tlv.NewStream(
		record.NewAmtToFwdRecord(&amt),
		record.NewLockTimeRecord(&cltv),
		record.NewNextHopIDRecord(&scid),
		mpp.Record(),
		record.NewMetadataRecord(&meta),
	)
	if err != nil {
		return p, &PayloadError{Err: err}
	}
	types, err := stream.DecodeWithParsedTypesP2P(bytes.NewReader(b))
	if err != nil {
		return p, &PayloadError{Err: err}
	}
	for t := range types {
		if !known[t] && t%2 == 0 {
			return p, &PayloadError{Type: uint64(t), Err: errors.New("unknown even type")}
		}
	}
	_, hasAmt := types[record.AmtOnionType]
	_, hasCLTV := types[record.LockTimeOnionType]
	_, hasSCID := types[record.NextHopOnionType]
	_, hasMPP := types[record.MPPOnionType]
	_, hasMeta := types[record.MetadataOnionType]
	switch {
	case !hasAmt:
		return p, &PayloadError{Type: uint64(record.AmtOnionType), Err: errors.New("amt_to_forward missing")}
	case !hasCLTV:
		return p, &PayloadError{Type: uint64(record.LockTimeOnionType), Err: errors.New("outgoing_cltv_value missing")}
	case !final && !hasSCID:
		return p, &PayloadError{Type: uint64(record.NextHopOnionType), Err: errors.New("short_channel_id missing")}
	case !final && hasMPP:
		return p, &PayloadError{Type: uint64(record.MPPOnionType), Err: errors.New("payment_data for an intermediate node")}
	}
	p.AmountToForward = graph.MilliSat(amt)
	p.OutgoingCLTV = cltv
	if !final {
		p.NextChannel = graph.SCID(scid)
	}
	if hasMPP {
		p.PaymentData = &PaymentData{Secret: mpp.PaymentAddr(), TotalMsat: graph.MilliSat(mpp.TotalMsat())}
	}
	if hasMeta {
		p.Metadata = meta
		if p.Metadata == nil {
			p.Metadata = []byte{}
		}
	}
	return p, nil
}
