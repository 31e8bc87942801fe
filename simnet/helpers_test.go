package simnet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
)

// seededReader is a deterministic io.Reader for onion session keys.
type seededReader struct{ r *rand.Rand }

func (s seededReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(s.r.Uint32())
	}
	return len(b), nil
}

func newReader(seed uint64) seededReader { return seededReader{rand.New(rand.NewPCG(seed, 7))} }

// payment is an onion built for a route and the HTLC that carries it.
type payment struct {
	route graph.Route
	onion *htlc.Onion
	req   link.AddHTLC
}

// newPayment builds the onion for route at the network's height.
func newPayment(t testing.TB, n *Net, route graph.Route, hash [32]byte, secret *[32]byte, id uint64) *payment {
	t.Helper()
	o, err := htlc.BuildOnion(htlc.OnionParams{Route: route, PaymentHash: hash, PaymentSecret: secret,
		BlockHeight: n.Height()}, newReader(id))
	if err != nil {
		t.Fatalf("build onion: %v", err)
	}
	return &payment{route: route, onion: o, req: link.AddHTLC{ID: id, Channel: o.Channel, Amount: o.Amount,
		Expiry: o.Expiry, PaymentHash: hash, Onion: o.Packet}}
}

// send adds the payment's HTLC through the link and waits for its result.
func send(t testing.TB, l link.Link, req link.AddHTLC) link.Result {
	t.Helper()
	ch := make(chan link.Result, 1)
	if err := l.AddHTLC(context.Background(), req, func(r link.Result) { ch <- r }); err != nil {
		t.Fatalf("AddHTLC: %v", err)
	}
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no result after 30s")
		return link.Result{}
	}
}

// decode decodes a simnet invoice for regtest.
func decode(t testing.TB, bolt11 string) *htlc.Invoice {
	t.Helper()
	inv, err := htlc.Decode(bolt11, htlc.DecodeOptions{Network: htlc.Regtest})
	if err != nil {
		t.Fatalf("decode %s: %v", bolt11, err)
	}
	return inv
}

// checkPreimage fails unless the result settled with the hash's preimage.
func checkPreimage(t testing.TB, r link.Result, hash [32]byte) {
	t.Helper()
	if r.Preimage == nil {
		t.Fatalf("not settled: %+v", r)
	}
	if sha256.Sum256(r.Preimage[:]) != hash {
		t.Fatalf("preimage %x does not hash to %x", *r.Preimage, hash)
	}
}

// snapshot returns every channel's live state.
func snapshot(n *Net) map[graph.SCID]ChannelState {
	out := make(map[graph.SCID]ChannelState)
	n.Graph().Channels(func(c graph.ChannelInfo) bool {
		s, _ := n.Channel(c.SCID)
		out[c.SCID] = s
		return true
	})
	return out
}

// sameBalances fails if any channel's balances, pending amounts or HTLC
// counts differ between two snapshots.
func sameBalances(t testing.TB, before, after map[graph.SCID]ChannelState) {
	t.Helper()
	for scid, b := range before {
		a := after[scid]
		if a.Balance != b.Balance || a.Pending != b.Pending || a.HTLCs != b.HTLCs {
			t.Errorf("channel %s changed: before %v/%v/%v, after %v/%v/%v", scid,
				b.Balance, b.Pending, b.HTLCs, a.Balance, a.Pending, a.HTLCs)
		}
	}
}

// exported is simnet's network as a payer sees it: written as describegraph
// JSON and loaded back.
func exported(t testing.TB, n *Net) *graph.Graph {
	t.Helper()
	var buf bytes.Buffer
	if err := n.WriteDescribeGraph(&buf); err != nil {
		t.Fatal(err)
	}
	g, err := graph.LoadDescribeGraph(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
