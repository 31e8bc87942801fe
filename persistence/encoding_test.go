package persistence

import (
	"errors"
	"reflect"
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
