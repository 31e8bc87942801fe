package wirelink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

// sampleMessages is one message of every kind the protocol carries.
func sampleMessages() []lnwire.Message {
	req := link.AddHTLC{ID: 7, Channel: graph.NewSCID(800_000, 12, 1), Amount: 123_456, Expiry: 800_040}
	for i := range req.PaymentHash {
		req.PaymentHash[i] = byte(i)
	}
	for i := range req.Onion {
		req.Onion[i] = byte(i * 7)
	}
	pre := [32]byte{1, 2, 3}
	c := chanID(req.Channel)
	return []lnwire.Message{
		addMsg(&req),
		&lnwire.UpdateFulfillHTLC{ChanID: c, ID: 7, PaymentPreimage: pre, ExtraData: []byte{}},
		&lnwire.UpdateFailHTLC{ChanID: c, ID: 8, Reason: bytes.Repeat([]byte{0xab}, 292), ExtraData: []byte{}},
		&lnwire.UpdateFailHTLC{ChanID: c, ID: 9, Reason: []byte{}, ExtraData: []byte{}},
		&lnwire.UpdateFailMalformedHTLC{ChanID: c, ID: 10, ShaOnionBlob: pre, FailureCode: lnwire.CodeInvalidOnionHmac,
			ExtraData: []byte{}},
		&hello{version: Version},
		&idMsg{kind: msgAccepted, id: 11},
		&idMsg{kind: msgQuery, id: 12},
		newRefusal(msgRejected, 13, fmt.Errorf("%w: 13", link.ErrDuplicateID)),
		newRefusal(msgLocalFail, 14, fmt.Errorf("%w: 1x2x3 can send 1, not 2", link.ErrInsufficientBalance)),
		&status{id: 15, status: statusPending},
		&forget{ids: []uint64{1, 2, 1 << 63}},
	}
}

// Every message survives a frame round trip byte for byte, and its frame
// is the 2-byte length and lnwire.WriteMessage's bytes.
func TestFrameRoundTrip(t *testing.T) {
	var stream bytes.Buffer
	var frames [][]byte
	for i, m := range sampleMessages() {
		var b bytes.Buffer
		if err := appendFrame(&b, m); err != nil {
			t.Fatalf("#%d %T: %v", i, m, err)
		}
		var want bytes.Buffer
		if _, err := lnwire.WriteMessage(&want, m, 0); err != nil {
			t.Fatal(err)
		}
		if int(binary.BigEndian.Uint16(b.Bytes())) != want.Len() || !bytes.Equal(b.Bytes()[2:], want.Bytes()) {
			t.Fatalf("#%d %T: frame %x, want length and %x", i, m, b.Bytes(), want.Bytes())
		}
		stream.Write(b.Bytes())
		frames = append(frames, b.Bytes())
	}
	fr := newFrameReader(&stream)
	for i, want := range sampleMessages() {
		got, err := fr.read()
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(want) || got.MsgType() != want.MsgType() {
			t.Fatalf("#%d: read %T %v, wrote %T %v", i, got, got.MsgType(), want, want.MsgType())
		}
		var b bytes.Buffer
		if err := appendFrame(&b, got); err != nil || !bytes.Equal(b.Bytes(), frames[i]) {
			t.Fatalf("#%d %T: read back as %x (%v), wrote %x", i, got, b.Bytes(), err, frames[i])
		}
	}
	if _, err := fr.read(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

// The channel_id carries the scid in its first 8 bytes, big-endian, and
// zeros; any other channel_id in an add is refused.
func TestChanID(t *testing.T) {
	scid := graph.NewSCID(800_000, 12, 1)
	c := chanID(scid)
	if binary.BigEndian.Uint64(c[:8]) != uint64(scid) || [24]byte(c[8:]) != [24]byte{} {
		t.Fatalf("chanID(%s) = %x", scid, c)
	}
	if got, err := scidOf(c); err != nil || got != scid {
		t.Fatalf("scidOf: %v %v", got, err)
	}
	c[31] = 1
	if _, err := scidOf(c); !errors.Is(err, ErrMalformed) {
		t.Fatalf("channel_id with a non-zero tail: %v", err)
	}
	add := sampleMessages()[0].(*lnwire.UpdateAddHTLC)
	add.ChanID = c
	var b bytes.Buffer
	if err := appendFrame(&b, add); err != nil {
		t.Fatal(err)
	}
	if _, err := newFrameReader(&b).read(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("add with a real-looking channel_id: %v", err)
	}
}

// frame is body with its length prefix.
func frame(body ...byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(body))), body...)
}

