package wirelink

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/lightningnetwork/lnd/lnwire"

	"github.com/payengine/payengine/internal/fuzzcorpus"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the seed corpus in testdata/fuzz")

// FuzzReadFrame feeds the frame reader arbitrary streams: it must never
// panic, must fail only with ErrMalformed or a short stream, and whatever
// it reads must encode again and read back to the same bytes. As a normal
// test it runs the seed corpus in testdata/fuzz/FuzzReadFrame; fuzz with
//
//	go test -run '^$' -fuzz FuzzReadFrame -fuzztime 1m ./wirelink
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data))
		for range 64 {
			m, err := fr.read()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("read: %v", err)
				}
				return
			}
			var b bytes.Buffer
			if err := appendFrame(&b, m); err != nil {
				t.Fatalf("%T read but does not encode: %v", m, err)
			}
			again, err := newFrameReader(bytes.NewReader(b.Bytes())).read()
			if err != nil {
				t.Fatalf("%T encodes as %x, which does not read: %v", m, b.Bytes(), err)
			}
			var b2 bytes.Buffer
			if err := appendFrame(&b2, again); err != nil || !bytes.Equal(b.Bytes(), b2.Bytes()) {
				t.Fatalf("%T: %x reads back as %x (%v)", m, b.Bytes(), b2.Bytes(), err)
			}
			if res, ok := outcomeOf(m); ok {
				if _, err := outcomeMsg(lnwire.ChannelID{}, res); err != nil {
					t.Fatalf("outcome %+v does not encode: %v", res, err)
				}
			}
			if add, ok := m.(*lnwire.UpdateAddHTLC); ok {
				if _, err := addReq(add); err != nil {
					t.Fatalf("add read but not convertible: %v", err)
				}
			}
		}
	})
}

// seedCorpus is FuzzReadFrame's seed corpus: every message as a frame, a
// stream of all of them, and garbage.
func seedCorpus(t *testing.T) map[string][]byte {
	corpus := map[string][]byte{}
	var all bytes.Buffer
	names := []string{"add", "fulfill", "fail", "fail-empty", "malformed", "hello", "accepted", "query",
		"rejected", "local-fail", "status", "forget"}
	for i, m := range sampleMessages() {
		var b bytes.Buffer
		if err := appendFrame(&b, m); err != nil {
			t.Fatal(err)
		}
		corpus["valid-"+names[i]] = b.Bytes()
		all.Write(b.Bytes())
	}
	corpus["valid-stream"] = all.Bytes()
	add := corpus["valid-add"]
	badChan := bytes.Clone(add)
	badChan[2+2+31] = 1
	r := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 300)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	corpus["garbage-empty-frame"] = frame()
	corpus["garbage-unknown-type"] = frame(0, 7, 1, 2, 3)
	corpus["garbage-truncated-add"] = add[:len(add)/2]
	corpus["garbage-add-bad-channel"] = badChan
	corpus["garbage-long-length"] = []byte{0xff, 0xff, 0, 128, 1}
	corpus["garbage-noise"] = noise
	corpus["garbage-status-9"] = frame(0xa0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 1, 9)
	corpus["garbage-refusal-overlong"] = frame(0xa0, 0x04, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 'x')
	return corpus
}

// The seed corpus on disk is what seedCorpus makes (go test -rewrite
// writes it again).
func TestFuzzCorpus(t *testing.T) {
	corpus := map[string][]any{}
	for name, b := range seedCorpus(t) {
		corpus[name] = []any{b}
	}
	fuzzcorpus.Check(t, "FuzzReadFrame", corpus, *rewrite)
}
