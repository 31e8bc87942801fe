package htlc

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	sphinx "github.com/lightningnetwork/lightning-onion"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// Core Lightning's JSON-RPC codes for a failed payment attempt (spec
// section 2).
const (
	// CodeUnparseableOnion (202): the failure onion could not be read;
	// data.onionreply holds it.
	CodeUnparseableOnion = 202
	// CodeDestinationPermFail (203): the destination failed with the
	// PERM bit; do not retry.
	CodeDestinationPermFail = 203
	// CodeTryOtherRoute (204): any other failure; retry on another route.
	CodeTryOtherRoute = 204
)

// MessageMalformedReply is Core Lightning's message for code 202.
const MessageMalformedReply = "Malformed error reply"

// MessageNoFirstPeer is Core Lightning's message when the first hop's peer
// is not connected (spec section 5.2).
const MessageNoFirstPeer = "No connection to first peer found"

// DestinationChannel is how the routing failure object names the channel
// when the destination reported the failure, per the original man page this
// project follows (spec section 3 DOC note; v0.7+ prints the last channel).
const DestinationChannel = "0:0:0"

// RoutingFailure is Core Lightning's routing failure object, the data of
// errors 203 and 204, in the shape the original man pages give it (spec
// section 0 precedence): erring_index and origin_index both, erring_channel
// 0:0:0 for the destination, and channel_update when one arrived with a
// valid signature.
type RoutingFailure struct {
	// ErringIndex is k+1 for route node k, 0 for the local node.
	ErringIndex int
	// OriginIndex is ErringIndex-1: 0 for the first hop's node, -1 for
	// the local node.
	OriginIndex int
	// ErringNode is the node blamed: the reporter, the next node for a
	// BADONION failure, or the local node.
	ErringNode graph.NodeID
	// Destination is true when the destination reported the failure;
	// ErringChannel then prints as 0:0:0.
	Destination bool
	// ErringChannel is the channel blamed: the reporter's outgoing
	// channel route[k+1], route[0] for a local failure, and for the
	// destination the last channel of the route (which Core Lightning
	// v0.7+ prints, and a retry loop may exclude).
	ErringChannel graph.SCID
	// ErringDirection is the direction of ErringChannel as traversed: 0
	// when its sender is the lesser node id.
	ErringDirection uint8
	// FailCode is the BOLT 4 failure code.
	FailCode lnwire.FailCode
	// ChannelUpdate is the channel_update as the node sent it, only when
	// its signature verified.
	ChannelUpdate []byte
	// RawMessage is the decrypted failure message (without length and
	// padding); empty for local failures.
	RawMessage []byte
}

// FailCodeName returns Core Lightning's name for the code
// ("WIRE_TEMPORARY_CHANNEL_FAILURE"), or "" when CLN has none.
func (r *RoutingFailure) FailCodeName() string { return FailCodeName(r.FailCode) }

// routingFailureJSON is the wire shape of RoutingFailure.
type routingFailureJSON struct {
	ErringIndex     int    `json:"erring_index"`
	OriginIndex     int    `json:"origin_index"`
	FailCode        uint16 `json:"failcode"`
	FailCodeName    string `json:"failcodename,omitempty"`
	ErringNode      string `json:"erring_node"`
	ErringChannel   string `json:"erring_channel"`
	ErringDirection uint8  `json:"erring_direction"`
	ChannelUpdate   string `json:"channel_update,omitempty"`
	RawMessage      string `json:"raw_message,omitempty"`
}

// MarshalJSON writes the object with Core Lightning's field names.
func (r RoutingFailure) MarshalJSON() ([]byte, error) {
	ch := r.ErringChannel.String()
	if r.Destination {
		ch = DestinationChannel
	}
	return json.Marshal(routingFailureJSON{
		ErringIndex:     r.ErringIndex,
		OriginIndex:     r.OriginIndex,
		FailCode:        uint16(r.FailCode),
		FailCodeName:    FailCodeName(r.FailCode),
		ErringNode:      r.ErringNode.String(),
		ErringChannel:   ch,
		ErringDirection: r.ErringDirection,
		ChannelUpdate:   hex.EncodeToString(r.ChannelUpdate),
		RawMessage:      hex.EncodeToString(r.RawMessage),
	})
}

