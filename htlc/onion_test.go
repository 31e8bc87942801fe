package htlc

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

const testHeight = 800_000

// deliver plays the route: each node peels the onion it receives with its
// own key and must see exactly the payload the route implies under Core
// Lightning's sendpay mapping (spec section 5.2), and the HTLC it receives
// must carry route[i].Amount with expiry B+1+route[i].Delay. It returns what
// every node peeled.
func deliver(t *testing.T, l line, o *Onion, hash [32]byte, secret *[32]byte) []*PeeledOnion {
	t.Helper()
	r := l.route
	last := len(r) - 1
	// The HTLC on the first channel.
	if o.Channel != r[0].Channel || o.Amount != r[0].Amount || o.Expiry != testHeight+1+r[0].Delay {
		t.Fatalf("first HTLC = %s %s expiry %d, want %s %s expiry %d",
			o.Channel, o.Amount, o.Expiry, r[0].Channel, r[0].Amount, testHeight+1+r[0].Delay)
	}
	packet := o.Packet
	inAmt, inExpiry := o.Amount, o.Expiry
	var peeled []*PeeledOnion
	for i := range r {
		// What node i receives must be what the route says it receives.
		if inAmt != r[i].Amount || inExpiry != testHeight+1+r[i].Delay {
			t.Fatalf("hop %d receives %s expiry %d, want %s expiry %d", i, inAmt, inExpiry, r[i].Amount, testHeight+1+r[i].Delay)
		}
		p, err := PeelOnion(packet[:], hash, l.nodes[i].key)
		if err != nil {
			t.Fatalf("hop %d: peel: %v", i, err)
		}
		var want HopPayload
		if i < last {
			want = HopPayload{AmountToForward: r[i+1].Amount, OutgoingCLTV: testHeight + 1 + r[i+1].Delay, NextChannel: r[i+1].Channel}
		} else {
			want = HopPayload{Final: true, AmountToForward: r[last].Amount, OutgoingCLTV: testHeight + 1 + r[last].Delay}
			if secret != nil {
				want.PaymentData = &PaymentData{Secret: *secret, TotalMsat: r[last].Amount}
			}
		}
		if !reflect.DeepEqual(p.Payload, want) {
			t.Fatalf("hop %d payload\n got %+v\nwant %+v", i, p.Payload, want)
		}
		peeled = append(peeled, p)
		packet = p.Next
		inAmt, inExpiry = p.Payload.AmountToForward, p.Payload.OutgoingCLTV
	}
	return peeled
}

// TestOnionRoundTrip builds onions over 1, 4 and 20 hops with real keys; each
// node peels its layer and finds exactly its payload (BOLT 4 "Packet
// Structure"; amounts and CLTVs as CLN's sendpay maps them).
func TestOnionRoundTrip(t *testing.T) {
	for _, hops := range []int{1, 4, 20} {
		for _, withSecret := range []bool{false, true} {
			t.Run(fmt.Sprintf("hops=%d/secret=%v", hops, withSecret), func(t *testing.T) {
				seed := uint64(hops*10 + 1)
				l := newLine(t, seed, hops, 100_000, 9)
				hash := [32]byte{1, 2, 3}
				var secret *[32]byte
				if withSecret {
					secret = &[32]byte{0x11, 0x22}
				}
				o, err := BuildOnion(OnionParams{Route: l.route, PaymentHash: hash, PaymentSecret: secret, BlockHeight: testHeight}, seeded(seed+1000))
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				peeled := deliver(t, l, o, hash, secret)
				if !peeled[hops-1].Payload.Final {
					t.Fatal("last node does not know it is the destination")
				}
				if len(o.Circuit.Path) != hops || o.Circuit.Path[hops-1] != l.nodes[hops-1].id {
					t.Fatalf("circuit path %v", o.Circuit.Path)
				}
			})
		}
	}
}

