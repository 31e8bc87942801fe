package graph

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
)

// The describegraph JSON of lnd's `lncli describegraph`: 64-bit numbers are
// decimal strings, 32-bit ones are JSON numbers (protobuf JSON mapping).
type dgFile struct {
	Nodes []dgNode `json:"nodes"`
	Edges []dgEdge `json:"edges"`
}

type dgNode struct {
	PubKey     string         `json:"pub_key"`
	Alias      string         `json:"alias"`
	LastUpdate uint32         `json:"last_update"`
	Addresses  []any          `json:"addresses"`
	Features   map[string]any `json:"features"`
}

type dgEdge struct {
	ChannelID   string    `json:"channel_id"`
	ChanPoint   string    `json:"chan_point"`
	LastUpdate  uint32    `json:"last_update"`
	Node1Pub    string    `json:"node1_pub"`
	Node2Pub    string    `json:"node2_pub"`
	Capacity    string    `json:"capacity"`
	Node1Policy *dgPolicy `json:"node1_policy"`
	Node2Policy *dgPolicy `json:"node2_policy"`
}

type dgPolicy struct {
	TimeLockDelta    uint32 `json:"time_lock_delta"`
	MinHTLC          string `json:"min_htlc"`
	FeeBaseMsat      string `json:"fee_base_msat"`
	FeeRateMilliMsat string `json:"fee_rate_milli_msat"`
	Disabled         bool   `json:"disabled"`
	MaxHTLCMsat      string `json:"max_htlc_msat"`
	LastUpdate       uint32 `json:"last_update"`
}

// LoadDescribeGraphFile loads a describegraph file, plain or gzip-compressed.
func LoadDescribeGraphFile(path string) (*Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	defer f.Close()
	g, err := LoadDescribeGraph(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// LoadDescribeGraph reads LND describegraph JSON, plain or gzip-compressed
// (detected by its magic bytes), and builds a snapshot. Errors name the
// record and field that are wrong.
func LoadDescribeGraph(r io.Reader) (*Graph, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("graph: describegraph gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	var f dgFile
	dec := json.NewDecoder(br)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("graph: describegraph: %w", err)
	}
	if f.Nodes == nil && f.Edges == nil {
		return nil, fmt.Errorf("graph: describegraph: no \"nodes\" or \"edges\"")
	}
	var b Builder
	b.nodes = make([]Node, 0, len(f.Nodes))
	b.chans = make([]Channel, 0, len(f.Edges))
	for i, n := range f.Nodes {
		id, err := ParseNodeID(n.PubKey)
		if err != nil {
			return nil, fmt.Errorf("graph: describegraph nodes[%d].pub_key: %w", i, err)
		}
		b.AddNode(Node{ID: id, Alias: n.Alias})
	}
	for i := range f.Edges {
		c, err := f.Edges[i].channel()
		if err != nil {
			return nil, fmt.Errorf("graph: describegraph edges[%d]: %w", i, err)
		}
		b.AddChannel(c)
	}
	return b.Build()
}

func (e *dgEdge) channel() (Channel, error) {
	var c Channel
	id, err := strconv.ParseUint(e.ChannelID, 10, 64)
	if err != nil {
		return c, fmt.Errorf("channel_id %q: %w", e.ChannelID, err)
	}
	c.SCID = SCID(id)
	if c.Node1, err = ParseNodeID(e.Node1Pub); err != nil {
		return c, fmt.Errorf("node1_pub: %w", err)
	}
	if c.Node2, err = ParseNodeID(e.Node2Pub); err != nil {
		return c, fmt.Errorf("node2_pub: %w", err)
	}
	if c.Capacity, err = strconv.ParseUint(e.Capacity, 10, 64); err != nil {
		return c, fmt.Errorf("capacity %q: %w", e.Capacity, err)
	}
	for d, p := range [2]*dgPolicy{e.Node1Policy, e.Node2Policy} {
		if p == nil {
			continue
		}
		pol, err := p.policy()
		if err != nil {
			return c, fmt.Errorf("node%d_policy: %w", d+1, err)
		}
		c.Policy[d] = &pol
	}
	return c, nil
}

func (p *dgPolicy) policy() (Policy, error) {
	var pol Policy
	if p.TimeLockDelta > 0xFFFF {
		return pol, fmt.Errorf("time_lock_delta %d does not fit in 16 bits", p.TimeLockDelta)
	}
	base, err := strconv.ParseUint(p.FeeBaseMsat, 10, 32)
	if err != nil {
		return pol, fmt.Errorf("fee_base_msat %q: %w", p.FeeBaseMsat, err)
	}
	ppm, err := strconv.ParseUint(p.FeeRateMilliMsat, 10, 32)
	if err != nil {
		return pol, fmt.Errorf("fee_rate_milli_msat %q: %w", p.FeeRateMilliMsat, err)
	}
	min, err := strconv.ParseUint(p.MinHTLC, 10, 64)
	if err != nil {
		return pol, fmt.Errorf("min_htlc %q: %w", p.MinHTLC, err)
	}
	max, err := strconv.ParseUint(p.MaxHTLCMsat, 10, 64)
	if err != nil {
		return pol, fmt.Errorf("max_htlc_msat %q: %w", p.MaxHTLCMsat, err)
	}
	return Policy{
		BaseMsat: uint32(base), FeePPM: uint32(ppm), CLTVDelta: uint16(p.TimeLockDelta),
		HTLCMin: MilliSat(min), HTLCMax: MilliSat(max), Disabled: p.Disabled,
		LastUpdate: p.LastUpdate,
	}, nil
}

// WriteDescribeGraph writes the snapshot as describegraph JSON, the format
// LoadDescribeGraph reads; aliases are kept, addresses and features are
// empty as in the bundled files.
func (g *Graph) WriteDescribeGraph(w io.Writer) error {
	f := dgFile{Nodes: make([]dgNode, len(g.ids)), Edges: make([]dgEdge, len(g.chans))}
	for i, id := range g.ids {
		f.Nodes[i] = dgNode{PubKey: id.String(), Alias: g.aliases[i], Addresses: []any{}, Features: map[string]any{}}
	}
	for i := range g.chans {
		ci := g.channelInfo(uint32(i))
		e := dgEdge{
			ChannelID: strconv.FormatUint(uint64(ci.SCID), 10),
			ChanPoint: fmt.Sprintf("%064x:%d", 0, i),
			Node1Pub:  ci.Node1.String(), Node2Pub: ci.Node2.String(),
			Capacity: strconv.FormatUint(ci.Capacity, 10),
		}
		for d, p := range ci.Policy {
			if p == nil {
				continue
			}
			dp := &dgPolicy{
				TimeLockDelta: uint32(p.CLTVDelta), MinHTLC: strconv.FormatUint(uint64(p.HTLCMin), 10),
				FeeBaseMsat: strconv.FormatUint(uint64(p.BaseMsat), 10), FeeRateMilliMsat: strconv.FormatUint(uint64(p.FeePPM), 10),
				Disabled: p.Disabled, MaxHTLCMsat: strconv.FormatUint(uint64(p.HTLCMax), 10), LastUpdate: p.LastUpdate,
			}
			if d == 0 {
				e.Node1Policy = dp
			} else {
				e.Node2Policy = dp
			}
		}
		f.Edges[i] = e
	}
	bw := bufio.NewWriter(w)
	if err := json.NewEncoder(bw).Encode(&f); err != nil {
		return fmt.Errorf("graph: write describegraph: %w", err)
	}
	return bw.Flush()
}
