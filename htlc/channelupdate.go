package htlc

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// ErrBadUpdateSignature is returned by VerifyChannelUpdate when the update
// was not signed by the given node.
var ErrBadUpdateSignature = errors.New("htlc: channel_update signature does not verify")

// SignChannelUpdate sets update.Signature to the node's signature over the
// update: ECDSA over the double SHA-256 of the message after the signature
// field (BOLT 7), which lnwire's DataToSign returns.
func SignChannelUpdate(update *lnwire.ChannelUpdate1, key *btcec.PrivateKey) error {
	if update == nil || key == nil {
		return errors.New("htlc: sign channel_update: nil update or key")
	}
	data, err := update.DataToSign()
	if err != nil {
		return fmt.Errorf("htlc: sign channel_update: %w", err)
	}
	sig, err := lnwire.NewSigFromSignature(ecdsa.Sign(key, chainhash.DoubleHashB(data)))
	if err != nil {
		return fmt.Errorf("htlc: sign channel_update: %w", err)
	}
	update.Signature = sig
	return nil
}

// VerifyChannelUpdate checks that node signed the update (BOLT 7: the
// signature is over the double SHA-256 of the data after it). It returns nil,
// or an error wrapping ErrBadUpdateSignature.
func VerifyChannelUpdate(update *lnwire.ChannelUpdate1, node graph.NodeID) error {
	if update == nil {
		return fmt.Errorf("%w: no update", ErrBadUpdateSignature)
	}
	pub, err := btcec.ParsePubKey(node[:])
	if err != nil {
		return fmt.Errorf("%w: node %s: %w", ErrBadUpdateSignature, node, err)
	}
	data, err := update.DataToSign()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadUpdateSignature, err)
	}
	sig, err := update.Signature.ToSignature()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadUpdateSignature, err)
	}
	if !sig.Verify(chainhash.DoubleHashB(data), pub) {
		return fmt.Errorf("%w: not signed by %s", ErrBadUpdateSignature, node)
	}
	return nil
}

// PolicyUpdate turns a channel_update into the policy it announces for its
// direction. Without htlc_maximum_msat (message_flags bit 0 clear) the
// policy sets no maximum of its own.
func PolicyUpdate(u *lnwire.ChannelUpdate1) graph.PolicyUpdate {
	p := graph.Policy{
		BaseMsat:   u.BaseFee,
		FeePPM:     u.FeeRate,
		CLTVDelta:  u.TimeLockDelta,
		HTLCMin:    graph.MilliSat(u.HtlcMinimumMsat),
		HTLCMax:    graph.MilliSat(u.HtlcMaximumMsat),
		Disabled:   u.ChannelFlags&lnwire.ChanUpdateDisabled != 0,
		LastUpdate: u.Timestamp,
	}
	if u.MessageFlags&lnwire.ChanUpdateRequiredMaxHtlc == 0 {
		p.HTLCMax = graph.MilliSat(^uint64(0) >> 1)
	}
	return graph.PolicyUpdate{
		SCID:   graph.SCID(u.ShortChannelID.ToUint64()),
		Dir:    uint8(u.ChannelFlags & lnwire.ChanUpdateDirection),
		Policy: p,
	}
}
