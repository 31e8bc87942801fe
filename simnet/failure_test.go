package simnet

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
)

// small is the network of spec section 13 extended by us: us -> A -> B ->
// C, where BC charges base 1 msat, 10 ppm, cltv_delta 6 and AB 1000 msat,
// 100 ppm, 40. A also has channels to D and E, so it is the best-connected
// node and our one channel goes to it.
type small struct {
	n                   *Net
	self, a, b, c       graph.NodeID
	usa, ab, bc, ad     graph.SCID
	route               graph.Route // us -> A -> B -> C for 100,000 msat
	hash                [32]byte
	secret              *[32]byte
	amount              graph.MilliSat
	realA, realB, realC graph.NodeID
	realD, realE        graph.NodeID
}

func fakeID(i byte) graph.NodeID {
	var id graph.NodeID
	id[0], id[32] = 0x02, i
	return id
}

func newSmall(t *testing.T, opts Options) *small {
	t.Helper()
	s := &small{realA: fakeID(1), realB: fakeID(2), realC: fakeID(3), realD: fakeID(4), realE: fakeID(5)}
	ab := &graph.Policy{BaseMsat: 1000, FeePPM: 100, CLTVDelta: 40, HTLCMin: 1, HTLCMax: 500_000_000}
	bc := &graph.Policy{BaseMsat: 1, FeePPM: 10, CLTVDelta: 6, HTLCMin: 1, HTLCMax: 500_000_000}
	s.ab, s.bc, s.ad = graph.NewSCID(100, 1, 0), graph.NewSCID(100, 2, 0), graph.NewSCID(100, 3, 0)
	var b graph.Builder
	for i, id := range []graph.NodeID{s.realA, s.realB, s.realC, s.realD, s.realE} {
		b.AddNode(graph.Node{ID: id, Alias: string(rune('A' + i))})
	}
	b.AddChannel(graph.Channel{SCID: s.ab, Node1: s.realA, Node2: s.realB, Capacity: 1_000_000, Policy: [2]*graph.Policy{ab, ab}})
	b.AddChannel(graph.Channel{SCID: s.bc, Node1: s.realB, Node2: s.realC, Capacity: 1_000_000, Policy: [2]*graph.Policy{bc, bc}})
	b.AddChannel(graph.Channel{SCID: s.ad, Node1: s.realA, Node2: s.realD, Capacity: 1_000_000, Policy: [2]*graph.Policy{ab, ab}})
	b.AddChannel(graph.Channel{SCID: graph.NewSCID(100, 4, 0), Node1: s.realA, Node2: s.realE, Capacity: 1_000_000,
		Policy: [2]*graph.Policy{ab, ab}})
	real, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	opts.LocalChannels = 1
	n, err := New(real, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	s.n, s.self = n, n.Self()
	s.a, _ = n.SimID(s.realA)
	s.b, _ = n.SimID(s.realB)
	s.c, _ = n.SimID(s.realC)
	s.usa = n.LocalChannels()[0]
	// Known balances: every forwarding side can send 500,000 sat.
	for _, fix := range []struct {
		scid graph.SCID
		from graph.NodeID
	}{{s.ab, s.a}, {s.bc, s.b}} {
		if err := n.SetBalance(fix.scid, fix.from, 500_000_000); err != nil {
			t.Fatal(err)
		}
	}
	s.amount = 100_000
	s.invoice(t, s.c, s.amount)
	cltv := uint32(DefaultMinFinalCLTV)
	s.route, err = n.Graph().GetRoute(graph.GetRouteParams{ID: s.c, FromID: s.self, AmountMsat: s.amount,
		RiskFactor: 1, CLTV: &cltv})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.route) != 3 || s.route[0].Channel != s.usa || s.route[1].Channel != s.ab || s.route[2].Channel != s.bc {
		t.Fatalf("route %+v is not us-A-B-C", s.route)
	}
	return s
}

