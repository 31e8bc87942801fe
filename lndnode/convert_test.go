package lndnode

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
)

// keys draws n node keys from seed.
func keys(t *testing.T, seed uint64, n int) []*btcec.PrivateKey {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	out := make([]*btcec.PrivateKey, n)
	for i := range out {
		var b [32]byte
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		k, _ := btcec.PrivKeyFromBytes(b[:])
		out[i] = k
	}
	return out
}

func idOf(k *btcec.PrivateKey) graph.NodeID {
	var id graph.NodeID
	copy(id[:], k.PubKey().SerializeCompressed())
	return id
}

// testRoute is self -> n1 -> n2 -> n3 with CLN-style amounts and delays.
func testRoute(t *testing.T, seed uint64) (graph.NodeID, graph.Route, []*btcec.PrivateKey) {
	ks := keys(t, seed, 4)
	r := graph.Route{
		{ID: idOf(ks[1]), Channel: graph.NewSCID(101, 1, 0), Amount: 100_002_000, Delay: 98, Style: "tlv"},
		{ID: idOf(ks[2]), Channel: graph.NewSCID(102, 2, 1), Amount: 100_001_000, Delay: 58, Style: "tlv"},
		{ID: idOf(ks[3]), Channel: graph.NewSCID(103, 3, 0), Amount: 100_000_000, Delay: 18, Style: "tlv"},
	}
	return idOf(ks[0]), r, ks
}

// The route SendToRouteV2 gets carries, hop by hop, what our own onion's
// payloads carry; pub_key everywhere; the secret and total at the end.
func TestLndRoute(t *testing.T) {
	_, route, _ := testRoute(t, 1)
	secret := [32]byte{7}
	req := link.AddHTLC{ID: 9, Channel: route[0].Channel, Amount: route[0].Amount, PaymentHash: [32]byte{1},
		Route: route, BlockHeight: 500, PaymentSecret: &secret, Total: 100_000_000}
	r, err := lndRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	if r.TotalTimeLock != 500+1+98 || r.TotalAmtMsat != 100_002_000 || r.TotalFeesMsat != 2_000 || len(r.Hops) != 3 {
		t.Fatalf("route totals %+v", r)
	}
	want := []struct {
		fwd, fee int64
		expiry   uint32
	}{{100_001_000, 1_000, 559}, {100_000_000, 1_000, 519}, {100_000_000, 0, 519}}
	for i, h := range r.Hops {
		if h.ChanId != uint64(route[i].Channel) || h.PubKey != route[i].ID.String() || h.AmtToForwardMsat != want[i].fwd ||
			h.FeeMsat != want[i].fee || h.Expiry != want[i].expiry {
			t.Errorf("hop %d: %+v, want %+v", i, h, want[i])
		}
		if (h.MppRecord != nil) != (i == 2) {
			t.Errorf("hop %d: mpp_record %v", i, h.MppRecord)
		}
	}
	if m := r.Hops[2].MppRecord; !bytes.Equal(m.PaymentAddr, secret[:]) || m.TotalAmtMsat != 100_000_000 {
		t.Errorf("mpp_record %+v", m)
	}
	if !sameRoute(r, req) {
		t.Error("a route does not match the request it was built from")
	}
	// After a restart the height is unknown: the deltas still match.
	r2, _ := lndRoute(link.AddHTLC{Route: route, BlockHeight: 777, PaymentSecret: &secret})
	if !sameRoute(r2, req) {
		t.Error("the same route sent at another height does not match")
	}
	if _, err := lndRoute(link.AddHTLC{}); err == nil {
		t.Error("empty route accepted")
	}
}

