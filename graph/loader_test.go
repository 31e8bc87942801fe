package graph

import (
	"bytes"
	"compress/gzip"
	"strings"
	"sync"
	"testing"
)

const (
	mainnetFile = "../graphdata/ln-mainnet-2026-02-03.describegraph.json.gz"
	sub300File  = "../graphdata/ln-mainnet-2026-02-03-sub300.describegraph.json"
)

var (
	mainnetOnce sync.Once
	mainnetG    *Graph
	mainnetErr  error
)

// mainnet loads the full snapshot once per test binary.
func mainnet(tb testing.TB) *Graph {
	tb.Helper()
	mainnetOnce.Do(func() { mainnetG, mainnetErr = LoadDescribeGraphFile(mainnetFile) })
	if mainnetErr != nil {
		tb.Fatal(mainnetErr)
	}
	return mainnetG
}

func sub300(tb testing.TB) *Graph {
	tb.Helper()
	g, err := LoadDescribeGraphFile(sub300File)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// The counts are those graphdata/README.md gives for the two files.
func TestLoadCounts(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		g                      *Graph
		nodes, chans, directed int
	}{
		{"mainnet", mainnet(t), 17324, 50808, 65810},
		{"sub300", sub300(t), 300, 1154, 2264},
	} {
		if tc.g.NumNodes() != tc.nodes || tc.g.NumChannels() != tc.chans || tc.g.NumUsable() != tc.directed {
			t.Errorf("%s: %d nodes, %d channels, %d usable directions; want %d, %d, %d", tc.name,
				tc.g.NumNodes(), tc.g.NumChannels(), tc.g.NumUsable(), tc.nodes, tc.chans, tc.directed)
		}
	}
	g := mainnet(t)
	acinq, _ := ParseNodeID("03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f")
	if g.Alias(acinq) != "ACINQ" || g.NodeChannels(acinq) != 1832 {
		t.Errorf("ACINQ: alias %q, %d enabled channels out; want ACINQ, 1832 (data README: 1,832 enabled outgoing policies)", g.Alias(acinq), g.NodeChannels(acinq))
	}
}

// Direction 0 is from the lesser node id, whatever order a file lists the
// ends in (BOLT 7).
func TestLoadDirection(t *testing.T) {
	in := `{"nodes":[],"edges":[{"channel_id":"1","node1_pub":"03` + strings.Repeat("11", 32) + `","node2_pub":"02` + strings.Repeat("22", 32) + `","capacity":"1000",
	 "node1_policy":{"time_lock_delta":40,"min_htlc":"1","fee_base_msat":"7","fee_rate_milli_msat":"1","disabled":false,"max_htlc_msat":"1000"},
	 "node2_policy":null}]}`
	g, err := LoadDescribeGraph(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := g.Channel(SCID(1))
	if c.Node1.String()[:2] != "02" || c.Policy[1] == nil || c.Policy[1].BaseMsat != 7 || c.Policy[0] != nil {
		t.Fatalf("policies not swapped with their nodes: %+v", c)
	}
	if !g.Usable(SCIDDir{1, 1}) || g.Usable(SCIDDir{1, 0}) {
		t.Fatal("usable directions wrong: a null policy is unusable")
	}
}

// A malformed file gives an error that names what is wrong, never a panic.
func TestLoadMalformed(t *testing.T) {
	okEdge := `{"channel_id":"1","node1_pub":"02` + strings.Repeat("11", 32) + `","node2_pub":"03` + strings.Repeat("22", 32) + `","capacity":"1000","node1_policy":%s}`
	okPol := `{"time_lock_delta":40,"min_htlc":"1","fee_base_msat":"0","fee_rate_milli_msat":"1","disabled":false,"max_htlc_msat":"1000"}`
	edge := func(s string) string { return `{"nodes":[],"edges":[` + s + `]}` }
	cases := []struct{ in, want string }{
		{``, "EOF"},
		{`[1,2]`, "cannot unmarshal array"},
		{`{}`, `no "nodes" or "edges"`},
		{`{"nodes":[{"pub_key":"zz"}]}`, "nodes[0].pub_key"},
		{`{"nodes":[{"pub_key":"04` + strings.Repeat("11", 32) + `"}]}`, "prefix must be 02 or 03"},
		{edge(strings.Replace(strings.Replace(okEdge, "%s", okPol, 1), `"channel_id":"1"`, `"channel_id":"x"`, 1)), "edges[0]: channel_id"},
		{edge(strings.Replace(strings.Replace(okEdge, "%s", okPol, 1), `"capacity":"1000"`, `"capacity":1000`, 1)), "capacity"},
		{edge(strings.Replace(okEdge, "%s", strings.Replace(okPol, `"40"`, `"x"`, 1), 1)), ""},
		{edge(strings.Replace(okEdge, "%s", strings.Replace(okPol, `40`, `70000`, 1), 1)), "edges[0]: node1_policy: time_lock_delta 70000"},
		{edge(strings.Replace(okEdge, "%s", strings.Replace(okPol, `"fee_base_msat":"0"`, `"fee_base_msat":"5000000000"`, 1), 1)), "fee_base_msat"},
		{edge(strings.Replace(okEdge, "%s", strings.Replace(okPol, `"min_htlc":"1"`, `"min_htlc":"-1"`, 1), 1)), "min_htlc"},
		{edge(strings.Replace(strings.Replace(okEdge, "%s", okPol, 1), "03"+strings.Repeat("22", 32), "02"+strings.Repeat("11", 32), 1)), "both ends"},
		{`{"nodes":[],"edges":[` + strings.Replace(okEdge, "%s", okPol, 1) + `,` + strings.Replace(okEdge, "%s", okPol, 1) + `]}`, "listed twice"},
		{`{"nodes":[{"pub_key":"02` + strings.Repeat("11", 32) + `"}`, "unexpected EOF"},
	}
	for i, tc := range cases {
		_, err := LoadDescribeGraph(strings.NewReader(tc.in))
		if err == nil {
			if tc.want == "" {
				continue
			}
			t.Errorf("#%d: no error, want %q", i, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("#%d: %v, want it to mention %q", i, err, tc.want)
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"nodes":[`))
	zw.Close()
	if _, err := LoadDescribeGraph(&gz); err == nil {
		t.Error("truncated gzip: no error")
	}
}

// WriteDescribeGraph writes what LoadDescribeGraph reads back unchanged.
func TestDescribeGraphRoundTrip(t *testing.T) {
	g := sub300(t)
	var buf bytes.Buffer
	if err := g.WriteDescribeGraph(&buf); err != nil {
		t.Fatal(err)
	}
	g2, err := LoadDescribeGraph(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if g2.NumNodes() != g.NumNodes() || g2.NumChannels() != g.NumChannels() || g2.NumUsable() != g.NumUsable() {
		t.Fatal("counts differ after a round trip")
	}
	g.Channels(func(c ChannelInfo) bool {
		c2, ok := g2.Channel(c.SCID)
		if !ok || c2.Node1 != c.Node1 || c2.Capacity != c.Capacity || *c2.Policy[0] != *c.Policy[0] || *c2.Policy[1] != *c.Policy[1] {
			t.Fatalf("channel %s differs", c.SCID)
		}
		return true
	})
}