// invoice makes node issue an invoice and keeps its hash and secret.
func (s *small) invoice(t *testing.T, node graph.NodeID, amount graph.MilliSat) *htlc.Invoice {
	t.Helper()
	bolt11, err := s.n.Invoice(node, amount, "test", time.Hour, s.n.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv := decode(t, bolt11)
	s.hash, s.secret = inv.PaymentHash, inv.PaymentSecret
	return inv
}

// TestFailures makes each BOLT 4 failure happen on the small network and
// reads it back with htlc.ReadFailure: code, the hop it is attributed to,
// Core Lightning's classification (spec section 3, vector 9), and the
// channel_update of update-class failures, which must verify against the
// failing node's simnet key. After each, every balance is as before.
func TestFailures(t *testing.T) {
	type want struct {
		code    lnwire.FailCode
		cln     int // 203 or 204
		index   int // erring_index
		node    func(*small) graph.NodeID
		channel func(*small) graph.SCID
		update  bool
	}
	B := func(s *small) graph.NodeID { return s.b }
	C := func(s *small) graph.NodeID { return s.c }
	A := func(s *small) graph.NodeID { return s.a }
	BC := func(s *small) graph.SCID { return s.bc }
	bumpBC := func(t *testing.T, s *small, f func(*graph.Policy)) {
		st, _ := s.n.Channel(s.bc)
		p := *st.Policy[graph.Direction(s.b, s.c)]
		f(&p)
		if err := s.n.SetPolicy(s.bc, s.b, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		// setup changes the network; route may be replaced; send
		// tweaks the HTLC.
		setup func(t *testing.T, s *small) (route graph.Route, hash [32]byte, secret *[32]byte)
		send  func(req *link.AddHTLC)
		want  want
	}{
		{
			name: "temporary_channel_failure when B has no balance on BC",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				if err := s.n.SetBalance(s.bc, s.b, 50_000); err != nil {
					t.Fatal(err)
				}
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeTemporaryChannelFailure, 204, 2, B, BC, true},
		},
		{
			name: "fee_insufficient when B raised its fee",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				bumpBC(t, s, func(p *graph.Policy) { p.BaseMsat = 5000 })
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeFeeInsufficient, 204, 2, B, BC, true},
		},
		{
			name: "incorrect_cltv_expiry when B raised its delta",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				bumpBC(t, s, func(p *graph.Policy) { p.CLTVDelta = 7 })
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeIncorrectCltvExpiry, 204, 2, B, BC, true},
		},
		{
			name: "amount_below_minimum when B raised htlc_minimum",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				bumpBC(t, s, func(p *graph.Policy) { p.HTLCMin = 200_000 })
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeAmountBelowMinimum, 204, 2, B, BC, true},
		},
		{
			name: "temporary_channel_failure above htlc_maximum",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				bumpBC(t, s, func(p *graph.Policy) { p.HTLCMax = 99_999 })
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeTemporaryChannelFailure, 204, 2, B, BC, true},
		},
		{
			name: "channel_disabled when B disabled BC",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				bumpBC(t, s, func(p *graph.Policy) { p.Disabled = true })
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeChannelDisabled, 204, 2, B, BC, true},
		},
		{
			name: "expiry_too_soon after 20 blocks: B's outgoing expiry is too close",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				return s.route, s.hash, s.secret // the height advances after the onion is built
			},
			want: want{lnwire.CodeExpiryTooSoon, 204, 2, B, BC, true},
		},
		{
			name: "unknown_next_peer when B is asked to forward over A's channel",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				r := append(graph.Route(nil), s.route...)
				r[2].Channel = s.ad
				return r, s.hash, s.secret
			},
			want: want{lnwire.CodeUnknownNextPeer, 204, 2, B, func(s *small) graph.SCID { return s.ad }, false},
		},
		{
			name: "incorrect_or_unknown_payment_details for an unknown hash",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				return s.route, sha256.Sum256([]byte("unknown")), s.secret
			},
			want: want{lnwire.CodeIncorrectOrUnknownPaymentDetails, 203, 3, C, BC, false},
		},
		{
			name: "incorrect_or_unknown_payment_details for a wrong payment secret",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				wrong := *s.secret
				wrong[0] ^= 1
				return s.route, s.hash, &wrong
			},
			want: want{lnwire.CodeIncorrectOrUnknownPaymentDetails, 203, 3, C, BC, false},
		},
		{
			name: "incorrect_or_unknown_payment_details when underpaid",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				s.invoice(t, s.c, s.amount+1)
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeIncorrectOrUnknownPaymentDetails, 203, 3, C, BC, false},
		},
		{
			name: "incorrect_or_unknown_payment_details when paid more than twice",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				s.invoice(t, s.c, s.amount/2-1)
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeIncorrectOrUnknownPaymentDetails, 203, 3, C, BC, false},
		},
		{
			name: "incorrect_or_unknown_payment_details for an expired invoice",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				s.n.SetNow(s.n.Now().Add(time.Hour + time.Second))
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeIncorrectOrUnknownPaymentDetails, 203, 3, C, BC, false},
		},
		{
			name: "incorrect_or_unknown_payment_details below min_final_cltv_expiry",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				r := append(graph.Route(nil), s.route...)
				r[2].Delay = DefaultMinFinalCLTV - 2 // expiry = height+1+16 < height+18
				r[1].Delay = r[2].Delay + 6
				r[0].Delay = r[1].Delay + 40
				return r, s.hash, s.secret
			},
			want: want{lnwire.CodeIncorrectOrUnknownPaymentDetails, 203, 3, C, BC, false},
		},
		{
			name: "final_incorrect_cltv_expiry when the HTLC expiry is not the onion's",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				s.invoice(t, s.a, 1000)
				return graph.Route{{ID: s.a, Channel: s.usa, Direction: graph.Direction(s.self, s.a),
					Amount: 1000, Delay: DefaultMinFinalCLTV}}, s.hash, s.secret
			},
			send: func(req *link.AddHTLC) { req.Expiry++ },
			want: want{lnwire.CodeFinalIncorrectCltvExpiry, 204, 1, A, func(s *small) graph.SCID { return s.usa }, false},
		},
		{
			name: "final_incorrect_htlc_amount when the HTLC amount is not the onion's",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				s.invoice(t, s.a, 1000)
				return graph.Route{{ID: s.a, Channel: s.usa, Direction: graph.Direction(s.self, s.a),
					Amount: 1000, Delay: DefaultMinFinalCLTV}}, s.hash, s.secret
			},
			send: func(req *link.AddHTLC) { req.Amount++ },
			want: want{lnwire.CodeFinalIncorrectHtlcAmount, 204, 1, A, func(s *small) graph.SCID { return s.usa }, false},
		},
		{
			name: "invalid_onion_hmac: B forwards a corrupted onion, C cannot read it, B reports it",
			setup: func(t *testing.T, s *small) (graph.Route, [32]byte, *[32]byte) {
				b := s.b
				s.n.tamper = &b
				return s.route, s.hash, s.secret
			},
			want: want{lnwire.CodeInvalidOnionHmac, 204, 2, C, BC, false},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSmall(t, Options{Seed: 9})
			route, hash, secret := tt.setup(t, s)
			p := newPayment(t, s.n, route, hash, secret, 1)
			if tt.want.code == lnwire.CodeExpiryTooSoon {
				s.n.AdvanceHeight(20)
			}
			if tt.send != nil {
				tt.send(&p.req)
			}
			before := snapshot(s.n)
			res := send(t, s.n.Link(), p.req)
			sameBalances(t, before, snapshot(s.n))
			if s.n.InFlight() != 0 {
				t.Fatalf("%d htlcs in flight", s.n.InFlight())
			}
			if res.Reason == nil {
				t.Fatalf("no failure onion: %+v", res)
			}
			f, err := htlc.ReadFailure(s.self, route, p.onion.Circuit, res.Reason)
			if err != nil {
				t.Fatal(err)
			}
			rf := f.Routing
			if rf == nil {
				t.Fatalf("unreadable failure: %+v", f)
			}
			if rf.FailCode != tt.want.code || f.Code != tt.want.cln || rf.ErringIndex != tt.want.index ||
				rf.ErringNode != tt.want.node(s) || rf.ErringChannel != tt.want.channel(s) {
				t.Fatalf("got %s code %d index %d node %s channel %s; want %s %d %d %s %s",
					rf.FailCodeName(), f.Code, rf.ErringIndex, rf.ErringNode, rf.ErringChannel,
					htlc.FailCodeName(tt.want.code), tt.want.cln, tt.want.index, tt.want.node(s), tt.want.channel(s))
			}
			if f.UpdateForged {
				t.Fatal("update reported forged")
			}
			if !tt.want.update {
				if f.Update != nil {
					t.Fatalf("unexpected channel_update %+v", f.Update)
				}
				return
			}
			u := f.Update
			if u == nil || len(rf.ChannelUpdate) == 0 {
				t.Fatal("no verified channel_update")
			}
			if err := htlc.VerifyChannelUpdate(u, s.b); err != nil {
				t.Fatalf("update does not verify against B: %v", err)
			}
			if err := htlc.VerifyChannelUpdate(u, s.c); err == nil {
				t.Fatal("update verifies against C too")
			}
			if graph.SCID(u.ShortChannelID.ToUint64()) != s.bc ||
				uint8(u.ChannelFlags&lnwire.ChanUpdateDirection) != graph.Direction(s.b, s.c) {
				t.Fatalf("update is for %v flags %v", u.ShortChannelID, u.ChannelFlags)
			}
			st, _ := s.n.Channel(s.bc)
			pol := st.Policy[graph.Direction(s.b, s.c)]
			if u.BaseFee != pol.BaseMsat || u.TimeLockDelta != pol.CLTVDelta || u.IsDisabled() != pol.Disabled {
				t.Fatalf("update %+v does not carry B's policy %+v", u, pol)
			}
		})
	}
}