// Frames that are not messages of the protocol are errors wrapping
// ErrMalformed; a stream cut short is io.ErrUnexpectedEOF.
func TestReadMalformed(t *testing.T) {
	typ := func(t lnwire.MessageType, rest ...byte) []byte {
		return frame(append(binary.BigEndian.AppendUint16(nil, uint16(t)), rest...)...)
	}
	for i, tt := range []struct {
		name  string
		input []byte
		eof   bool // io.ErrUnexpectedEOF rather than ErrMalformed
	}{
		{"empty frame", frame(), false},
		{"one byte", frame(1), false},
		{"unknown type", typ(7), false},
		{"gossip type", typ(lnwire.MsgChannelUpdate), false},
		{"odd custom type", typ(40961), false},
		{"short add", typ(lnwire.MsgUpdateAddHTLC, 1, 2, 3), false},
		{"short fulfill", typ(lnwire.MsgUpdateFulfillHTLC, make([]byte, 60)...), false},
		{"fail reason past the frame", typ(lnwire.MsgUpdateFailHTLC, append(make([]byte, 40), 0xff, 0xff)...), false},
		{"hello without version", typ(msgHello, 1), false},
		{"accepted of 7 bytes", typ(msgAccepted, make([]byte, 7)...), false},
		{"query of 9 bytes", typ(msgQuery, make([]byte, 9)...), false},
		{"status 0", typ(msgStatus, make([]byte, 9)...), false},
		{"status 4", typ(msgStatus, append(make([]byte, 8), 4)...), false},
		{"forget of 0 ids", typ(msgForget), false},
		{"forget of 12 bytes", typ(msgForget, make([]byte, 12)...), false},
		{"refusal text past the frame", typ(msgRejected, append(make([]byte, 10), 0, 5, 'a')...), false},
		{"refusal text too long", typ(msgRejected, append(append(make([]byte, 10), 0x04, 0x01),
			bytes.Repeat([]byte{'a'}, 1025)...)...), false},
		{"length cut", []byte{0}, true},
		{"body cut", []byte{0, 10, 1, 2}, true},
	} {
		_, err := newFrameReader(bytes.NewReader(tt.input)).read()
		if tt.eof && !errors.Is(err, io.ErrUnexpectedEOF) || !tt.eof && !errors.Is(err, ErrMalformed) {
			t.Errorf("#%d %s: %v", i, tt.name, err)
		}
	}
}

// A refusal carries each link error as its code and its text, and the
// client's rebuilt error reads the same and wraps the same sentinel.
func TestRefusalErrors(t *testing.T) {
	for i, sentinel := range []error{link.ErrUnknownChannel, link.ErrInsufficientBalance, link.ErrTooManyHTLCs,
		link.ErrDuplicateID, link.ErrClosed, errors.New("something else")} {
		err := fmt.Errorf("backend: %w", sentinel)
		m := newRefusal(msgLocalFail, 1, err)
		var b bytes.Buffer
		if err := appendFrame(&b, m); err != nil {
			t.Fatal(err)
		}
		got, rerr := newFrameReader(&b).read()
		if rerr != nil {
			t.Fatal(rerr)
		}
		res, ok := outcomeOf(got)
		if !ok || res.Local == nil || res.Local.Error() != err.Error() || !errors.Is(res.Local, sentinel) != (i == 5) {
			t.Fatalf("#%d: %v became %+v", i, err, res)
		}
		if link.LocalFailCode(res.Local) != link.LocalFailCode(err) {
			t.Fatalf("#%d: fail code %v, want %v", i, link.LocalFailCode(res.Local), link.LocalFailCode(err))
		}
	}
	long := newRefusal(msgRejected, 1, errors.New(strings.Repeat("é", 600)))
	if len(long.text) > maxText || !strings.HasPrefix(strings.Repeat("é", 600), long.text) {
		t.Fatalf("long text cut to %d bytes", len(long.text))
	}
}

// A frame is never longer than 65535 bytes: lnwire refuses to encode more.
func TestFrameLimit(t *testing.T) {
	var b bytes.Buffer
	big := &lnwire.UpdateFailHTLC{ID: 1, Reason: make([]byte, MaxFrame)}
	if err := appendFrame(&b, big); err == nil || b.Len() != 0 {
		t.Fatalf("oversize message: %v, %d bytes written", err, b.Len())
	}
	if err := appendFrame(&b, &forget{ids: make([]uint64, maxForget)}); err != nil {
		t.Fatalf("largest forget: %v", err)
	}
	if b.Len() > 2+MaxFrame {
		t.Fatalf("frame of %d bytes", b.Len())
	}
	if err := appendFrame(&b, &forget{ids: make([]uint64, maxForget+1)}); err == nil {
		t.Fatal("forget past the limit encoded")
	}
}
