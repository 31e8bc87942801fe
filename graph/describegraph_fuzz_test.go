package graph

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/payengine/payengine/internal/fuzzcorpus"
)

// FuzzLoadDescribeGraph runs its seed corpus (testdata/fuzz) in every go
// test. To fuzz:
//
//	go test ./graph -run '^$' -fuzz '^FuzzLoadDescribeGraph$' -fuzztime 10m
//
// The generated seeds are rewritten with
//
//	go test ./graph -run TestFuzzCorpus -rewrite

var rewrite = flag.Bool("rewrite", false, "rewrite the generated seed corpus in testdata/fuzz")

// FuzzLoadDescribeGraph: LoadDescribeGraph never panics; a graph it accepts
// is written by WriteDescribeGraph as a file that loads to the same nodes,
// aliases and channels and is written again byte for byte; and getroute
// over it either finds a route that holds together or says why not.
func FuzzLoadDescribeGraph(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := LoadDescribeGraph(bytes.NewReader(data))
		if err != nil {
			if g != nil {
				t.Fatalf("a graph and an error: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := g.WriteDescribeGraph(&out); err != nil {
			t.Fatalf("accepted graph does not write: %v", err)
		}
		g2, err := LoadDescribeGraph(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("written graph does not load: %v\n%s", err, out.Bytes())
		}
		if g2.NumNodes() != g.NumNodes() || g2.NumChannels() != g.NumChannels() || g2.NumUsable() != g.NumUsable() {
			t.Fatalf("reloaded %d nodes, %d channels, %d usable; had %d, %d, %d",
				g2.NumNodes(), g2.NumChannels(), g2.NumUsable(), g.NumNodes(), g.NumChannels(), g.NumUsable())
		}
		ids := g.Nodes()
		if !reflect.DeepEqual(g2.Nodes(), ids) {
			t.Fatalf("node order changed: %v, was %v", g2.Nodes(), ids)
		}
		for _, id := range ids {
			if g2.Alias(id) != g.Alias(id) {
				t.Fatalf("alias of %s: %q, was %q", id, g2.Alias(id), g.Alias(id))
			}
		}
		g.Channels(func(c ChannelInfo) bool {
			if c2, ok := g2.Channel(c.SCID); !ok || !reflect.DeepEqual(c2, c) {
				t.Fatalf("channel %s reloaded as %+v (%v), was %+v", c.SCID, c2, ok, c)
			}
			return true
		})
		var again bytes.Buffer
		if err := g2.WriteDescribeGraph(&again); err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatalf("second write differs (%v):\n%s\nfirst:\n%s", err, again.Bytes(), out.Bytes())
		}
		if len(ids) >= 2 {
			for _, amt := range []MilliSat{1000, 1 << 62} {
				checkFuzzedRoute(t, g, ids[0], ids[len(ids)-1], amt)
			}
		}
	})
}

// checkFuzzedRoute asks getroute for amt from src to dst: it must refuse with an
// error, or give hops that chain from src to dst over usable channels, with
// amounts and delays that only shrink toward the destination.
func checkFuzzedRoute(t *testing.T, g *Graph, src, dst NodeID, amt MilliSat) {
	t.Helper()
	r, err := g.GetRoute(GetRouteParams{ID: dst, FromID: src, AmountMsat: amt, RiskFactor: 10})
	if err != nil {
		if r != nil {
			t.Fatalf("a route and an error: %v", err)
		}
		return
	}
	if len(r) == 0 || len(r) > DefaultMaxHops || r[len(r)-1].ID != dst {
		t.Fatalf("route to %s: %+v", dst, r)
	}
	last := r[len(r)-1]
	if last.Amount != amt || last.Delay != DefaultCLTV {
		t.Fatalf("destination gets %s with delay %d; asked %s, %d", last.Amount, last.Delay, amt, DefaultCLTV)
	}
	from := src
	for i, h := range r {
		c, ok := g.Channel(h.Channel)
		if !ok || !g.Usable(SCIDDir{h.Channel, h.Direction}) || Direction(from, h.ID) != h.Direction ||
			!((c.Node1 == from && c.Node2 == h.ID) || (c.Node2 == from && c.Node1 == h.ID)) {
			t.Fatalf("hop %d %+v does not lead on from %s", i, h, from)
		}
		if i > 0 && (h.Amount > r[i-1].Amount || h.Delay > r[i-1].Delay) {
			t.Fatalf("hop %d asks more than hop %d: %+v", i, i-1, r)
		}
		from = h.ID
	}
}

