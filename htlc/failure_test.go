package htlc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// sent is one onion delivered along a line: what each node peeled.
type sent struct {
	l      line
	o      *Onion
	hash   [32]byte
	peeled []*PeeledOnion
}

func send(t *testing.T, l line, seed uint64) sent {
	t.Helper()
	hash := [32]byte{0xAB, byte(seed)}
	o, err := BuildOnion(OnionParams{Route: l.route, PaymentHash: hash, BlockHeight: testHeight}, seeded(seed))
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	return sent{l: l, o: o, hash: hash, peeled: deliver(t, l, o, hash, nil)}
}

// failAt has route node k create msg and every node before it wrap the
// reason on the way back, as update_fail_htlc travels (BOLT 4 "Returning
// Errors").
func (s sent) failAt(t *testing.T, k int, msg lnwire.FailureMessage) []byte {
	t.Helper()
	reason, err := CreateFailure(s.peeled[k].SharedSecret, msg)
	if err != nil {
		t.Fatalf("node %d: create failure: %v", k, err)
	}
	for j := k - 1; j >= 0; j-- {
		if reason, err = WrapFailure(s.peeled[j].SharedSecret, reason); err != nil {
			t.Fatal(err)
		}
	}
	return reason
}

func (s sent) read(t *testing.T, reason []byte) *Failure {
	t.Helper()
	f, err := ReadFailure(s.l.self.id, s.l.route, s.o.Circuit, reason)
	if err != nil {
		t.Fatalf("read failure: %v", err)
	}
	return f
}

// rawFailure is a failure lnwire has no type for (or encodes differently
// from BOLT 4): just a code.
type rawFailure lnwire.FailCode

func (r rawFailure) Code() lnwire.FailCode { return lnwire.FailCode(r) }
func (r rawFailure) Error() string         { return fmt.Sprintf("raw failure %#04x", uint16(r)) }

// TestVector9 is spec section 13 vector 9: route A->B->C (BC: base 1 msat,
// ppm 10, delta 6; getroute(C, 1000, cltv 9) gives B 1001/15, C 1000/9).
func TestVector9(t *testing.T) {
	r := seeded(9)
	a, b, c := newNode(t, r), newNode(t, r), newNode(t, r)
	ab, bc := graph.NewSCID(101, 1, 0), graph.NewSCID(102, 1, 0)
	l := line{self: a, nodes: []node{b, c}, route: graph.Route{
		{ID: b.id, Channel: ab, Direction: direction(a.id, b.id), Amount: 1001, Delay: 15, Style: "tlv"},
		{ID: c.id, Channel: bc, Direction: direction(b.id, c.id), Amount: 1000, Delay: 9, Style: "tlv"},
	}}
	bcDir := direction(b.id, c.id)
	s := send(t, l, 9)

	t.Run("B temporary_channel_failure -> 204 erring B on BC", func(t *testing.T) {
		upd := signedUpdate(t, b.key, bc, bcDir)
		f := s.read(t, s.failAt(t, 0, lnwire.NewTemporaryChannelFailure(&upd)))
		want := RoutingFailure{ErringIndex: 1, OriginIndex: 0, ErringNode: b.id, ErringChannel: bc,
			ErringDirection: bcDir, FailCode: 0x1007}
		checkRouting(t, f, CodeTryOtherRoute, want)
		if f.Update == nil || len(f.Routing.ChannelUpdate) == 0 || f.UpdateForged {
			t.Fatalf("verified update not returned: %+v", f)
		}
		var w bytes.Buffer
		if _, err := lnwire.WriteMessage(&w, &upd, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Routing.ChannelUpdate, w.Bytes()) {
			t.Errorf("channel_update = %x\nwant %x", f.Routing.ChannelUpdate, w.Bytes())
		}
		if f.Message != "failed: WIRE_TEMPORARY_CHANNEL_FAILURE (reply from remote)" {
			t.Errorf("message %q", f.Message)
		}
	})
	t.Run("C incorrect_or_unknown_payment_details -> 203 erring C, 0:0:0", func(t *testing.T) {
		f := s.read(t, s.failAt(t, 1, lnwire.NewFailIncorrectDetails(1000, testHeight)))
		want := RoutingFailure{ErringIndex: 2, OriginIndex: 1, ErringNode: c.id, Destination: true, ErringChannel: bc,
			ErringDirection: bcDir, FailCode: 0x400f}
		checkRouting(t, f, CodeDestinationPermFail, want)
		js, _ := json.Marshal(f.Routing)
		if !bytes.Contains(js, []byte(`"erring_channel":"0:0:0"`)) {
			t.Errorf("json %s", js)
		}
	})
	t.Run("C final_incorrect_cltv_expiry -> 204", func(t *testing.T) {
		f := s.read(t, s.failAt(t, 1, lnwire.NewFinalIncorrectCltvExpiry(testHeight+10)))
		want := RoutingFailure{ErringIndex: 2, OriginIndex: 1, ErringNode: c.id, Destination: true, ErringChannel: bc,
			ErringDirection: bcDir, FailCode: 18}
		checkRouting(t, f, CodeTryOtherRoute, want)
	})
	t.Run("B invalid_onion_hmac -> 204 erring C", func(t *testing.T) {
		// B forwards a corrupted onion; C cannot use it and answers
		// update_fail_malformed_htlc; B reports it in its own failure.
		bad := s.peeled[0].Next
		bad[500] ^= 0xff
		_, err := PeelOnion(bad[:], s.hash, c.key)
		var pe *PeelError
		if !errors.As(err, &pe) || pe.Code != lnwire.CodeInvalidOnionHmac {
			t.Fatalf("C peel: %v", err)
		}
		msg, err := MalformedFailure(pe.Code, pe.OnionHash)
		if err != nil {
			t.Fatal(err)
		}
		f := s.read(t, s.failAt(t, 0, msg))
		want := RoutingFailure{ErringIndex: 1, OriginIndex: 0, ErringNode: c.id, ErringChannel: bc,
			ErringDirection: bcDir, FailCode: lnwire.CodeInvalidOnionHmac}
		checkRouting(t, f, CodeTryOtherRoute, want)
	})
}

