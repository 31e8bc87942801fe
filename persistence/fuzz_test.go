package persistence

import (
	"reflect"
	"testing"

	"github.com/payengine/payengine/messages"
)

// FuzzDecodePayment checks that DecodePayment never panics, and that what it
// accepts encodes and decodes back to the same record.
func FuzzDecodePayment(f *testing.F) {
	p := fullPayment(1)
	b, _ := EncodePayment(&p)
	f.Add(b)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePayment(b)
		if err != nil {
			return
		}
		b2, err := EncodePayment(&p)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		p2, err := DecodePayment(b2)
		if err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("re-decode: %v\n got %+v\nwant %+v", err, p2, p)
		}
	})
}

// FuzzDecodeAttempt is FuzzDecodePayment for attempts.
func FuzzDecodeAttempt(f *testing.F) {
	a := fullAttempt(1, 2, messages.AttemptFailed)
	b, _ := EncodeAttempt(&a)
	f.Add(b)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAttempt(b)
		if err != nil {
			return
		}
		b2, err := EncodeAttempt(&a)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		a2, err := DecodeAttempt(b2)
		if err != nil || !reflect.DeepEqual(a, a2) {
			t.Fatalf("re-decode: %v\n got %+v\nwant %+v", err, a2, a)
		}
	})
}
