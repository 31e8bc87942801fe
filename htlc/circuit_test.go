package htlc

import (
	"errors"
	"reflect"
	"testing"

	"github.com/lightningnetwork/lnd/lnwire"
)

// TestCircuitBinary: a circuit survives MarshalBinary/UnmarshalBinary (as it
// would a restart) and still reads the failures of its onion; damaged bytes
// are refused.
func TestCircuitBinary(t *testing.T) {
	l := newLine(t, 123, 4, 10_000, 9)
	s := send(t, l, 123)
	b, err := s.o.Circuit.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Circuit
	if err := back.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(back, s.o.Circuit) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	f, err := ReadFailure(l.self.id, l.route, back, s.failAt(t, 2, &lnwire.FailPermanentChannelFailure{}))
	if err != nil || f.Routing.ErringIndex != 3 {
		t.Fatalf("read with restored circuit: %v %+v", err, f)
	}
	for name, bad := range map[string][]byte{
		"empty":      nil,
		"version":    append([]byte{9}, b[1:]...),
		"truncated":  b[:len(b)-1],
		"extra byte": append(append([]byte(nil), b...), 0),
		"count lies": func() []byte { c := append([]byte(nil), b...); c[33] = 5; return c }(),
		"too many":   func() []byte { c := append([]byte(nil), b[:34]...); c[33] = 200; return c }(),
	} {
		if err := new(Circuit).UnmarshalBinary(bad); !errors.Is(err, ErrInvalidCircuit) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A zero session key cannot read anything.
	zero := s.o.Circuit
	zero.SessionKey = [32]byte{}
	if _, err := ReadFailure(l.self.id, l.route, zero, nil); !errors.Is(err, ErrInvalidCircuit) {
		t.Errorf("zero key: %v", err)
	}
}

// FuzzDecodeHopPayload: any payload bytes decode or give *PayloadError.
func FuzzDecodeHopPayload(f *testing.F) {
	f.Add([]byte{2, 2, 3, 0xe8, 4, 1, 1, 6, 8, 0, 0, 0x65, 0, 0, 1, 0, 0}, false)
	f.Add([]byte{0xfd, 0xff}, true)
	f.Add([]byte{8, 0x22, 1}, true)
	f.Fuzz(func(t *testing.T, b []byte, final bool) {
		p, err := DecodeHopPayload(b, final)
		var pe *PayloadError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("error of type %T", err)
		}
		if err == nil {
			if _, err := p.Encode(); err != nil {
				t.Fatalf("decoded payload does not encode: %v", err)
			}
		}
	})
}