// checkRouting compares a classified failure with the wanted code and object
// (raw_message and channel_update are checked by the callers that care).
func checkRouting(t *testing.T, f *Failure, code int, want RoutingFailure) {
	t.Helper()
	if f.Code != code {
		t.Fatalf("code %d, want %d (%s)", f.Code, code, f.Message)
	}
	got := *f.Routing
	if len(got.RawMessage) < 2 || lnwire.FailCode(uint16(got.RawMessage[0])<<8|uint16(got.RawMessage[1])) != want.FailCode {
		t.Errorf("raw_message %x does not start with failcode %#04x", got.RawMessage, uint16(want.FailCode))
	}
	got.RawMessage, got.ChannelUpdate = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routing failure\n got %+v\nwant %+v", got, want)
	}
}

// bolt4Row is one failure code from spec section 3's table, the codes of
// BOLT 4 "Failure Messages".
type bolt4Row struct {
	name   string
	code   lnwire.FailCode
	msg    func(t *testing.T, upd lnwire.ChannelUpdate1) lnwire.FailureMessage
	update bool
}

func bolt4Table() []bolt4Row {
	plain := func(m lnwire.FailureMessage) func(*testing.T, lnwire.ChannelUpdate1) lnwire.FailureMessage {
		return func(*testing.T, lnwire.ChannelUpdate1) lnwire.FailureMessage { return m }
	}
	h := [32]byte{0x55}
	return []bolt4Row{
		// BOLT 4: "PERM|1: invalid_realm" (lnwire numbers it BADONION|1, so
		// it is sent raw here).
		{"WIRE_INVALID_REALM", lnwire.FlagPerm | 1, plain(rawFailure(lnwire.FlagPerm | 1)), false},
		// BOLT 4: "NODE|2: temporary_node_failure"
		{"WIRE_TEMPORARY_NODE_FAILURE", 0x2002, plain(&lnwire.FailTemporaryNodeFailure{}), false},
		// BOLT 4: "PERM|NODE|2: permanent_node_failure"
		{"WIRE_PERMANENT_NODE_FAILURE", 0x6002, plain(&lnwire.FailPermanentNodeFailure{}), false},
		// BOLT 4: "PERM|NODE|3: required_node_feature_missing"
		{"WIRE_REQUIRED_NODE_FEATURE_MISSING", 0x6003, plain(&lnwire.FailRequiredNodeFeatureMissing{}), false},
		// BOLT 4: "BADONION|PERM|4: invalid_onion_version"
		{"WIRE_INVALID_ONION_VERSION", 0xc004, plain(&lnwire.FailInvalidOnionVersion{OnionSHA256: h}), false},
		// BOLT 4: "BADONION|PERM|5: invalid_onion_hmac"
		{"WIRE_INVALID_ONION_HMAC", 0xc005, plain(&lnwire.FailInvalidOnionHmac{OnionSHA256: h}), false},
		// BOLT 4: "BADONION|PERM|6: invalid_onion_key"
		{"WIRE_INVALID_ONION_KEY", 0xc006, plain(&lnwire.FailInvalidOnionKey{OnionSHA256: h}), false},
		// BOLT 4: "UPDATE|7: temporary_channel_failure"
		{"WIRE_TEMPORARY_CHANNEL_FAILURE", 0x1007, func(_ *testing.T, u lnwire.ChannelUpdate1) lnwire.FailureMessage {
			return lnwire.NewTemporaryChannelFailure(&u)
		}, true},
		// BOLT 4: "PERM|8: permanent_channel_failure"
		{"WIRE_PERMANENT_CHANNEL_FAILURE", 0x4008, plain(&lnwire.FailPermanentChannelFailure{}), false},
		// BOLT 4: "PERM|9: required_channel_feature_missing"
		{"WIRE_REQUIRED_CHANNEL_FEATURE_MISSING", 0x4009, plain(&lnwire.FailRequiredChannelFeatureMissing{}), false},
		// BOLT 4: "PERM|10: unknown_next_peer"
		{"WIRE_UNKNOWN_NEXT_PEER", 16394, plain(&lnwire.FailUnknownNextPeer{}), false},
		// BOLT 4: "UPDATE|11: amount_below_minimum"
		{"WIRE_AMOUNT_BELOW_MINIMUM", 0x100b, func(_ *testing.T, u lnwire.ChannelUpdate1) lnwire.FailureMessage {
			return lnwire.NewAmountBelowMinimum(500, u)
		}, true},
		// BOLT 4: "UPDATE|12: fee_insufficient"
		{"WIRE_FEE_INSUFFICIENT", 0x100c, func(_ *testing.T, u lnwire.ChannelUpdate1) lnwire.FailureMessage {
			return lnwire.NewFeeInsufficient(500, u)
		}, true},
		// BOLT 4: "UPDATE|13: incorrect_cltv_expiry"
		{"WIRE_INCORRECT_CLTV_EXPIRY", 0x100d, func(_ *testing.T, u lnwire.ChannelUpdate1) lnwire.FailureMessage {
			return lnwire.NewIncorrectCltvExpiry(testHeight, u)
		}, true},
		// BOLT 4: "UPDATE|14: expiry_too_soon"
		{"WIRE_EXPIRY_TOO_SOON", 0x100e, func(_ *testing.T, u lnwire.ChannelUpdate1) lnwire.FailureMessage {
			return lnwire.NewExpiryTooSoon(u)
		}, true},
		// BOLT 4: "PERM|15: incorrect_or_unknown_payment_details"
		{"WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS", 0x400f, plain(lnwire.NewFailIncorrectDetails(1000, testHeight)), false},
		// BOLT 4: "18: final_incorrect_cltv_expiry"
		{"WIRE_FINAL_INCORRECT_CLTV_EXPIRY", 18, plain(lnwire.NewFinalIncorrectCltvExpiry(testHeight)), false},
		// BOLT 4: "19: final_incorrect_htlc_amount"
		{"WIRE_FINAL_INCORRECT_HTLC_AMOUNT", 19, plain(lnwire.NewFinalIncorrectHtlcAmount(999)), false},
		// BOLT 4: "UPDATE|20: channel_disabled"
		{"WIRE_CHANNEL_DISABLED", 0x1014, func(_ *testing.T, u lnwire.ChannelUpdate1) lnwire.FailureMessage {
			return lnwire.NewChannelDisabled(0, u)
		}, true},
		// BOLT 4: "21: expiry_too_far"
		{"WIRE_EXPIRY_TOO_FAR", 21, plain(&lnwire.FailExpiryTooFar{}), false},
		// BOLT 4: "PERM|22: invalid_onion_payload"
		{"WIRE_INVALID_ONION_PAYLOAD", 0x4016, plain(lnwire.NewInvalidOnionPayload(6, 0)), false},
	}
}