// graphSeeds are FuzzLoadDescribeGraph's generated seeds: small graphs cut
// from the sub300 file (plain and gzip-compressed), the same with one
// field broken in each of the ways the loader checks, and documents that
// are not describegraph at all.
func graphSeeds(t *testing.T) map[string][]byte {
	raw, err := os.ReadFile(sub300File)
	if err != nil {
		t.Fatal(err)
	}
	var full dgFile
	if err := json.Unmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	cut := func(nEdges int) dgFile {
		var d dgFile
		seen := map[string]bool{}
		for _, e := range full.Edges[:nEdges] {
			d.Edges = append(d.Edges, e)
			seen[e.Node1Pub], seen[e.Node2Pub] = true, true
		}
		for _, n := range full.Nodes {
			if seen[n.PubKey] {
				d.Nodes = append(d.Nodes, n)
			}
		}
		return d
	}
	enc := func(d dgFile) []byte {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	small := cut(6)
	seeds := map[string][]byte{
		"valid-1-edge":          enc(cut(1)),
		"valid-6-edges":         enc(small),
		"valid-12-edges":        enc(cut(12)),
		"valid-empty":           []byte(`{"nodes":[],"edges":[]}`),
		"valid-edges-only":      enc(dgFile{Edges: small.Edges}),
		"valid-trailing-bytes":  append(enc(cut(1)), "garbage"...),
		"bad-not-json":          []byte("describegraph"),
		"bad-array":             []byte(`[{"nodes":[]}]`),
		"bad-no-members":        []byte(`{}`),
		"bad-truncated":         enc(small)[:200],
		"bad-gzip-magic-only":   {0x1f, 0x8b},
		"bad-numbers-as-number": []byte(strings.Replace(string(enc(cut(1))), `"capacity":"`, `"capacity":1`, 1)),
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(enc(small))
	zw.Close()
	seeds["valid-gzip-6-edges"] = z.Bytes()
	seeds["bad-gzip-truncated"] = z.Bytes()[:z.Len()/2]

	// One field broken per seed, in the first edge or node.
	for name, mod := range map[string]func(*dgFile){
		"bad-pub-key":           func(d *dgFile) { d.Nodes[0].PubKey = "04" + d.Nodes[0].PubKey[2:] },
		"bad-node-twice":        func(d *dgFile) { d.Nodes = append(d.Nodes, d.Nodes[0]) },
		"bad-channel-twice":     func(d *dgFile) { d.Edges = append(d.Edges, d.Edges[0]) },
		"bad-self-channel":      func(d *dgFile) { d.Edges[0].Node2Pub = d.Edges[0].Node1Pub },
		"bad-channel-id":        func(d *dgFile) { d.Edges[0].ChannelID = "18446744073709551616" },
		"bad-capacity":          func(d *dgFile) { d.Edges[0].Capacity = "-1" },
		"bad-time-lock-delta":   func(d *dgFile) { d.Edges[0].Node1Policy.TimeLockDelta = 65536 },
		"bad-fee-base":          func(d *dgFile) { d.Edges[0].Node1Policy.FeeBaseMsat = "4294967296" },
		"bad-fee-rate":          func(d *dgFile) { d.Edges[0].Node2Policy.FeeRateMilliMsat = "x" },
		"bad-min-htlc":          func(d *dgFile) { d.Edges[0].Node1Policy.MinHTLC = "" },
		"bad-max-htlc":          func(d *dgFile) { d.Edges[0].Node2Policy.MaxHTLCMsat = "1e9" },
		"valid-null-policy":     func(d *dgFile) { d.Edges[0].Node1Policy = nil },
		"valid-disabled":        func(d *dgFile) { d.Edges[1].Node2Policy.Disabled = true },
		"valid-min-above-max":   func(d *dgFile) { d.Edges[2].Node1Policy.MinHTLC = "999999999999" },
		"valid-unlisted-node":   func(d *dgFile) { d.Nodes = d.Nodes[1:] },
		"valid-extreme-policy":  extremePolicies,
		"valid-odd-alias":       func(d *dgFile) { d.Nodes[0].Alias = "\x00\"\\\u2028 ⚡ \xff" },
		"valid-zero-capacities": func(d *dgFile) { d.Edges[3].Capacity = "0"; d.Edges[3].ChannelID = "0" },
	} {
		d := cut(6)
		for i := range d.Edges { // deep copies: the policies are pointers
			for _, p := range []**dgPolicy{&d.Edges[i].Node1Policy, &d.Edges[i].Node2Policy} {
				if *p != nil {
					c := **p
					*p = &c
				}
			}
		}
		mod(&d)
		seeds[name] = enc(d)
	}
	return seeds
}

// extremePolicies gives every policy of a cut graph the largest values the
// loader takes, for getroute's overflow checks.
func extremePolicies(d *dgFile) {
	for i := range d.Edges {
		for _, p := range []*dgPolicy{d.Edges[i].Node1Policy, d.Edges[i].Node2Policy} {
			if p != nil {
				p.TimeLockDelta, p.FeeBaseMsat, p.FeeRateMilliMsat = 65535, "4294967295", "4294967295"
				p.MinHTLC, p.MaxHTLCMsat = "0", "18446744073709551615"
			}
		}
	}
}

// TestFuzzCorpus: the generated seeds on disk are what graphSeeds makes
// (go test ./graph -run TestFuzzCorpus -rewrite writes them again; crash
// files the fuzzer added are left alone). The seeds named valid- load.
func TestFuzzCorpus(t *testing.T) {
	seeds := graphSeeds(t)
	corpus := make(map[string][]any, len(seeds))
	for name, b := range seeds {
		_, err := LoadDescribeGraph(bytes.NewReader(b))
		if valid := strings.HasPrefix(name, "valid-"); valid != (err == nil) {
			t.Errorf("%s: load error %v", name, err)
		}
		corpus[name] = []any{b}
	}
	fuzzcorpus.Check(t, "FuzzLoadDescribeGraph", corpus, *rewrite)
}