// TestOnionDeterministic: the onion depends only on its inputs and the random
// bytes it is given, so a seeded test is reproducible; another seed gives
// another onion.
func TestOnionDeterministic(t *testing.T) {
	l := newLine(t, 7, 4, 50_000, 9)
	p := OnionParams{Route: l.route, PaymentHash: [32]byte{9}, BlockHeight: testHeight}
	a, err := BuildOnion(p, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BuildOnion(p, seeded(1))
	c, _ := BuildOnion(p, seeded(2))
	if a.Packet != b.Packet {
		t.Error("same seed gave different onions")
	}
	if a.Packet == c.Packet {
		t.Error("different seeds gave the same onion")
	}
}

// TestPeelRejects: BOLT 4 "Returning Errors": a node that cannot use the
// onion answers with a BADONION code (invalid_onion_hmac when the HMAC does
// not match, including when the payment hash differs; invalid_onion_version
// for an unknown version; invalid_onion_key for a bad ephemeral key), and
// only a node whose HMAC held may answer invalid_onion_payload itself.
func TestPeelRejects(t *testing.T) {
	l := newLine(t, 3, 3, 10_000, 9)
	hash := [32]byte{7}
	o, err := BuildOnion(OnionParams{Route: l.route, PaymentHash: hash, BlockHeight: testHeight}, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), o.Packet[:]...)
		b[i] ^= 1
		return b
	}
	badKey := append([]byte(nil), o.Packet[:]...)
	badKey[1] = 0x05 // not a compressed point prefix
	tests := []struct {
		name   string
		packet []byte
		hash   [32]byte
		node   int
		want   lnwire.FailCode
	}{
		{"routing info tampered", flip(100), hash, 0, lnwire.CodeInvalidOnionHmac},
		{"hmac tampered", flip(OnionPacketSize - 1), hash, 0, lnwire.CodeInvalidOnionHmac},
		{"other payment hash", o.Packet[:], [32]byte{8}, 0, lnwire.CodeInvalidOnionHmac},
		{"wrong node", o.Packet[:], hash, 1, lnwire.CodeInvalidOnionHmac},
		{"version 1", func() []byte { b := append([]byte(nil), o.Packet[:]...); b[0] = 1; return b }(), hash, 0, lnwire.CodeInvalidOnionVersion},
		{"bad ephemeral key", badKey, hash, 0, lnwire.CodeInvalidOnionKey},
		{"short packet", o.Packet[:100], hash, 0, lnwire.CodeInvalidOnionVersion},
	}
	for i, tt := range tests {
		_, err := PeelOnion(tt.packet, tt.hash, l.nodes[tt.node].key)
		var pe *PeelError
		if !errors.As(err, &pe) {
			t.Fatalf("#%d %s: err = %v, want *PeelError", i, tt.name, err)
		}
		if pe.Code != tt.want {
			t.Errorf("#%d %s: code %v, want %v", i, tt.name, pe.Code, tt.want)
		}
		if pe.Code&lnwire.FlagBadOnion != 0 && pe.SharedSecret != nil {
			t.Errorf("#%d %s: BADONION failure must go back malformed, without a shared secret", i, tt.name)
		}
		if m := pe.Failure(); m.Code() != tt.want {
			t.Errorf("#%d %s: failure message code %v", i, tt.name, m.Code())
		}
	}
}

// TestPeelInvalidPayload: a payload that passes the HMAC but breaks BOLT 4's
// reader rules (unknown even type, missing short_channel_id for an
// intermediate node) gives invalid_onion_payload with the offending type,
// and the node has the shared secret to say so.
func TestPeelInvalidPayload(t *testing.T) {
	l := newLine(t, 4, 2, 10_000, 9)
	hash := [32]byte{4}
	o, err := BuildOnion(OnionParams{Route: l.route, PaymentHash: hash, BlockHeight: testHeight}, seeded(4))
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild the packet by hand with a bad first payload.
	bad := HopPayload{Final: true, AmountToForward: 1, OutgoingCLTV: 2} // no short_channel_id
	raw, _ := bad.Encode()
	_, err = peelWithPayloads(t, l, hash, [][]byte{raw, mustEncode(t, o.Payloads[1])})
	var pe *PeelError
	if !errors.As(err, &pe) || pe.Code != lnwire.CodeInvalidOnionPayload || pe.SharedSecret == nil || pe.PayloadType != 6 {
		t.Fatalf("missing scid: %v (%+v)", err, pe)
	}
	// Unknown even type 100.
	raw = append(mustEncode(t, o.Payloads[0]), 100, 1, 0)
	_, err = peelWithPayloads(t, l, hash, [][]byte{raw, mustEncode(t, o.Payloads[1])})
	if !errors.As(err, &pe) || pe.Code != lnwire.CodeInvalidOnionPayload || pe.PayloadType != 100 {
		t.Fatalf("unknown even type: %v", err)
	}
	// Unknown odd type 101 is fine.
	raw = append(mustEncode(t, o.Payloads[0]), 101, 1, 0)
	if _, err = peelWithPayloads(t, l, hash, [][]byte{raw, mustEncode(t, o.Payloads[1])}); err != nil {
		t.Fatalf("unknown odd type: %v", err)
	}
}