// matchAttempt finds the attempt of a route: in flight first, else the
// latest; another route, amount or CLTV delta is not it.
func TestMatchAttempt(t *testing.T) {
	_, route, _ := testRoute(t, 2)
	req := link.AddHTLC{Route: route, BlockHeight: 500}
	same, _ := lndRoute(req)
	other := append(graph.Route(nil), route...)
	other[1].Amount++
	otherAmt, _ := lndRoute(link.AddHTLC{Route: other, BlockHeight: 500})
	otherCLTV := append(graph.Route(nil), route...)
	otherCLTV[1].Delay++
	otherDelta, _ := lndRoute(link.AddHTLC{Route: otherCLTV, BlockHeight: 500})
	other2 := append(graph.Route(nil), route...)
	other2[2].Channel++
	otherChan, _ := lndRoute(link.AddHTLC{Route: other2, BlockHeight: 500})

	failed1 := &lnrpc.HTLCAttempt{AttemptId: 1, Status: lnrpc.HTLCAttempt_FAILED, Route: same, AttemptTimeNs: 10}
	failed2 := &lnrpc.HTLCAttempt{AttemptId: 2, Status: lnrpc.HTLCAttempt_FAILED, Route: same, AttemptTimeNs: 20}
	flying := &lnrpc.HTLCAttempt{AttemptId: 3, Status: lnrpc.HTLCAttempt_IN_FLIGHT, Route: same, AttemptTimeNs: 5}
	for _, c := range []struct {
		atts []*lnrpc.HTLCAttempt
		want *lnrpc.HTLCAttempt
	}{
		{nil, nil},
		{[]*lnrpc.HTLCAttempt{{Route: otherAmt}, {Route: otherDelta}, {Route: otherChan}}, nil},
		{[]*lnrpc.HTLCAttempt{failed1, failed2}, failed2},
		{[]*lnrpc.HTLCAttempt{failed2, flying, failed1}, flying},
	} {
		if got := matchAttempt(c.atts, req); got != c.want {
			t.Errorf("matchAttempt(%d attempts) = %v, want %v", len(c.atts), got, c.want)
		}
	}
}

// A settled attempt gives its preimage only if it hashes to the payment
// hash.
func TestOutcomePreimage(t *testing.T) {
	pre := [32]byte{42}
	hash := sha256.Sum256(pre[:])
	res, ok := outcome(5, hash, &lnrpc.HTLCAttempt{Status: lnrpc.HTLCAttempt_SUCCEEDED, Preimage: pre[:]})
	if !ok || res.ID != 5 || res.Preimage == nil || *res.Preimage != pre {
		t.Fatalf("settled: %+v %v", res, ok)
	}
	res, ok = outcome(5, hash, &lnrpc.HTLCAttempt{Status: lnrpc.HTLCAttempt_SUCCEEDED, Preimage: []byte{1, 2}})
	if !ok || res.Preimage != nil || res.Sourced == nil || !res.Sourced.Unreadable {
		t.Fatalf("bad preimage: %+v %v", res, ok)
	}
	if _, ok := outcome(5, hash, &lnrpc.HTLCAttempt{Status: lnrpc.HTLCAttempt_IN_FLIGHT}); ok {
		t.Fatal("an attempt in flight has an outcome")
	}
}