// TestClassifyBOLT4 sends every code of spec section 3's table from an
// intermediate node and from the destination of a 3-hop route and checks
// Core Lightning v0.7.3's classification: intermediate -> 204, blaming the
// reporter except for BADONION (the next node); destination -> 203 with the
// PERM bit (0x4000), else 204; failcodename as CLN names it; update-class
// failures bring back their (verified) channel_update.
func TestClassifyBOLT4(t *testing.T) {
	l := newLine(t, 44, 3, 20_000, 9)
	s := send(t, l, 44)
	last := len(l.route) - 1
	for i, row := range bolt4Table() {
		for _, k := range []int{0, 1, last} {
			upd := signedUpdate(t, l.nodes[k].key, l.route[min(k+1, last)].Channel, 0)
			msg := row.msg(t, upd)
			if msg.Code() != row.code {
				t.Fatalf("#%d %s: table builds code %#04x, want %#04x", i, row.name, uint16(msg.Code()), uint16(row.code))
			}
			f := s.read(t, s.failAt(t, k, msg))
			ctx := fmt.Sprintf("#%d %s from node %d", i, row.name, k)
			wantCode, wantNode := CodeTryOtherRoute, l.route[k].ID
			wantChan := l.route[last].Channel
			if k == last {
				if row.code&lnwire.FlagPerm != 0 {
					wantCode = CodeDestinationPermFail
				}
			} else {
				wantChan = l.route[k+1].Channel
				if row.code&lnwire.FlagBadOnion != 0 {
					wantNode = l.route[k+1].ID
				}
			}
			if f.Code != wantCode || f.Routing.ErringNode != wantNode || f.Routing.ErringChannel != wantChan ||
				f.Routing.ErringIndex != k+1 || f.Routing.Destination != (k == last) {
				t.Errorf("%s: got code %d node %s chan %s index %d, want %d %s %s %d",
					ctx, f.Code, f.Routing.ErringNode, f.Routing.ErringChannel, f.Routing.ErringIndex, wantCode, wantNode, wantChan, k+1)
			}
			if f.Routing.FailCode != row.code || f.Routing.FailCodeName() != row.name {
				t.Errorf("%s: failcode %#04x %q", ctx, uint16(f.Routing.FailCode), f.Routing.FailCodeName())
			}
			if row.update != (f.Update != nil) || row.update != (len(f.Routing.ChannelUpdate) > 0) || f.UpdateForged {
				t.Errorf("%s: update %v channel_update %d bytes forged %v", ctx, f.Update != nil, len(f.Routing.ChannelUpdate), f.UpdateForged)
			}
		}
	}
}