func mustEncode(t *testing.T, p HopPayload) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// peelWithPayloads builds an onion with raw payloads through the package's
// own path (BuildOnion cannot make bad payloads) and peels the first layer.
func peelWithPayloads(t *testing.T, l line, hash [32]byte, payloads [][]byte) (*PeeledOnion, error) {
	t.Helper()
	pkt, err := buildRaw(l, hash, payloads)
	if err != nil {
		t.Fatal(err)
	}
	return PeelOnion(pkt, hash, l.nodes[0].key)
}

// TestBuildOnionErrors: inputs BuildOnion refuses, with errors, not panics.
func TestBuildOnionErrors(t *testing.T) {
	l := newLine(t, 5, 3, 10_000, 9)
	long := newLine(t, 6, MaxHops+1, 10_000, 9)
	badID := append(graph.Route(nil), l.route...)
	badID[1].ID = graph.NodeID{2} // not on the curve
	overflow := append(graph.Route(nil), l.route...)
	overflow[2].Delay = ^uint32(0)
	tests := []struct {
		name string
		p    OnionParams
		want error
	}{
		{"empty route", OnionParams{}, ErrEmptyRoute},
		{"too many hops", OnionParams{Route: long.route}, ErrInvalidRoute},
		{"node id not a key", OnionParams{Route: badID}, ErrInvalidRoute},
		{"cltv overflow", OnionParams{Route: overflow, BlockHeight: testHeight}, ErrInvalidRoute},
	}
	for i, tt := range tests {
		if _, err := BuildOnion(tt.p, seeded(1)); !errors.Is(err, tt.want) {
			t.Errorf("#%d %s: err = %v, want %v", i, tt.name, err, tt.want)
		}
	}
	if _, err := BuildOnion(OnionParams{Route: l.route}, bytes.NewReader(nil)); !errors.Is(err, ErrSessionKey) {
		t.Errorf("empty random source: %v", err)
	}
}

// CheckOnion agrees with BuildOnion on every route length up to one past
// MaxHops, with small and large amounts and with and without the final
// payment_data: a route it passes builds, one it refuses does not, and
// past some length the 1300 bytes of hop payloads run out before MaxHops.
func TestCheckOnionAgreesWithBuild(t *testing.T) {
	secret := [32]byte{1}
	for _, amount := range []graph.MilliSat{1_000, 2_000_000_000} {
		for _, sec := range []*[32]byte{nil, &secret} {
			longest := 0
			for hops := 1; hops <= MaxHops+1; hops++ {
				l := newLine(t, uint64(hops), hops, amount, 18)
				p := OnionParams{Route: l.route, PaymentSecret: sec, BlockHeight: testHeight}
				cerr := CheckOnion(p)
				_, berr := BuildOnion(p, seeded(1))
				if (cerr == nil) != (berr == nil) {
					t.Fatalf("%d hops, %s: CheckOnion %v, BuildOnion %v", hops, amount, cerr, berr)
				}
				if cerr != nil && !errors.Is(cerr, ErrInvalidRoute) {
					t.Fatalf("%d hops: %v does not wrap ErrInvalidRoute", hops, cerr)
				}
				if cerr == nil {
					longest = hops
				}
			}
			t.Logf("amount %s, payment_data %v: at most %d hops fit", amount, sec != nil, longest)
			if longest < 20 || longest > MaxHops {
				t.Fatalf("amount %s: %d hops fit, want 20..%d", amount, longest, MaxHops)
			}
		}
	}
}