// marshal is lnd's marshallWireError, for the messages of the BOLT 4
// table: what an lnrpc.Failure holds of each.
func marshal(t *testing.T, m lnwire.FailureMessage, index uint32) *lnrpc.Failure {
	t.Helper()
	f := &lnrpc.Failure{FailureSourceIndex: index}
	upd := func(u *lnwire.ChannelUpdate1) *lnrpc.ChannelUpdate {
		return &lnrpc.ChannelUpdate{Signature: u.Signature.RawBytes(), ChainHash: u.ChainHash[:], ChanId: u.ShortChannelID.ToUint64(),
			Timestamp: u.Timestamp, MessageFlags: uint32(u.MessageFlags), ChannelFlags: uint32(u.ChannelFlags),
			TimeLockDelta: uint32(u.TimeLockDelta), HtlcMinimumMsat: uint64(u.HtlcMinimumMsat), BaseFee: u.BaseFee,
			FeeRate: u.FeeRate, HtlcMaximumMsat: uint64(u.HtlcMaximumMsat), ExtraOpaqueData: u.ExtraOpaqueData}
	}
	switch e := m.(type) {
	case *lnwire.FailIncorrectDetails:
		f.Code, f.Height = lnrpc.Failure_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS, e.Height()
	case *lnwire.FailTemporaryChannelFailure:
		f.Code, f.ChannelUpdate = lnrpc.Failure_TEMPORARY_CHANNEL_FAILURE, upd(e.Update)
	case *lnwire.FailFeeInsufficient:
		f.Code, f.ChannelUpdate, f.HtlcMsat = lnrpc.Failure_FEE_INSUFFICIENT, upd(&e.Update), uint64(e.HtlcMsat)
	case *lnwire.FailAmountBelowMinimum:
		f.Code, f.ChannelUpdate, f.HtlcMsat = lnrpc.Failure_AMOUNT_BELOW_MINIMUM, upd(&e.Update), uint64(e.HtlcMsat)
	case *lnwire.FailIncorrectCltvExpiry:
		f.Code, f.ChannelUpdate, f.CltvExpiry = lnrpc.Failure_INCORRECT_CLTV_EXPIRY, upd(&e.Update), e.CltvExpiry
	case *lnwire.FailExpiryTooSoon:
		f.Code, f.ChannelUpdate = lnrpc.Failure_EXPIRY_TOO_SOON, upd(&e.Update)
	case *lnwire.FailChannelDisabled:
		f.Code, f.ChannelUpdate, f.Flags = lnrpc.Failure_CHANNEL_DISABLED, upd(&e.Update), uint32(e.Flags)
	case *lnwire.FailUnknownNextPeer:
		f.Code = lnrpc.Failure_UNKNOWN_NEXT_PEER
	case *lnwire.FailTemporaryNodeFailure:
		f.Code = lnrpc.Failure_TEMPORARY_NODE_FAILURE
	case *lnwire.FailPermanentChannelFailure:
		f.Code = lnrpc.Failure_PERMANENT_CHANNEL_FAILURE
	case *lnwire.FailInvalidOnionHmac:
		f.Code, f.OnionSha_256 = lnrpc.Failure_INVALID_ONION_HMAC, e.OnionSHA256[:]
	case *lnwire.FailFinalIncorrectHtlcAmount:
		f.Code, f.HtlcMsat = lnrpc.Failure_FINAL_INCORRECT_HTLC_AMOUNT, uint64(e.IncomingHTLCAmount)
	case *lnwire.FailMPPTimeout:
		f.Code = lnrpc.Failure_MPP_TIMEOUT
	default:
		t.Fatalf("marshal: no case for %T", m)
	}
	return f
}

