package simnet

import (
	"errors"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
)

// Each fault on the us-A-B-C line shows as the failure a payer would read,
// attributed to the right hop; healing the node lets the payment through.
func TestFaults(t *testing.T) {
	s := newSmall(t, Options{Seed: 4})
	read := func(t *testing.T, id uint64) (*htlc.Failure, link.Result) {
		t.Helper()
		p := newPayment(t, s.n, s.route, s.hash, s.secret, id)
		res := send(t, s.n.Link(), p.req)
		if res.Local != nil || res.Preimage != nil {
			return nil, res
		}
		f, err := htlc.ReadFailure(s.self, s.route, p.onion.Circuit, res.Reason)
		if err != nil {
			t.Fatal(err)
		}
		return f, res
	}
	cases := []struct {
		name   string
		node   graph.NodeID
		fault  Fault
		code   int
		fail   lnwire.FailCode
		erring int
	}{
		{"offline C", s.c, Fault{Offline: true}, 204, lnwire.CodeUnknownNextPeer, 2},
		{"node failure at B", s.b, Fault{NodeFailure: true}, 204, lnwire.CodeTemporaryNodeFailure, 2},
		{"every HTLC fails at A", s.a, Fault{FailRate: 1}, 204, lnwire.CodeTemporaryChannelFailure, 1},
		{"garbage from B", s.b, Fault{Garbage: true}, 202, 0, 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.n.SetFault(c.node, c.fault); err != nil {
				t.Fatal(err)
			}
			f, res := read(t, uint64(10+i))
			if f == nil {
				t.Fatalf("no failure: %+v", res)
			}
			if f.Code != c.code {
				t.Fatalf("code %d (%s), want %d", f.Code, f.Message, c.code)
			}
			if c.code == 204 && (f.Routing.FailCode != c.fail || f.Routing.ErringIndex != c.erring) {
				t.Fatalf("failure %+v, want %v at index %d", f.Routing, c.fail, c.erring)
			}
			if err := s.n.SetFault(c.node, Fault{}); err != nil {
				t.Fatal(err)
			}
			if s.n.InFlight() != 0 {
				t.Fatalf("%d in flight", s.n.InFlight())
			}
		})
	}
	// Our peer offline: our channel refuses at once.
	if err := s.n.SetFault(s.a, Fault{Offline: true}); err != nil {
		t.Fatal(err)
	}
	if _, res := read(t, 20); !errors.Is(res.Local, link.ErrUnknownChannel) {
		t.Fatalf("peer offline: %+v", res)
	}
	// A slow hop delays, then the healed line pays.
	s.n.SetFault(s.a, Fault{})
	if err := s.n.SetFault(s.b, Fault{Delay: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, res := read(t, 21); res.Preimage == nil {
		t.Fatalf("slow hop: %+v", res)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("slow hop took %v", d)
	}
	if len(s.n.Faults()) != 1 {
		t.Fatalf("faults %v", s.n.Faults())
	}
	for _, bad := range []Fault{{FailRate: 1.5}, {FailRate: -1}, {Delay: -time.Second}} {
		if err := s.n.SetFault(s.b, bad); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
}
