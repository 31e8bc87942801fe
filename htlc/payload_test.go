package htlc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"github.com/payengine/payengine/graph"
)

// TestHopPayloadBytes pins the BOLT 4 tlv_payload encoding: amt_to_forward
// (type 2) and outgoing_cltv_value (type 4) as truncated integers,
// short_channel_id (type 6) as 8 bytes, payment_data (type 8) as the 32-byte
// secret and a truncated total_msat.
func TestHopPayloadBytes(t *testing.T) {
	secret := [32]byte(bytes.Repeat([]byte{0x11}, 32))
	tests := []struct {
		name string
		p    HopPayload
		hex  string
	}{
		{"intermediate", HopPayload{AmountToForward: 1000, OutgoingCLTV: 800015, NextChannel: graph.NewSCID(101, 1, 0)},
			"020203e8" + "04030c350f" + "06080000650000010000"},
		{"final with payment_data", HopPayload{Final: true, AmountToForward: 1000, OutgoingCLTV: 800010,
			PaymentData: &PaymentData{Secret: secret, TotalMsat: 1000}},
			"020203e8" + "04030c350a" + "0822" + hex.EncodeToString(secret[:]) + "03e8"},
		{"final bare", HopPayload{Final: true, AmountToForward: 0, OutgoingCLTV: 0}, "0200" + "0400"},
		{"final with metadata", HopPayload{Final: true, AmountToForward: 1, OutgoingCLTV: 1, Metadata: []byte{0x01, 0xfa}},
			"020101" + "040101" + "100201fa"},
	}
	for i, tt := range tests {
		b, err := tt.p.Encode()
		if err != nil {
			t.Fatalf("#%d %s: %v", i, tt.name, err)
		}
		if hex.EncodeToString(b) != tt.hex {
			t.Errorf("#%d %s:\n got %x\nwant %s", i, tt.name, b, tt.hex)
		}
		back, err := DecodeHopPayload(b, tt.p.Final)
		if err != nil || !reflect.DeepEqual(back, tt.p) {
			t.Errorf("#%d %s: decoded %+v, %v", i, tt.name, back, err)
		}
	}
}

// TestHopPayloadRejects: BOLT 4 reader requirements; errors name the type.
func TestHopPayloadRejects(t *testing.T) {
	tests := []struct {
		name  string
		hex   string
		final bool
		typ   uint64
	}{
		{"no amt_to_forward", "04030c350f06080000650000010000", false, 2},
		{"no outgoing_cltv_value", "020203e806080000650000010000", false, 4},
		{"intermediate without short_channel_id", "020203e804030c350f", false, 6},
		{"intermediate with payment_data", "020203e804030c350f06080000650000010000" + "0822" + "1111111111111111111111111111111111111111111111111111111111111111" + "03e8", false, 8},
		{"unknown even type", "020203e804030c350f" + "0a0100", true, 10},
		{"not canonical (types out of order)", "04030c350f020203e8", true, 0},
		{"truncated", "020203", true, 0},
		{"amount not minimal", "02020001" + "0400", true, 0},
	}
	for i, tt := range tests {
		b, _ := hex.DecodeString(tt.hex)
		_, err := DecodeHopPayload(b, tt.final)
		var pe *PayloadError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPayload) || pe.Type != tt.typ {
			t.Errorf("#%d %s: err %v (type %v)", i, tt.name, err, pe)
		}
	}
}
