package persistence

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/payengine/payengine/messages"
)

func TestEncodingRoundTripEveryField(t *testing.T) {
	p := fullPayment(1)
	p.ID = 99
	// every field must be non-zero, or the round trip proves nothing for it
	assertNoZeroField(t, reflect.ValueOf(p), "Payment")
	b, err := EncodePayment(&p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePayment(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("payment round trip:\n got %+v\nwant %+v", got, p)
	}

	a := fullAttempt(1, 3, messages.AttemptSettled)
	assertNoZeroField(t, reflect.ValueOf(a), "Attempt")
	b, err = EncodeAttempt(&a)
	if err != nil {
		t.Fatal(err)
	}
	ga, err := DecodeAttempt(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ga, a) {
		t.Fatalf("attempt round trip:\n got %+v\nwant %+v", ga, a)
	}
}

func TestEncodingRoundTripMinimal(t *testing.T) {
	p := messages.Payment{Status: messages.PaymentPending}
	b, err := EncodePayment(&p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePayment(b)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("got %+v, %v; want %+v", got, err, p)
	}
	a := messages.Attempt{Status: messages.AttemptPending, Failure: &messages.Failure{Code: 209}}
	b, err = EncodeAttempt(&a)
	if err != nil {
		t.Fatal(err)
	}
	ga, err := DecodeAttempt(b)
	if err != nil || !reflect.DeepEqual(ga, a) {
		t.Fatalf("got %+v, %v; want %+v", ga, err, a)
	}
}

// assertNoZeroField fails if any field (recursively through pointers,
// structs and the first element of slices) is the zero value.
func assertNoZeroField(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.IsZero() {
		t.Fatalf("%s is zero: the test record must set it", path)
	}
	switch v.Kind() {
	case reflect.Pointer:
		assertNoZeroField(t, v.Elem(), path)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			assertNoZeroField(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Slice:
		assertNoZeroField(t, v.Index(0), path+"[0]")
	}
}

func TestEncodeRejectsUnknownStatus(t *testing.T) {
	p := fullPayment(1)
	p.Status = "settled"
	if _, err := EncodePayment(&p); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("EncodePayment(status settled) = %v, want ErrInvalidRecord", err)
	}
	a := fullAttempt(1, 0, "complete")
	if _, err := EncodeAttempt(&a); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("EncodeAttempt(status complete) = %v, want ErrInvalidRecord", err)
	}
}

func TestDecodeUnknownVersionNamesIt(t *testing.T) {
	p := fullPayment(1)
	b, _ := EncodePayment(&p)
	b[0] = 7
	_, err := DecodePayment(b)
	if !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "version 7") {
		t.Fatalf("DecodePayment(v7) = %v, want ErrUnknownVersion naming version 7", err)
	}
	a := fullAttempt(1, 0, messages.AttemptPending)
	b, _ = EncodeAttempt(&a)
	b[0] = 0
	if _, err := DecodeAttempt(b); !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "version 0") {
		t.Fatalf("DecodeAttempt(v0) = %v, want ErrUnknownVersion naming version 0", err)
	}
}

// TestDecodeGarbage checks that every truncation, every one-byte corruption
// and trailing bytes of valid records give an error or a record, never a
// panic, and that truncations and trailing bytes always give an error.
func TestDecodeGarbage(t *testing.T) {
	p := fullPayment(1)
	pb, _ := EncodePayment(&p)
	a := fullAttempt(1, 2, messages.AttemptFailed)
	ab, _ := EncodeAttempt(&a)
	for _, tc := range []struct {
		name   string
		b      []byte
		decode func([]byte) error
	}{
		{"payment", pb, func(b []byte) error { _, err := DecodePayment(b); return err }},
		{"attempt", ab, func(b []byte) error { _, err := DecodeAttempt(b); return err }},
	} {
		for n := 0; n < len(tc.b); n++ {
			if err := tc.decode(tc.b[:n]); err == nil {
				t.Errorf("%s truncated to %d bytes: no error", tc.name, n)
			} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownVersion) {
				t.Errorf("%s truncated to %d bytes: %v is neither ErrCorrupt nor ErrUnknownVersion", tc.name, n, err)
			}
		}
		if err := tc.decode(append(append([]byte(nil), tc.b...), 0)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s with a trailing byte: %v, want ErrCorrupt", tc.name, err)
		}
		for i := range tc.b {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				c := append([]byte(nil), tc.b...)
				c[i] ^= x
				_ = tc.decode(c) // must not panic
			}
		}
	}
}