// TestForgedUpdateRejected makes every node sign its channel_updates with
// another node's key: ReadFailure must drop the update and say so.
func TestForgedUpdateRejected(t *testing.T) {
	s := newSmall(t, Options{Seed: 9})
	s.n.forge = true
	if err := s.n.SetBalance(s.bc, s.b, 0); err != nil {
		t.Fatal(err)
	}
	p := newPayment(t, s.n, s.route, s.hash, s.secret, 1)
	res := send(t, s.n.Link(), p.req)
	f, err := htlc.ReadFailure(s.self, s.route, p.onion.Circuit, res.Reason)
	if err != nil {
		t.Fatal(err)
	}
	if f.Routing == nil || f.Routing.FailCode != lnwire.CodeTemporaryChannelFailure {
		t.Fatalf("got %+v", f)
	}
	if !f.UpdateForged || f.Update != nil || f.Routing.ChannelUpdate != nil {
		t.Fatalf("forged update not rejected: forged=%v update=%v", f.UpdateForged, f.Update)
	}
}

// TestMalformedFirstHop: an onion corrupted before it leaves us makes A
// answer update_fail_malformed_htlc with invalid_onion_hmac and the hash of
// what it got (BOLT 2), which the payer reports as A's failure.
func TestMalformedFirstHop(t *testing.T) {
	s := newSmall(t, Options{Seed: 9})
	p := newPayment(t, s.n, s.route, s.hash, s.secret, 1)
	p.req.Onion[200] ^= 1
	before := snapshot(s.n)
	res := send(t, s.n.Link(), p.req)
	sameBalances(t, before, snapshot(s.n))
	if res.Malformed == nil || res.Reason != nil || res.Preimage != nil {
		t.Fatalf("want malformed, got %+v", res)
	}
	if res.Malformed.Code != lnwire.CodeInvalidOnionHmac || res.Malformed.OnionHash != sha256.Sum256(p.req.Onion[:]) {
		t.Fatalf("malformed %+v", res.Malformed)
	}
}

