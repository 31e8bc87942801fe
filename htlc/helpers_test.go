package htlc

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	sphinx "github.com/lightningnetwork/lightning-onion"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
)

// seeded returns a deterministic random source; tests print the seed in
// their names or failure messages.
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

// node is a simulated node: its key and id.
type node struct {
	key *btcec.PrivateKey
	id  graph.NodeID
}

func newNode(t testing.TB, r *rand.ChaCha8) node {
	t.Helper()
	var b [32]byte
	if _, err := r.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	k, _ := btcec.PrivKeyFromBytes(b[:])
	var id graph.NodeID
	copy(id[:], k.PubKey().SerializeCompressed())
	return node{key: k, id: id}
}

// line is a payer and a path of nodes, with the route getroute would give
// for amount msat and final cltv: each hop charges base 1000 msat + 100 ppm
// and a delta of 40 blocks (the first channel's own fee and delta are not
// added, as in CLN's get_route).
type line struct {
	self  node
	nodes []node
	route graph.Route
}

func newLine(t testing.TB, seed uint64, hops int, amount graph.MilliSat, finalCLTV uint32) line {
	t.Helper()
	r := seeded(seed)
	l := line{self: newNode(t, r)}
	for range hops {
		l.nodes = append(l.nodes, newNode(t, r))
	}
	l.route = make(graph.Route, hops)
	amt, delay := amount, finalCLTV
	for i := hops - 1; i >= 0; i-- {
		prev := l.self.id
		if i > 0 {
			prev = l.nodes[i-1].id
		}
		l.route[i] = graph.Hop{
			ID:        l.nodes[i].id,
			Channel:   graph.NewSCID(uint32(100+i), uint32(i+1), uint16(i%2)),
			Direction: direction(prev, l.nodes[i].id),
			Amount:    amt,
			Delay:     delay,
			Style:     "tlv",
		}
		fee, err := graph.Fee(amt, 1000, 100)
		if err != nil {
			t.Fatal(err)
		}
		amt += fee
		delay += 40
	}
	return l
}

// signedUpdate returns a channel_update for scid, signed by key.
func signedUpdate(t testing.TB, key *btcec.PrivateKey, scid graph.SCID, dir uint8) lnwire.ChannelUpdate1 {
	t.Helper()
	u := lnwire.ChannelUpdate1{
		ChainHash:       *chaincfg.RegressionNetParams.GenesisHash,
		ShortChannelID:  lnwire.NewShortChanIDFromInt(uint64(scid)),
		Timestamp:       1_700_000_000,
		MessageFlags:    lnwire.ChanUpdateRequiredMaxHtlc,
		ChannelFlags:    lnwire.ChanUpdateChanFlags(dir),
		TimeLockDelta:   6,
		HtlcMinimumMsat: 1,
		BaseFee:         1,
		FeeRate:         10,
		HtlcMaximumMsat: 1_000_000_000,
	}
	if err := SignChannelUpdate(&u, key); err != nil {
		t.Fatal(err)
	}
	return u
}

// buildRaw builds an onion whose payloads are given as raw TLV bytes, to
// test what a node does with payloads BuildOnion would never write.
func buildRaw(l line, hash [32]byte, payloads [][]byte) ([]byte, error) {
	var path sphinx.PaymentPath
	for i, p := range payloads {
		hp, err := sphinx.NewTLVHopPayload(p)
		if err != nil {
			return nil, err
		}
		path[i] = sphinx.OnionHop{NodePub: *l.nodes[i].key.PubKey(), HopPayload: hp}
	}
	session, err := drawSessionKey(seeded(99))
	if err != nil {
		return nil, err
	}
	pkt, err := sphinx.NewOnionPacket(&path, session, hash[:], sphinx.DeterministicPacketFiller)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := pkt.Encode(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