// Failure is a classified failure of one payment attempt: the Core Lightning
// error code and message sendpay/waitsendpay answer with, its data, and
// what the graph should learn from it. It implements error.
type Failure struct {
	// Code is CodeUnparseableOnion, CodeDestinationPermFail or
	// CodeTryOtherRoute.
	Code int
	// Message is Core Lightning's error message.
	Message string
	// Routing is the routing failure object (nil for 202).
	Routing *RoutingFailure
	// OnionReply is the failure onion that could not be read (202 only).
	OnionReply []byte
	// Decoded is the failure message as lnwire decodes it; nil for a
	// local failure or a message lnwire does not know.
	Decoded lnwire.FailureMessage
	// Update is the channel_update the failure carried, only when its
	// signature verified against the reporting node: apply it.
	Update *lnwire.ChannelUpdate1
	// UpdateForged is true when the failure carried a channel_update
	// whose signature did not verify; it was dropped, and the caller
	// should count it.
	UpdateForged bool
}

// Error returns "htlc: <message> (code N)".
func (f *Failure) Error() string { return fmt.Sprintf("htlc: %s (code %d)", f.Message, f.Code) }

// Data returns the "data" member of the JSON-RPC error: {"onionreply": hex}
// for 202, the routing failure object otherwise.
func (f *Failure) Data() any {
	if f.Routing == nil {
		return map[string]string{"onionreply": hex.EncodeToString(f.OnionReply)}
	}
	return f.Routing
}

// direction returns 0 when the channel is traversed from the lesser node id
// (Core Lightning's node_id_idx).
func direction(from, to graph.NodeID) uint8 {
	if from.Less(to) {
		return 0
	}
	return 1
}

// NoFirstPeerFailure is the local failure sendpay answers when the first
// hop's peer is not connected: 204 "No connection to first peer found",
// failcode 16394 (unknown_next_peer), erring_node = self (spec section 5.2,
// vector 7).
func NoFirstPeerFailure(self graph.NodeID, route graph.Route) (*Failure, error) {
	f, err := LocalFailure(self, route, lnwire.CodeUnknownNextPeer, "")
	if err != nil {
		return nil, err
	}
	f.Message = MessageNoFirstPeer
	return f, nil
}

// LocalFailure is a failure of our own node (the first channel refused the
// HTLC, or it timed out on chain): 204 with erring_index 0, origin_index -1,
// erring_node self, erring_channel route[0].channel, direction self to
// route[0] (spec section 3, case 1). detail goes in the message
// "failed: WIRE_X (detail)".
func LocalFailure(self graph.NodeID, route graph.Route, code lnwire.FailCode, detail string) (*Failure, error) {
	if len(route) == 0 {
		return nil, ErrEmptyRoute
	}
	return &Failure{
		Code:    CodeTryOtherRoute,
		Message: failMessage(code, detail),
		Routing: &RoutingFailure{
			ErringIndex:     0,
			OriginIndex:     -1,
			ErringNode:      self,
			ErringChannel:   route[0].Channel,
			ErringDirection: direction(self, route[0].ID),
			FailCode:        code,
		},
	}, nil
}

// ReadFailure decrypts the reason of an update_fail_htlc that came back for
// an onion built over route (circuit is that onion's Circuit, self our node
// id) with lightning-onion, finds which hop sent it, decodes the message
// with lnwire, checks any channel_update's signature against the reporting
// node, and classifies it as Core Lightning v0.7.3 does (spec section 3):
//
//   - unreadable onion: 202 with onionreply;
//   - from the destination: 203 if the code has the PERM bit, else 204;
//     erring_channel 0:0:0;
//   - from node k before it: 204, erring_channel route[k+1].channel,
//     erring_node route[k], or route[k+1] for a BADONION code.
//
// A classification is not an error: the error return is only for a route
// and circuit that do not belong together.
func ReadFailure(self graph.NodeID, route graph.Route, circuit Circuit, reason []byte) (*Failure, error) {
	if len(route) == 0 {
		return nil, ErrEmptyRoute
	}
	if len(route) != len(circuit.Path) {
		return nil, fmt.Errorf("%w: route has %d hops, circuit %d", ErrInvalidCircuit, len(route), len(circuit.Path))
	}
	for i := range route {
		if route[i].ID != circuit.Path[i] {
			return nil, fmt.Errorf("%w: hop %d is %s in the route, %s in the circuit",
				ErrInvalidCircuit, i, route[i].ID, circuit.Path[i])
		}
	}
	sc, err := circuit.sphinxCircuit()
	if err != nil {
		return nil, err
	}
	malformed := &Failure{Code: CodeUnparseableOnion, Message: MessageMalformedReply, OnionReply: append([]byte(nil), reason...)}

	dec, err := sphinx.NewOnionErrorDecrypter(sc).DecryptError(reason)
	if err != nil || dec.SenderIdx < 1 || dec.SenderIdx > len(route) {
		return malformed, nil
	}
	msg := dec.Message
	if len(msg) < 2 {
		return malformed, nil
	}
	mlen := int(binary.BigEndian.Uint16(msg))
	if mlen < 2 || 2+mlen > len(msg) {
		return malformed, nil
	}
	// A message lnwire cannot read (or whose padding is wrong) is still
	// classified by its code, with nothing decoded.
	decoded, err := lnwire.DecodeFailure(bytes.NewReader(msg), 0)
	if err != nil {
		decoded = nil
	}
	return classify(self, route, dec.SenderIdx-1, msg[2:2+mlen], decoded), nil
}