// TestFailureAttribution fails at every hop of a 5-hop route and checks the
// failure is attributed to that hop with the right routing failure object.
func TestFailureAttribution(t *testing.T) {
	l := newLine(t, 55, 5, 1_000_000, 18)
	s := send(t, l, 55)
	last := len(l.route) - 1
	for k := range l.route {
		f := s.read(t, s.failAt(t, k, &lnwire.FailTemporaryNodeFailure{}))
		want := RoutingFailure{ErringIndex: k + 1, OriginIndex: k, ErringNode: l.route[k].ID, FailCode: 0x2002}
		if k == last {
			want.Destination = true
			want.ErringChannel = l.route[last].Channel
			want.ErringDirection = direction(l.route[last-1].ID, l.route[last].ID)
		} else {
			want.ErringChannel = l.route[k+1].Channel
			want.ErringDirection = direction(l.route[k].ID, l.route[k+1].ID)
		}
		if want.ErringDirection != l.route[min(k+1, last)].Direction {
			t.Fatalf("hop %d: test route direction disagrees", k)
		}
		checkRouting(t, f, CodeTryOtherRoute, want)
	}
}

// TestSingleHopDestinationDirection: with one hop the destination's channel
// is ours, so its direction is self -> destination (CLN's
// remote_routing_failure uses ld->id then).
func TestSingleHopDestinationDirection(t *testing.T) {
	l := newLine(t, 66, 1, 5_000, 9)
	s := send(t, l, 66)
	f := s.read(t, s.failAt(t, 0, lnwire.NewFailIncorrectDetails(5000, testHeight)))
	want := RoutingFailure{ErringIndex: 1, OriginIndex: 0, ErringNode: l.route[0].ID, Destination: true,
		ErringChannel: l.route[0].Channel, ErringDirection: direction(l.self.id, l.route[0].ID), FailCode: 0x400f}
	checkRouting(t, f, CodeDestinationPermFail, want)
}