// lnd's decoded failure, rebuilt, classifies exactly as the same message
// read from our own onion would (htlc.SourcedFailure's equivalence with
// ReadFailure is htlc's test): here the rebuilt message must be the one
// the node sent, channel_update signature included, so the same CLN
// failure comes out; incorrect_or_unknown_payment_details loses only its
// htlc_msat, which lnd does not report.
func TestFailureFromLnd(t *testing.T) {
	self, route, ks := testRoute(t, 3)
	signed := func(k int) lnwire.ChannelUpdate1 {
		u := lnwire.ChannelUpdate1{ShortChannelID: lnwire.NewShortChanIDFromInt(uint64(route[min(k+1, 2)].Channel)),
			Timestamp: 1700000000, MessageFlags: lnwire.ChanUpdateRequiredMaxHtlc, TimeLockDelta: 40, HtlcMinimumMsat: 1000,
			BaseFee: 1, FeeRate: 10, HtlcMaximumMsat: 1 << 30}
		if err := htlc.SignChannelUpdate(&u, ks[k+1]); err != nil {
			t.Fatal(err)
		}
		return u
	}
	for k := range route {
		u := signed(k)
		for _, m := range []lnwire.FailureMessage{
			lnwire.NewTemporaryChannelFailure(&u), lnwire.NewFeeInsufficient(5000, u), lnwire.NewAmountBelowMinimum(5, u),
			lnwire.NewIncorrectCltvExpiry(600, u), lnwire.NewExpiryTooSoon(u), lnwire.NewChannelDisabled(1, u),
			&lnwire.FailUnknownNextPeer{}, &lnwire.FailTemporaryNodeFailure{}, &lnwire.FailPermanentChannelFailure{},
			lnwire.NewInvalidOnionHmac(bytes.Repeat([]byte{3}, 32)), lnwire.NewFinalIncorrectHtlcAmount(99), &lnwire.FailMPPTimeout{},
			lnwire.NewFailIncorrectDetails(0, 612),
		} {
			s := sourced(marshal(t, m, uint32(k+1)))
			var want bytes.Buffer
			if err := lnwire.EncodeFailureMessage(&want, m, 0); err != nil {
				t.Fatal(err)
			}
			if s.Index != k+1 || !bytes.Equal(s.Message, want.Bytes()) || s.Unreadable {
				t.Errorf("%T from %d: %+v\nwant message %x", m, k, s, want.Bytes())
				continue
			}
			got, err := htlc.SourcedFailure(self, route, s.Index, s.Message)
			if err != nil {
				t.Fatal(err)
			}
			if got.UpdateForged {
				t.Errorf("%T from %d: rebuilt channel_update judged forged", m, k)
			}
		}
	}
	// Local (index 0), unreadable, internal.
	if s := sourced(&lnrpc.Failure{Code: lnrpc.Failure_TEMPORARY_CHANNEL_FAILURE}); s.Index != 0 || s.Unreadable {
		t.Errorf("local: %+v", s)
	}
	if s := sourced(&lnrpc.Failure{Code: lnrpc.Failure_UNREADABLE_FAILURE}); !s.Unreadable {
		t.Errorf("unreadable: %+v", s)
	}
	if s := sourced(&lnrpc.Failure{Code: lnrpc.Failure_INTERNAL_FAILURE}); s.Unreadable || s.Index != 0 || s.Detail == "" {
		t.Errorf("internal: %+v", s)
	}
	// A channel_update whose signature is garbage does not panic.
	bad := &lnrpc.Failure{Code: lnrpc.Failure_FEE_INSUFFICIENT, FailureSourceIndex: 1, ChannelUpdate: &lnrpc.ChannelUpdate{Signature: []byte{1}}}
	if s := sourced(bad); s.Unreadable {
		t.Errorf("bad update: %+v", s)
	}
}