// SourcedFailure classifies a failure whose sender and message are already
// known, as a node that builds the onion itself reports them (lnd's
// HTLCAttempt failure: failure_source_index and the decoded message), into
// exactly what ReadFailure answers for the same message from the same hop.
// index is the sender's position: 0 for our own node (a local failure, as
// LocalFailure), k+1 for route node k. failmsg is the BOLT 4 failure
// message (code and fields, without length or padding), as lnwire's
// EncodeFailureMessage writes it.
func SourcedFailure(self graph.NodeID, route graph.Route, index int, failmsg []byte) (*Failure, error) {
	if len(route) == 0 {
		return nil, ErrEmptyRoute
	}
	if index < 0 || index > len(route) {
		return nil, fmt.Errorf("%w: failure from hop %d of a %d-hop route", ErrInvalidCircuit, index, len(route))
	}
	if len(failmsg) < 2 {
		return nil, fmt.Errorf("htlc: failure message of %d bytes", len(failmsg))
	}
	code := lnwire.FailCode(binary.BigEndian.Uint16(failmsg))
	if index == 0 {
		return LocalFailure(self, route, code, "")
	}
	decoded, err := lnwire.DecodeFailureMessage(bytes.NewReader(failmsg), 0)
	if err != nil {
		decoded = nil
	}
	return classify(self, route, index-1, failmsg, decoded), nil
}

// classify is the classification ReadFailure and SourcedFailure share: the
// failure message failmsg (code and fields) came from route node k, and
// lnwire read it as decoded (nil if it could not).
func classify(self graph.NodeID, route graph.Route, k int, failmsg []byte, decoded lnwire.FailureMessage) *Failure {
	code := lnwire.FailCode(binary.BigEndian.Uint16(failmsg))
	last := len(route) - 1
	rf := &RoutingFailure{
		ErringIndex: k + 1,
		OriginIndex: k,
		ErringNode:  route[k].ID,
		FailCode:    code,
		RawMessage:  append([]byte(nil), failmsg...),
	}
	f := &Failure{Code: CodeTryOtherRoute, Routing: rf, Message: failMessage(code, "reply from remote")}
	if k == last {
		rf.Destination = true
		rf.ErringChannel = route[last].Channel
		prev := self
		if last > 0 {
			prev = route[last-1].ID
		}
		rf.ErringDirection = direction(prev, route[last].ID)
		if code&lnwire.FlagPerm != 0 {
			f.Code = CodeDestinationPermFail
		}
	} else {
		rf.ErringChannel = route[k+1].Channel
		rf.ErringDirection = direction(route[k].ID, route[k+1].ID)
		if code&lnwire.FlagBadOnion != 0 {
			rf.ErringNode = route[k+1].ID
		}
	}

	if decoded != nil {
		f.Decoded = decoded
		if upd := embeddedUpdate(decoded); upd != nil {
			if VerifyChannelUpdate(upd, route[k].ID) == nil {
				f.Update = upd
				rf.ChannelUpdate = updateBytes(failmsg)
			} else {
				f.UpdateForged = true
			}
		}
	}
	return f
}

// embeddedUpdate returns the channel_update an update-class failure carries.
func embeddedUpdate(m lnwire.FailureMessage) *lnwire.ChannelUpdate1 {
	switch f := m.(type) {
	case *lnwire.FailTemporaryChannelFailure:
		return f.Update
	case *lnwire.FailAmountBelowMinimum:
		return &f.Update
	case *lnwire.FailFeeInsufficient:
		return &f.Update
	case *lnwire.FailIncorrectCltvExpiry:
		return &f.Update
	case *lnwire.FailExpiryTooSoon:
		return &f.Update
	case *lnwire.FailChannelDisabled:
		return &f.Update
	}
	return nil
}