// Records written by version 1 (before origin_index and the destination
// bit were kept) still decode: origin_index is erring_index-1, and the
// destination bit is what the record tells of it.
func TestDecodeVersion1(t *testing.T) {
	// Encoded by version 1's EncodePayment and EncodeAttempt from
	// fullPayment(1) (ID 5, erring node the payee, nodeOf(9)) and
	// fullAttempt(1, 3, failed), whose failure has erring_index 2.
	const v1Payment = "010000000000000005000000006553f1013f00000000000000010000000000000000000000000000000000000000000000ab07020a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627282903a08d069b8e06e4e2cfaa060102030000000000000000000000000000000000000000000000000000000000096c6162656c20e29883086c6e6263312e2e2e06636f66666565040506000000000000000000000000000000000000000000000000000000000097031e574952455f54454d504f524152595f4348414e4e454c5f4641494c5552450102020a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728298180b080808098d70a018720020102041007000002dead959a97ece39fe7cb1780b09dc2df013ff80000000000003fd00000000000008827e00f"
	const v1Attempt = "0100000000000000010000000000000000000000000000000000000000000000ab07030703a08d069b8e068380888080202d0307070381e2cfaa06b2e2cfaa06020202030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021838088808020019b8e062803746c76020a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728298680948080800100a08d060903746c76090000000000000000000000000000000000000000000000000000000000000097031e574952455f54454d504f524152595f4348414e4e454c5f4641494c555245010202060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324258180b080808098d70a018720020102041007000002dead"
	b, _ := hex.DecodeString(v1Payment)
	p, err := DecodePayment(b)
	if err != nil {
		t.Fatal(err)
	}
	want := fullPayment(1)
	want.ID = 5
	want.Failure.Routing.ErringNode = nodeOf(9)
	want.Pay.MaxParts = 0 // not kept then
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("v1 payment:\n got %+v\nwant %+v", p.Failure.Routing, want.Failure.Routing)
	}
	b, _ = hex.DecodeString(v1Attempt)
	a, err := DecodeAttempt(b)
	if err != nil {
		t.Fatal(err)
	}
	if wa := fullAttempt(1, 3, messages.AttemptFailed); !reflect.DeepEqual(a, wa) {
		t.Fatalf("v1 attempt:\n got %+v\nwant %+v", a.Failure.Routing, wa.Failure.Routing)
	}
	// A v1 record cannot carry the destination bit.
	msg := []byte(fullFailure().Message)
	flags := bytes.Index(b, msg) + len(msg) // the failure's flags follow its message
	b[flags] |= failDestination
	if _, err := DecodeAttempt(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("v1 attempt with the v2 destination flag: %v, want ErrCorrupt", err)
	}
}

// maxparts came within version 2 under a flag of its own: a pay run
// written before it (the golden record, from the code of then) decodes as
// before with maxparts 0; one with maxparts keeps it; the flag without a
// pay run is corrupt.
func TestPayRunMaxParts(t *testing.T) {
	const before = "020000000000000000000000006553f1012900000000000000010000000000000000000000000000000000000000000000ab07020a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627282901a08d069b8e06096c6162656c20e29883086c6e6263312e2e2e06636f666665650405060000000000000000000000000000000000000000000000000000000000959a97ece39fe7cb1780b09dc2df013ff80000000000003fd00000000000008827e00f"
	want := fullPayment(1)
	want.Status = messages.PaymentPending
	want.CompletedAt, want.Preimage, want.Failure = nil, nil, nil
	want.Pay.MaxParts = 0
	b, _ := hex.DecodeString(before)
	got, err := DecodePayment(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || got.Pay.MaxParts != 0 {
		t.Fatalf("payment written before maxparts:\n got %+v\nwant %+v", got, want)
	}
	if enc, _ := EncodePayment(&want); hex.EncodeToString(enc) != before {
		t.Fatal("a pay run without maxparts no longer encodes as before")
	}

	want.Pay.MaxParts = 16
	enc, err := EncodePayment(&want)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = DecodePayment(enc); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("maxparts 16: %v\n got %+v\nwant %+v", err, got.Pay, want.Pay)
	}

	bad := slices.Clone(b)
	bad[payFixedHeaderLen] = (bad[payFixedHeaderLen] &^ payHasPayRun) | payHasMaxParts
	bad = bad[:len(bad)-35] // the pay run: 9+6+8+8+2+2 bytes
	if _, err := DecodePayment(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("maxparts without a pay run: %v, want ErrCorrupt", err)
	}
}