// The graph model: describegraph's edges with their policies, an update
// for a new channel and for a policy, a closed channel removed.
func TestGraphModel(t *testing.T) {
	ks := keys(t, 4, 3)
	a, b, c := idOf(ks[0]), idOf(ks[1]), idOf(ks[2])
	pol := &lnrpc.RoutingPolicy{TimeLockDelta: 40, MinHtlc: 1000, FeeBaseMsat: 1, FeeRateMilliMsat: 10, MaxHtlcMsat: 5e9}
	m := newGraphModel()
	m.load(&lnrpc.ChannelGraph{
		Nodes: []*lnrpc.LightningNode{{PubKey: a.String(), Alias: "alice"}},
		Edges: []*lnrpc.ChannelEdge{
			{ChannelId: 1 << 40, Node1Pub: a.String(), Node2Pub: b.String(), Capacity: 1e6, Node1Policy: pol},
			{ChannelId: 2 << 40, Node1Pub: "zz", Node2Pub: b.String()},
		},
	})
	g, err := m.build()
	if err != nil {
		t.Fatal(err)
	}
	if g.NumChannels() != 1 || g.Alias(a) != "alice" {
		t.Fatalf("%d channels, alias %q", g.NumChannels(), g.Alias(a))
	}
	ab := graph.SCID(1 << 40)
	dirAB := graph.Direction(a, b)
	if !g.Usable(graph.SCIDDir{SCID: ab, Dir: dirAB}) || g.Usable(graph.SCIDDir{SCID: ab, Dir: 1 - dirAB}) {
		t.Fatal("policies not on the right side")
	}
	changed := m.apply(&lnrpc.GraphTopologyUpdate{ChannelUpdates: []*lnrpc.ChannelEdgeUpdate{
		{ChanId: 3 << 40, Capacity: 2e6, RoutingPolicy: pol, AdvertisingNode: c.String(), ConnectingNode: b.String()},
		{ChanId: 1 << 40, RoutingPolicy: pol, AdvertisingNode: b.String(), ConnectingNode: a.String()},
	}})
	g, _ = m.build()
	if !changed || g.NumChannels() != 2 || !g.Usable(graph.SCIDDir{SCID: ab, Dir: 1 - dirAB}) ||
		!g.Usable(graph.SCIDDir{SCID: 3 << 40, Dir: graph.Direction(c, b)}) {
		t.Fatal("updates not applied")
	}
	if !m.apply(&lnrpc.GraphTopologyUpdate{ClosedChans: []*lnrpc.ClosedChannelUpdate{{ChanId: 1 << 40}}}) {
		t.Fatal("close not applied")
	}
	g, _ = m.build()
	if _, ok := g.Channel(ab); ok || g.NumChannels() != 1 {
		t.Fatal("closed channel still in the graph")
	}
	if m.apply(&lnrpc.GraphTopologyUpdate{ClosedChans: []*lnrpc.ClosedChannelUpdate{{ChanId: 9}}}) {
		t.Fatal("closing an unknown channel changed the graph")
	}
}

// Spendable leaves the reserve and, for the opener, one HTLC's fee; slots
// count the pending outgoing HTLCs.
func TestSpendableAndSlots(t *testing.T) {
	c := &lnrpc.Channel{LocalBalance: 1_000_000, Initiator: true, FeePerKw: 2500,
		LocalConstraints:  &lnrpc.ChannelConstraints{ChanReserveSat: 10_000, MaxAcceptedHtlcs: 483},
		RemoteConstraints: &lnrpc.ChannelConstraints{MaxAcceptedHtlcs: 30},
		PendingHtlcs:      []*lnrpc.HTLC{{Incoming: false}, {Incoming: true}}}
	if got, want := spendable(c), graph.MilliSat(1_000_000-10_000-430)*1000; got != want {
		t.Errorf("spendable %s, want %s", got, want)
	}
	if got := slots(c); got != 29 {
		t.Errorf("slots %d", got)
	}
	c.Initiator = false
	if got, want := spendable(c), graph.MilliSat(990_000_000); got != want {
		t.Errorf("spendable (not opener) %s, want %s", got, want)
	}
	if spendable(&lnrpc.Channel{LocalBalance: 5, LocalChanReserveSat: 10}) != 0 {
		t.Error("negative spendable")
	}
}

func TestConfigCheck(t *testing.T) {
	err := (&Config{Network: "nonet"}).check()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"--lnd.rpcserver", "--lnd.tlscertpath", "--lnd.macaroonpath", "--lnd.network"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// A failed connection names its likely cause in the flags' terms.
func TestConnectHint(t *testing.T) {
	for msg, want := range map[string]string{
		`dial tcp 127.0.0.1:1: connect: connection refused`:                         "--lnd.rpcserver",
		`tls: failed to verify certificate: x509: certificate signed by unknown`:    "--lnd.tlscertpath",
		`verification failed: signature mismatch after caveat verification`:         "--lnd.macaroonpath",
		`network mismatch with connected lnd node, wanted 'testnet', got 'regtest'`: "--lnd.network",
	} {
		if got := connectHint(errors.New(msg)); !strings.Contains(got, want) {
			t.Errorf("%q: hint %q, want one naming %s", msg, got, want)
		}
	}
	if connectHint(errors.New("something else")) != "" {
		t.Error("a hint for an unknown error")
	}
}