// TestLocalFailures: our own channel refuses what it cannot carry.
func TestLocalFailures(t *testing.T) {
	s := newSmall(t, Options{Seed: 9})
	p := newPayment(t, s.n, s.route, s.hash, s.secret, 1)
	req := p.req
	req.Channel = s.bc // not ours
	if r := send(t, s.n.Link(), req); !errors.Is(r.Local, link.ErrUnknownChannel) ||
		link.LocalFailCode(r.Local) != lnwire.CodeUnknownNextPeer {
		t.Fatalf("unknown channel: %+v", r)
	}
	req = p.req
	req.Amount = DefaultLocalCapacity*1000 + 1
	if r := send(t, s.n.Link(), req); !errors.Is(r.Local, link.ErrInsufficientBalance) ||
		link.LocalFailCode(r.Local) != lnwire.CodeTemporaryChannelFailure {
		t.Fatalf("too much: %+v", r)
	}
	if s.n.InFlight() != 0 {
		t.Fatalf("%d in flight", s.n.InFlight())
	}
}

// TestSlotsAndSettle holds one HTLC in flight with latency on a network
// of one slot per direction: a second HTLC is refused for want of a slot
// while the first holds it, and succeeds once it is released. The first
// settles and moves exactly amount plus fees along the path.
func TestSlotsAndSettle(t *testing.T) {
	s := newSmall(t, Options{Seed: 9, MaxHTLCs: 1, HopLatency: 100 * time.Millisecond})
	l := s.n.Link()
	p := newPayment(t, s.n, s.route, s.hash, s.secret, 1)
	before := snapshot(s.n)
	first := make(chan link.Result, 1)
	if err := l.AddHTLC(context.Background(), p.req, func(r link.Result) { first <- r }); err != nil {
		t.Fatal(err)
	}
	if err := l.AddHTLC(context.Background(), p.req, func(link.Result) {}); !errors.Is(err, link.ErrDuplicateID) {
		t.Fatalf("same id in flight: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.n.InFlight() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st, _ := s.n.Channel(s.usa)
	if side := graph.Direction(s.self, s.a); st.HTLCs[side] != 1 || st.Pending[side] != p.req.Amount {
		t.Fatalf("first htlc not held: %+v", st)
	}
	second := p.req
	second.ID = 2
	if r := send(t, l, second); !errors.Is(r.Local, link.ErrTooManyHTLCs) {
		t.Fatalf("second htlc: %+v", r)
	}
	r := <-first
	checkPreimage(t, r, s.hash)
	after := snapshot(s.n)
	prev := s.self
	for _, hop := range s.route {
		d := graph.Direction(prev, hop.ID)
		if before[hop.Channel].Balance[d]-after[hop.Channel].Balance[d] != hop.Amount ||
			after[hop.Channel].HTLCs != [2]int{} {
			t.Fatalf("hop %s: %v -> %v", hop.Channel, before[hop.Channel], after[hop.Channel])
		}
		prev = hop.ID
	}
	// B charges BC's fee on what C gets, A charges AB's on what B gets.
	feeB, _ := graph.Fee(s.amount, 1, 10)
	feeA, _ := graph.Fee(s.route[1].Amount, 1000, 100)
	if s.route[1].Amount != s.amount+feeB || s.route[0].Amount != s.route[1].Amount+feeA {
		t.Fatalf("route amounts %v %v %v, fees %v %v", s.route[0].Amount, s.route[1].Amount, s.amount, feeA, feeB)
	}
	checkPreimage(t, send(t, l, second), s.hash)
	if d := s.n.Delivered(s.hash); d.Settlements != 2 || d.Amount != 2*s.amount {
		t.Fatalf("delivered %+v", d)
	}
	if err := s.n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.AddHTLC(context.Background(), second, func(link.Result) {}); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}
