package claims

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// paid returns a preimage and its payment hash, both made from seed.
func paid(seed byte) (hash, preimage [32]byte) {
	preimage[0], preimage[31] = seed, 0xAA
	return sha256.Sum256(preimage[:]), preimage
}

// Every state's record reads back as written.
func TestRecordRoundTrip(t *testing.T) {
	hash, pre := paid(1)
	for i, c := range []Claim{
		{Hash: hash, Member: "pay.02ab", State: StatePending, Round: 1},
		{Hash: hash, Member: "pay.02ab", State: StateFailed, Round: 7},
		{Hash: hash, Member: "m", State: StateComplete, Preimage: pre, Round: 2},
	} {
		got, err := decode(hash, encode(c))
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if got != c {
			t.Fatalf("#%d: read %+v, wrote %+v", i, got, c)
		}
	}
}

// A field a later version adds is skipped, as protobuf readers do.
func TestRecordSkipsUnknownFields(t *testing.T) {
	hash, _ := paid(1)
	c := Claim{Hash: hash, Member: "a", State: StatePending, Round: 1}
	b := encode(c)
	b = protowire.AppendTag(b, 99, protowire.BytesType)
	b = protowire.AppendString(b, "from the future")
	b = protowire.AppendTag(b, 100, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 42)
	got, err := decode(hash, b)
	if err != nil || got != c {
		t.Fatalf("decode with unknown fields = %+v, %v; want %+v", got, err, c)
	}
}

// Records this version cannot trust are refused, never guessed at.
func TestRecordRefusesBadRecords(t *testing.T) {
	hash, pre := paid(1)
	_, other := paid(2)
	field := func(b []byte, num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
	}
	good := encode(Claim{Member: "a", State: StatePending, Round: 1})
	for i, tt := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"version 2", field(good, fieldVersion, 2)},
		{"no version", encode(Claim{Member: "a", State: StatePending})[2:]},
		{"no member", field(field(nil, fieldVersion, Version), fieldState, 1)},
		{"state 0", field(good, fieldState, 0)},
		{"state 4", field(good, fieldState, 4)},
		{"state 257", field(good, fieldState, 257)},
		{"complete without preimage", field(good, fieldState, uint64(StateComplete))},
		{"pending with preimage", protowire.AppendBytes(protowire.AppendTag(good, fieldPreimage, protowire.BytesType), pre[:])},
		{"preimage of another hash", encode(Claim{Member: "a", State: StateComplete, Preimage: other})},
		{"short preimage", protowire.AppendBytes(protowire.AppendTag(field(good, fieldState, 2), fieldPreimage, protowire.BytesType), pre[:31])},
	} {
		if _, err := decode(hash, tt.b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("#%d %s: err = %v, want ErrCorrupt", i, tt.name, err)
		}
	}
}

// Claim creates on absence, replaces a failed record with the next round,
// and otherwise answers with the record that stands.
func TestClaimNext(t *testing.T) {
	hash, pre := paid(1)
	for i, tt := range []struct {
		cur       *Claim
		write     bool
		wMember   string
		wState    State
		wRound    uint64
		wPreimage [32]byte
	}{
		{nil, true, "me", StatePending, 1, [32]byte{}},
		{&Claim{Member: "b", State: StateFailed, Round: 3}, true, "me", StatePending, 4, [32]byte{}},
		{&Claim{Member: "me", State: StateFailed, Round: 1}, true, "me", StatePending, 2, [32]byte{}},
		{&Claim{Member: "b", State: StatePending, Round: 1}, false, "b", StatePending, 1, [32]byte{}},
		{&Claim{Member: "me", State: StatePending, Round: 2}, false, "me", StatePending, 2, [32]byte{}},
		{&Claim{Member: "b", State: StateComplete, Preimage: pre, Round: 1}, false, "b", StateComplete, 1, pre},
	} {
		next, write := claimNext(hash, tt.cur, "me")
		if write != tt.write || next.Member != tt.wMember || next.State != tt.wState ||
			next.Round != tt.wRound || next.Preimage != tt.wPreimage {
			t.Errorf("#%d: claimNext(%+v) = %+v, write %v", i, tt.cur, next, write)
		}
	}
}

// Only the holder writes an outcome; a success is never undone; writing
// the same outcome twice changes nothing.
func TestOutcomeNext(t *testing.T) {
	hash, pre := paid(1)
	_, wrong := paid(2)
	pending := &Claim{Member: "me", State: StatePending, Round: 1}
	for i, tt := range []struct {
		cur   *Claim
		want  State
		pre   [32]byte
		write bool
		err   error
	}{
		{pending, StateComplete, pre, true, nil},
		{pending, StateFailed, [32]byte{}, true, nil},
		{pending, StateComplete, wrong, false, ErrBadPreimage},
		{nil, StateComplete, pre, false, ErrNotClaimed},
		{nil, StateFailed, [32]byte{}, false, ErrNotClaimed},
		{&Claim{Member: "b", State: StatePending}, StateComplete, pre, false, ErrNotHolder},
		{&Claim{Member: "b", State: StatePending}, StateFailed, [32]byte{}, false, ErrNotHolder},
		{&Claim{Member: "me", State: StateComplete, Preimage: pre}, StateComplete, pre, false, nil},
		{&Claim{Member: "me", State: StateComplete, Preimage: pre}, StateFailed, [32]byte{}, false, ErrComplete},
		{&Claim{Member: "me", State: StateFailed}, StateFailed, [32]byte{}, false, nil},
		// Ensure a late success of one's own failed claim is recorded.
		{&Claim{Member: "me", State: StateFailed}, StateComplete, pre, true, nil},
	} {
		next, write, err := outcomeNext(hash, tt.cur, "me", tt.want, tt.pre)
		if write != tt.write || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("#%d: outcomeNext(%+v, %s) = write %v, err %v; want write %v, err %v", i, tt.cur, tt.want, write, err, tt.write, tt.err)
			continue
		}
		if write && (next.State != tt.want || next.Member != "me" || (tt.want == StateComplete) != (next.Preimage == pre)) {
			t.Errorf("#%d: writes %+v", i, next)
		}
	}
}

// FuzzDecode: no input makes decode panic, and what it accepts encodes
// back to a record that reads the same.
func FuzzDecode(f *testing.F) {
	hash, pre := paid(1)
	f.Add(encode(Claim{Member: "a", State: StatePending, Round: 1}))
	f.Add(encode(Claim{Member: "b", State: StateComplete, Preimage: pre, Round: 3}))
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decode(hash, b)
		if err != nil {
			return
		}
		again, err := decode(hash, encode(c))
		if err != nil || again != c {
			t.Fatalf("re-encoded %+v reads %+v, %v", c, again, err)
		}
		if !bytes.Equal(encode(again), encode(c)) {
			t.Fatal("encoding not stable")
		}
	})
}
