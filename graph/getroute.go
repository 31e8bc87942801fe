package graph

import (
	"fmt"
	"math"
)

// Defaults of Core Lightning's getroute (v0.7.x).
const (
	DefaultCLTV        = 9   // final CLTV delta at the destination
	DefaultFuzzPercent = 5.0 // fee fuzz, percent
	DefaultMaxHops     = 20  // ROUTING_MAX_HOPS
)

// GetRouteParams are Core Lightning getroute's parameters. Optional ones are
// pointers: nil means CLN's default.
type GetRouteParams struct {
	ID          NodeID   // destination
	AmountMsat  MilliSat // what the destination must receive (msatoshi)
	RiskFactor  float64  // annual cost of locked funds, percent
	CLTV        *uint32  // final CLTV delta; default 9
	FromID      NodeID   // source; the engine passes its own node id
	FuzzPercent *float64 // 0..100; default 5
	Exclude     []Exclusion
	// Avoid excludes as Exclude does, already as sets: what a caller that
	// remembers many failures passes. It must be of this graph's layout.
	Avoid   *AvoidSet
	MaxHops *uint32 // most channels in the route; default 20
	Seed    Seed    // keys the fee fuzz (see Seed)
	// Reuse says the caller will search from this source with this seed
	// again (pay's pooled seeds): the seed's channel hashes, and once the
	// same search has come a few times the A* bound, are kept with the
	// snapshot for the next search (see boundcache.go). The cost found is
	// the same either way; among routes of equal cost the one returned
	// may differ.
	Reuse bool
}

// GetRoute finds the route getroute returns: the cheapest under CLN's cost
// (total fees + risk, spec section 8.3) within MaxHops channels, exactly. Errors are
// *Error values: ErrNoRoute (205) when there is none, ErrInvalidParams
// (-32602) for parameters out of range or an exclude entry that is neither a
// channel direction nor a node id. GetRoute is safe for concurrent use.
func (g *Graph) GetRoute(p GetRouteParams) (Route, error) {
	q, maxHops, err := g.compile(&p)
	if err != nil {
		return nil, err
	}
	best, ok := g.find(q, maxHops)
	if !ok {
		return nil, ErrNoRoute
	}
	if len(best.edges) > maxHops {
		// Rare: the cheapest route is too long. Search again with the
		// hop count as a constraint (see the search's package comment).
		q.maxHops = uint32(maxHops)
		if best, ok = g.find(q, maxHops); !ok {
			return nil, ErrNoRoute
		}
	}
	return g.hops(best.edges, q.amount, q.cltv)
}

func invalid(format string, a ...any) error {
	return &Error{Code: CodeInvalidParams, Message: fmt.Sprintf(format, a...)}
}

func (g *Graph) compile(p *GetRouteParams) (*query, int, error) {
	q := &query{amount: p.AmountMsat, cltv: DefaultCLTV, bias: 1, seed: p.Seed, zeroSeed: p.Seed == (Seed{}), fuzz: DefaultFuzzPercent / 100}
	if p.CLTV != nil {
		q.cltv = *p.CLTV
	}
	if p.RiskFactor < 0 || math.IsNaN(p.RiskFactor) || math.IsInf(p.RiskFactor, 0) {
		return nil, 0, invalid("'riskfactor' should be a positive double, not '%v'", p.RiskFactor)
	}
	// riskfactor crosses to CLN's gossipd as a u64 of millionths.
	q.rf = float64(uint64(p.RiskFactor*1e6)) / 1e6 / blocksPerYear / 100
	if p.FuzzPercent != nil {
		f := *p.FuzzPercent
		if !(f >= 0 && f <= 100) {
			return nil, 0, invalid("'fuzzpercent' should be a percentage from 0 to 100, not '%v'", f)
		}
		q.fuzz = f / 100
	}
	maxHops := DefaultMaxHops
	if p.MaxHops != nil {
		maxHops = int(*p.MaxHops)
	}
	for _, x := range p.Exclude {
		if x.IsNode {
			if n, ok := g.index[x.Node]; ok {
				if q.exclNode == nil {
					q.exclNode = make(map[uint32]struct{})
				}
				q.exclNode[n] = struct{}{}
			}
			continue
		}
		if c, ok := g.byscid[x.Channel.SCID]; ok && x.Channel.Dir <= 1 {
			if q.exclHalf == nil {
				q.exclHalf = make(map[uint32]struct{})
			}
			q.exclHalf[2*c+uint32(x.Channel.Dir)] = struct{}{}
		}
	}
	if p.Avoid != nil {
		if err := p.Avoid.check(g); err != nil {
			return nil, 0, invalid("%v", err)
		}
		q.avoid = p.Avoid
	}
	src, ok1 := g.index[p.FromID]
	dst, ok2 := g.index[p.ID]
	if !ok1 || !ok2 || src == dst || p.AmountMsat == 0 || maxHops == 0 {
		// CLN: unknown ends, an empty route and a zero amount all give 205.
		return nil, 0, ErrNoRoute
	}
	q.src, q.dst = src, dst
	if p.Reuse {
		q.reuse = true
		if q.fuzz != 0 && !q.zeroSeed {
			q.tab = g.seeds.table(g, &q.seed)
		}
	}
	for ei := g.outStart[src]; ei < g.outStart[src+1]; ei++ {
		if e := &g.out[ei]; !q.excluded(e) && e.htlcMax > q.firstMax {
			q.firstMax = e.htlcMax
		}
	}
	return q, maxHops, nil
}

// hops turns a path of g.in indexes into getroute's hops (buildRoute).
func (g *Graph) hops(edges []int32, amount MilliSat, cltv uint32) (Route, error) {
	es := make([]*edge, len(edges))
	for i, ei := range edges {
		es[i] = &g.in[ei]
	}
	return g.buildRoute(es, amount, cltv)
}
