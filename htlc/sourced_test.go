package htlc

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/lightningnetwork/lnd/lnwire"
)

// TestSourcedFailureMatchesReadFailure: for every code of the BOLT 4 table,
// from every kind of hop, the failure a node that builds the onion itself
// reports (sender index and the message lnwire encodes, as lnd's
// HTLCAttempt gives them) classifies exactly as ReadFailure classifies the
// same message decrypted from the onion: same CLN code, message, routing
// failure object (channel_update bytes included) and decoded update.
func TestSourcedFailureMatchesReadFailure(t *testing.T) {
	l := newLine(t, 46, 3, 20_000, 9)
	s := send(t, l, 46)
	last := len(l.route) - 1
	for i, row := range bolt4Table() {
		for _, k := range []int{0, 1, last} {
			upd := signedUpdate(t, l.nodes[k].key, l.route[min(k+1, last)].Channel, 0)
			msg := row.msg(t, upd)
			want := s.read(t, s.failAt(t, k, msg))
			failmsg := want.Routing.RawMessage
			if _, raw := msg.(rawFailure); !raw {
				var b bytes.Buffer
				if err := lnwire.EncodeFailureMessage(&b, msg, 0); err != nil {
					t.Fatalf("#%d %s: encode: %v", i, row.name, err)
				}
				failmsg = b.Bytes()
			}
			got, err := SourcedFailure(l.self.id, l.route, k+1, failmsg)
			if err != nil {
				t.Fatalf("#%d %s from %d: %v", i, row.name, k, err)
			}
			ctx := fmt.Sprintf("#%d %s from node %d", i, row.name, k)
			if got.Code != want.Code || got.Message != want.Message || !reflect.DeepEqual(got.Routing, want.Routing) {
				t.Errorf("%s:\n got %d %q %+v\nwant %d %q %+v", ctx, got.Code, got.Message, got.Routing, want.Code, want.Message, want.Routing)
			}
			if !reflect.DeepEqual(got.Update, want.Update) || got.UpdateForged != want.UpdateForged {
				t.Errorf("%s: update %+v forged %v, want %+v %v", ctx, got.Update, got.UpdateForged, want.Update, want.UpdateForged)
			}
			gj, _ := got.Routing.MarshalJSON()
			wj, _ := want.Routing.MarshalJSON()
			if !bytes.Equal(gj, wj) {
				t.Errorf("%s: JSON\n got %s\nwant %s", ctx, gj, wj)
			}
		}
	}
}

// TestSourcedFailureLocal: index 0 is our own node, as LocalFailure
// answers; a forged channel_update is dropped as ReadFailure drops it; bad
// indexes and messages are errors, not panics.
func TestSourcedFailureLocal(t *testing.T) {
	l := newLine(t, 47, 3, 20_000, 9)
	var b bytes.Buffer
	if err := lnwire.EncodeFailureMessage(&b, &lnwire.FailTemporaryChannelFailure{}, 0); err != nil {
		t.Fatal(err)
	}
	got, err := SourcedFailure(l.self.id, l.route, 0, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := LocalFailure(l.self.id, l.route, lnwire.CodeTemporaryChannelFailure, "")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("local: got %+v %+v, want %+v %+v", got, got.Routing, want, want.Routing)
	}

	// An update signed by node 2 but reported by node 0.
	upd := signedUpdate(t, l.nodes[2].key, l.route[1].Channel, 0)
	b.Reset()
	if err := lnwire.EncodeFailureMessage(&b, lnwire.NewTemporaryChannelFailure(&upd), 0); err != nil {
		t.Fatal(err)
	}
	f, err := SourcedFailure(l.self.id, l.route, 1, b.Bytes())
	if err != nil || f.Update != nil || !f.UpdateForged || len(f.Routing.ChannelUpdate) != 0 {
		t.Errorf("forged update: %+v %v", f, err)
	}

	for _, c := range []struct {
		index int
		msg   []byte
	}{{-1, b.Bytes()}, {len(l.route) + 1, b.Bytes()}, {1, nil}, {1, []byte{0x10}}} {
		if _, err := SourcedFailure(l.self.id, l.route, c.index, c.msg); err == nil {
			t.Errorf("index %d msg %x: no error", c.index, c.msg)
		}
	}
	if _, err := SourcedFailure(l.self.id, nil, 1, b.Bytes()); err == nil {
		t.Error("empty route: no error")
	}
}