// updateBytes returns the channel_update field of an update-class failure
// message exactly as sent (BOLT 4: a u16 length and the update, after the
// code's fixed fields), or nil. A length past the end of the message means
// the rest of it, as lnwire reads the update that ReadFailure verifies.
func updateBytes(failmsg []byte) []byte {
	if len(failmsg) < 2 {
		return nil
	}
	var skip int
	switch lnwire.FailCode(binary.BigEndian.Uint16(failmsg)) {
	case lnwire.CodeTemporaryChannelFailure, lnwire.CodeExpiryTooSoon:
		skip = 0
	case lnwire.CodeAmountBelowMinimum, lnwire.CodeFeeInsufficient:
		skip = 8 // htlc_msat
	case lnwire.CodeIncorrectCltvExpiry:
		skip = 4 // cltv_expiry
	case lnwire.CodeChannelDisabled:
		skip = 2 // disabled_flags
	default:
		return nil
	}
	rest := failmsg[2:]
	if len(rest) < skip+2 {
		return nil
	}
	n := int(binary.BigEndian.Uint16(rest[skip:]))
	body := rest[skip+2:]
	if n == 0 || len(body) == 0 {
		return nil
	}
	return append([]byte(nil), body[:min(n, len(body))]...)
}

// failMessage formats Core Lightning's "failed: WIRE_X (detail)".
func failMessage(code lnwire.FailCode, detail string) string {
	if detail == "" {
		return "failed: " + failCodeLabel(code)
	}
	return fmt.Sprintf("failed: %s (%s)", failCodeLabel(code), detail)
}

// failCodeLabel is the CLN name of a code, or its number when CLN has none.
func failCodeLabel(code lnwire.FailCode) string {
	if n := FailCodeName(code); n != "" {
		return n
	}
	return fmt.Sprintf("unknown failcode %d", uint16(code))
}

// codeInvalidRealm is BOLT 4's invalid_realm, PERM|1. (lnwire numbers it
// BADONION|1.)
const codeInvalidRealm = lnwire.FlagPerm | 1

// failCodeNames are Core Lightning's names of BOLT 4 failure codes
// [HEAD:wire/onion_wire.csv]; codes CLN does not name are left out.
var failCodeNames = map[lnwire.FailCode]string{
	codeInvalidRealm:                            "WIRE_INVALID_REALM",
	lnwire.CodeTemporaryNodeFailure:             "WIRE_TEMPORARY_NODE_FAILURE",
	lnwire.CodePermanentNodeFailure:             "WIRE_PERMANENT_NODE_FAILURE",
	lnwire.CodeRequiredNodeFeatureMissing:       "WIRE_REQUIRED_NODE_FEATURE_MISSING",
	lnwire.CodeInvalidOnionVersion:              "WIRE_INVALID_ONION_VERSION",
	lnwire.CodeInvalidOnionHmac:                 "WIRE_INVALID_ONION_HMAC",
	lnwire.CodeInvalidOnionKey:                  "WIRE_INVALID_ONION_KEY",
	lnwire.CodeTemporaryChannelFailure:          "WIRE_TEMPORARY_CHANNEL_FAILURE",
	lnwire.CodePermanentChannelFailure:          "WIRE_PERMANENT_CHANNEL_FAILURE",
	lnwire.CodeRequiredChannelFeatureMissing:    "WIRE_REQUIRED_CHANNEL_FEATURE_MISSING",
	lnwire.CodeUnknownNextPeer:                  "WIRE_UNKNOWN_NEXT_PEER",
	lnwire.CodeAmountBelowMinimum:               "WIRE_AMOUNT_BELOW_MINIMUM",
	lnwire.CodeFeeInsufficient:                  "WIRE_FEE_INSUFFICIENT",
	lnwire.CodeIncorrectCltvExpiry:              "WIRE_INCORRECT_CLTV_EXPIRY",
	lnwire.CodeExpiryTooSoon:                    "WIRE_EXPIRY_TOO_SOON",
	lnwire.CodeIncorrectOrUnknownPaymentDetails: "WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS",
	lnwire.CodeFinalIncorrectCltvExpiry:         "WIRE_FINAL_INCORRECT_CLTV_EXPIRY",
	lnwire.CodeFinalIncorrectHtlcAmount:         "WIRE_FINAL_INCORRECT_HTLC_AMOUNT",
	lnwire.CodeChannelDisabled:                  "WIRE_CHANNEL_DISABLED",
	lnwire.CodeExpiryTooFar:                     "WIRE_EXPIRY_TOO_FAR",
	lnwire.CodeInvalidOnionPayload:              "WIRE_INVALID_ONION_PAYLOAD",
	lnwire.CodeMPPTimeout:                       "WIRE_MPP_TIMEOUT",
	lnwire.CodeInvalidBlinding:                  "WIRE_INVALID_ONION_BLINDING",
}

// FailCodeName returns Core Lightning's name for a BOLT 4 failure code
// ("WIRE_TEMPORARY_CHANNEL_FAILURE"), or "" for a code CLN does not name.
func FailCodeName(code lnwire.FailCode) string { return failCodeNames[code] }

// AsFailure returns the *Failure inside err, if any.
func AsFailure(err error) (*Failure, bool) {
	var f *Failure
	ok := errors.As(err, &f)
	return f, ok
}