// TestTamperedFailure: a reason that no hop's key authenticates (BOLT 4:
// the origin "cannot decode" it) is 202 "Malformed error reply" with the
// reply as data.onionreply.
func TestTamperedFailure(t *testing.T) {
	l := newLine(t, 77, 3, 10_000, 9)
	s := send(t, l, 77)
	good := s.failAt(t, 2, &lnwire.FailTemporaryNodeFailure{})
	cases := map[string][]byte{
		"flipped byte": func() []byte { b := append([]byte(nil), good...); b[40] ^= 1; return b }(),
		"truncated":    good[:100],
		"empty":        nil,
		"garbage":      bytes.Repeat([]byte{0x42}, len(good)),
	}
	for name, reason := range cases {
		f := s.read(t, reason)
		if f.Code != CodeUnparseableOnion || f.Routing != nil || f.Message != MessageMalformedReply {
			t.Fatalf("%s: %+v", name, f)
		}
		js, _ := json.Marshal(f.Data())
		want, _ := json.Marshal(map[string]string{"onionreply": hex.EncodeToString(reason)})
		if !bytes.Equal(js, want) {
			t.Errorf("%s: data %s, want %s", name, js, want)
		}
	}
	if f := s.read(t, good); f.Code != CodeTryOtherRoute {
		t.Fatalf("untampered: %+v", f)
	}
}

// TestForgedChannelUpdate: a channel_update not signed by the failing node
// (BOLT 7: signature over the double SHA-256 of the data after it) is
// ignored, not returned for the graph, and flagged so it can be counted.
func TestForgedChannelUpdate(t *testing.T) {
	l := newLine(t, 88, 3, 10_000, 9)
	s := send(t, l, 88)
	mallory := newNode(t, seeded(8888))
	forgedCount := 0
	for i, signer := range []node{l.nodes[0], mallory, l.nodes[1], l.nodes[0], l.self} {
		upd := signedUpdate(t, signer.key, l.route[1].Channel, 0)
		f := s.read(t, s.failAt(t, 0, lnwire.NewFeeInsufficient(10_000, upd)))
		honest := signer.id == l.nodes[0].id
		if f.Code != CodeTryOtherRoute || f.Routing.ErringNode != l.nodes[0].id {
			t.Fatalf("#%d: classification changed by the update: %+v", i, f)
		}
		if honest != (f.Update != nil) || honest == f.UpdateForged || honest != (len(f.Routing.ChannelUpdate) > 0) {
			t.Errorf("#%d signer honest=%v: update %v forged %v channel_update %x", i, honest, f.Update != nil, f.UpdateForged, f.Routing.ChannelUpdate)
		}
		if f.UpdateForged {
			forgedCount++
		}
	}
	if forgedCount != 3 {
		t.Errorf("counted %d forged updates, want 3", forgedCount)
	}
	// A valid signature over changed data no longer verifies.
	upd := signedUpdate(t, l.nodes[0].key, l.route[1].Channel, 0)
	upd.FeeRate++
	if err := VerifyChannelUpdate(&upd, l.nodes[0].id); !errors.Is(err, ErrBadUpdateSignature) {
		t.Errorf("altered update verified: %v", err)
	}
}

