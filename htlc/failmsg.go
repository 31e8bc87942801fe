package htlc

import (
	"bytes"
	"errors"
	"fmt"

	sphinx "github.com/lightningnetwork/lightning-onion"
	"github.com/lightningnetwork/lnd/lnwire"
)

// CreateFailure is what a failing node does: it encodes the BOLT 4 failure
// message with lnwire (an update-class failure carries its channel_update;
// sign it first with SignChannelUpdate), pads it to 256 bytes, adds the HMAC
// keyed by its shared secret with the payer (PeeledOnion.SharedSecret) and
// encrypts it. The result is the reason of its update_fail_htlc.
func CreateFailure(sharedSecret [32]byte, msg lnwire.FailureMessage) ([]byte, error) {
	if msg == nil {
		return nil, errors.New("htlc: create failure: nil message")
	}
	var b bytes.Buffer
	if err := lnwire.EncodeFailure(&b, msg, 0); err != nil {
		return nil, fmt.Errorf("htlc: create failure: %w", err)
	}
	enc, err := errorEncrypter(sharedSecret)
	if err != nil {
		return nil, err
	}
	return enc.EncryptError(true, b.Bytes()), nil
}

// WrapFailure is what each node on the way back does with a failure it got
// from downstream: it encrypts the reason once more with its own shared
// secret before passing it to the previous node.
func WrapFailure(sharedSecret [32]byte, reason []byte) ([]byte, error) {
	enc, err := errorEncrypter(sharedSecret)
	if err != nil {
		return nil, err
	}
	return enc.EncryptError(false, reason), nil
}

// MalformedFailure is what a node does with update_fail_malformed_htlc from
// the next node (BOLT 2/4): it builds the BADONION failure message with the
// code and sha256_of_onion it got, and then sends it back as its own
// failure with CreateFailure. The payer thus hears it from this node and
// blames the next one.
func MalformedFailure(code lnwire.FailCode, onionHash [32]byte) (lnwire.FailureMessage, error) {
	switch code {
	case lnwire.CodeInvalidOnionVersion:
		return &lnwire.FailInvalidOnionVersion{OnionSHA256: onionHash}, nil
	case lnwire.CodeInvalidOnionHmac:
		return &lnwire.FailInvalidOnionHmac{OnionSHA256: onionHash}, nil
	case lnwire.CodeInvalidOnionKey:
		return &lnwire.FailInvalidOnionKey{OnionSHA256: onionHash}, nil
	}
	return nil, fmt.Errorf("htlc: malformed failure: code %#04x is not a BADONION code", uint16(code))
}

// errorEncrypter rebuilds lightning-onion's error encrypter from a shared
// secret (its serialized form is the secret itself).
func errorEncrypter(secret [32]byte) (*sphinx.OnionErrorEncrypter, error) {
	enc := &sphinx.OnionErrorEncrypter{}
	if err := enc.Decode(bytes.NewReader(secret[:])); err != nil {
		return nil, fmt.Errorf("htlc: error encrypter: %w", err)
	}
	return enc, nil
}