// TestLocalFailures: spec section 3 case 1 and section 5.2 / vector 7.
func TestLocalFailures(t *testing.T) {
	l := newLine(t, 99, 2, 10_000, 9)
	f, err := NoFirstPeerFailure(l.self.id, l.route)
	if err != nil {
		t.Fatal(err)
	}
	if f.Code != CodeTryOtherRoute || f.Message != "No connection to first peer found" {
		t.Fatalf("%+v", f)
	}
	js, _ := json.Marshal(f.Data())
	want := fmt.Sprintf(`{"erring_index":0,"origin_index":-1,"failcode":16394,"failcodename":"WIRE_UNKNOWN_NEXT_PEER","erring_node":"%s","erring_channel":"%s","erring_direction":%d}`,
		l.self.id, l.route[0].Channel, direction(l.self.id, l.route[0].ID))
	if string(js) != want {
		t.Errorf("json\n got %s\nwant %s", js, want)
	}
	f, _ = LocalFailure(l.self.id, l.route, lnwire.CodeTemporaryChannelFailure, "First peer not ready")
	if f.Message != "failed: WIRE_TEMPORARY_CHANNEL_FAILURE (First peer not ready)" || f.Routing.ErringIndex != 0 {
		t.Errorf("%+v", f)
	}
	if g, ok := AsFailure(fmt.Errorf("sendpay: %w", f)); !ok || g != f {
		t.Errorf("AsFailure lost the failure")
	}
	if _, err := LocalFailure(l.self.id, nil, lnwire.CodeUnknownNextPeer, ""); !errors.Is(err, ErrEmptyRoute) {
		t.Errorf("empty route: %v", err)
	}
}

// TestReadFailureMismatch: a circuit from another route is a caller error.
func TestReadFailureMismatch(t *testing.T) {
	a := newLine(t, 1, 2, 10_000, 9)
	b := newLine(t, 2, 2, 10_000, 9)
	s := send(t, a, 1)
	if _, err := ReadFailure(a.self.id, b.route, s.o.Circuit, nil); !errors.Is(err, ErrInvalidCircuit) {
		t.Errorf("err = %v", err)
	}
}

// TestRoutingFailureJSON pins the wire shape of a remote failure.
func TestRoutingFailureJSON(t *testing.T) {
	id, _ := graph.ParseNodeID("03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad")
	r := RoutingFailure{ErringIndex: 2, OriginIndex: 1, ErringNode: id, ErringChannel: graph.NewSCID(103, 1, 0),
		ErringDirection: 1, FailCode: 0x1007, ChannelUpdate: []byte{1, 2}, RawMessage: []byte{0x10, 0x07}}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"erring_index":2,"origin_index":1,"failcode":4103,"failcodename":"WIRE_TEMPORARY_CHANNEL_FAILURE","erring_node":"03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad","erring_channel":"103x1x0","erring_direction":1,"channel_update":"0102","raw_message":"1007"}`
	if string(js) != want {
		t.Errorf("\n got %s\nwant %s", js, want)
	}
	r.Destination, r.FailCode, r.ChannelUpdate = true, 0x1234, nil
	js, _ = json.Marshal(r)
	if bytes.Contains(js, []byte("failcodename")) || !bytes.Contains(js, []byte(`"erring_channel":"0:0:0"`)) || bytes.Contains(js, []byte("channel_update")) {
		t.Errorf("unknown code / destination: %s", js)
	}
}

// A channel_update turns into the policy of its direction, with or without
// htlc_maximum_msat.
func TestPolicyUpdate(t *testing.T) {
	u := &lnwire.ChannelUpdate1{
		ShortChannelID: lnwire.NewShortChanIDFromInt(uint64(graph.NewSCID(700, 3, 1))),
		Timestamp:      1234, MessageFlags: lnwire.ChanUpdateRequiredMaxHtlc,
		ChannelFlags:  lnwire.ChanUpdateDirection | lnwire.ChanUpdateDisabled,
		TimeLockDelta: 40, HtlcMinimumMsat: 1000, HtlcMaximumMsat: 5_000_000, BaseFee: 1, FeeRate: 250,
	}
	got := PolicyUpdate(u)
	want := graph.PolicyUpdate{SCID: graph.NewSCID(700, 3, 1), Dir: 1, Policy: graph.Policy{BaseMsat: 1, FeePPM: 250,
		CLTVDelta: 40, HTLCMin: 1000, HTLCMax: 5_000_000, Disabled: true, LastUpdate: 1234}}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	u.MessageFlags, u.ChannelFlags = 0, 0
	if got := PolicyUpdate(u); got.Dir != 0 || got.Policy.Disabled || got.Policy.HTLCMax < 1<<62 {
		t.Fatalf("no htlc_maximum: %+v", got)
	}
}
