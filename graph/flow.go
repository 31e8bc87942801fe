package graph

import (
	"errors"
	"fmt"
)

// Liquidity tells the planner what channel directions can carry now, beyond
// the prior [0, min(capacity, htlc_maximum)] every direction starts from.
// EachBound calls fn for every channel direction it knows more about: lo is
// known to pass, hi is the most it can carry, reserved is held by HTLCs in
// flight and is taken off both (the planner also caps hi at the prior).
// EachBound must be safe to call from many goroutines at once.
type Liquidity interface {
	EachBound(fn func(d SCIDDir, lo, hi, reserved MilliSat))
}

// LiquidityMap is a Liquidity held in a plain map, for callers that set
// bounds by hand (a getroutes layer, a test). It must not change while a
// plan reads it.
type LiquidityMap map[SCIDDir]ChannelBounds

// ChannelBounds are one channel direction's liquidity bounds and what is
// reserved on it, in msat.
type ChannelBounds struct {
	Lo, Hi, Reserved MilliSat
}

// EachBound calls fn for every entry of the map.
func (m LiquidityMap) EachBound(fn func(d SCIDDir, lo, hi, reserved MilliSat)) {
	for d, b := range m {
		fn(d, b.Lo, b.Hi, b.Reserved)
	}
}

// Defaults of FlowParams, those of Core Lightning's getroutes.
const (
	DefaultMaxParts = 100  // getroutes' maxparts
	DefaultMaxDelay = 2016 // getroutes' maxdelay, also its upper limit
)

// FlowParams asks PlanFlow for a payment flow. Zero MaxParts and MaxDelay
// mean the defaults; MaxFee is taken as given (zero: no fee at all).
type FlowParams struct {
	Source, Destination NodeID
	Amount              MilliSat // delivered to the destination, in total
	MaxFee              MilliSat // fees of all parts together, at most
	FinalCLTV           uint32   // the destination's final CLTV delta
	MaxDelay            uint32   // each part's total CLTV delay, at most
	MaxParts            int      // routes in the answer, at most
	MinPart             MilliSat // no part delivers less, unless the amount does
	// Liquidity is what is known of channel balances; nil: the prior
	// [0, min(capacity, htlc_maximum)] for every direction.
	Liquidity Liquidity
	// Avoid excludes channel directions and nodes; it must be of this
	// graph's layout.
	Avoid *AvoidSet
	// SourceFree makes the source's own channels cost no fee or delay in
	// the choice (Core Lightning's auto.sourcefree layer). Route amounts
	// never include them: we do not pay ourselves.
	SourceFree bool
}

// FlowPart is one route of a flow and its chance of success, in millionths
// (getroutes' probability_ppm), given the parts before it in the flow
// succeeded: the product of the parts' chances is the flow's.
type FlowPart struct {
	Route          Route
	ProbabilityPPM uint32
}

// Flow is a payment split into parts that deliver the amount exactly.
type Flow struct {
	Parts       []FlowPart
	Probability float64  // that every part succeeds, under the bounds given
	Fee         MilliSat // what all parts pay in fees together
}

var (
	// ErrFlowCapacity means the channels, as far as the liquidity bounds
	// let the planner use them, cannot carry the amount (or not in as few
	// parts as asked). It comes wrapped with ErrNoRoute.
	ErrFlowCapacity = errors.New("graph: amount too large for the liquidity the channels have")
	// ErrFeeBudget means every flow found costs more than the fee budget.
	// It comes wrapped with ErrNoRoute.
	ErrFeeBudget = errors.New("graph: fee budget too low")
)

// Search of the fee weight (nats of -ln P per fee of the whole amount): the
// first solve trades 1% of fees for 0.1 nat (about 10% of probability);
// while the fee is over budget the weight grows, till fees rule.
const (
	flowFeeWeight0   = 10
	flowFeeWeightMul = 4
	flowFeeWeightMax = 10 << 16 // 1 ppm of fee outweighs 0.65 nat
	flowDelayWeight0 = 1        // ppm per block, when a part was too slow
	flowDelayMul     = 10
	flowDelayMax     = 1e6
	maxFlowSolves    = 24
	maxFlowAmount    = 21_000_000 * 100_000_000 * 1000 // msat: every bitcoin
)

// PlanFlow finds a set of routes from Source to Destination that delivers
// Amount exactly: the min-cost flow of Pickhardt & Richter's cost (-ln P of
// each channel's uniform liquidity, linearised, plus a weighted fee; see
// flow_network.go), turned into at most MaxParts routes (flow_decompose.go),
// with the fee weight raised until the fee fits MaxFee. Errors: ErrInvalidParams
// class for bad parameters; ErrNoRoute class when no route exists, with
// ErrFlowCapacity or ErrFeeBudget when that is the reason. It is safe for
// concurrent use.
func (g *Graph) PlanFlow(p FlowParams) (*Flow, error) {
	src, ok1 := g.index[p.Source]
	dst, ok2 := g.index[p.Destination]
	switch {
	case p.Amount == 0:
		return nil, invalid("amount_msat must be positive")
	case p.Amount > maxFlowAmount:
		return nil, invalid("amount_msat %s exceeds all the bitcoin there is", p.Amount)
	case p.MaxParts < 0:
		return nil, invalid("maxparts must be positive, not %d", p.MaxParts)
	case !ok1:
		return nil, invalid("unknown source node %s", p.Source)
	case !ok2:
		return nil, invalid("unknown destination node %s", p.Destination)
	case src == dst:
		return nil, invalid("source and destination are the same node %s", p.Source)
	}
	maxParts, maxDelay := p.MaxParts, p.MaxDelay
	if maxParts == 0 {
		maxParts = DefaultMaxParts
	}
	if maxDelay == 0 {
		maxDelay = DefaultMaxDelay
	}
	if p.FinalCLTV > maxDelay {
		return nil, invalid("final_cltv %d exceeds maxdelay %d", p.FinalCLTV, maxDelay)
	}
	if p.Avoid != nil {
		if err := p.Avoid.check(g); err != nil {
			return nil, invalid("%v", err)
		}
	}
	w := g.getFlowWork()
	defer g.putFlowWork(w)
	w.net.reset(g, p.Liquidity)
	np := netParams{src: src, dst: dst, amount: p.Amount, feeWeight: flowFeeWeight0, sourceFree: p.SourceFree, avoid: p.Avoid}
	var cuts []arcCut
	var cheapest MilliSat
	for solves := 0; solves < maxFlowSolves; solves++ {
		w.net.setup(&np, cuts)
		unit := w.net.unit
		if most := w.net.endCapacity(src, dst); most == 0 {
			return nil, fmt.Errorf("%w: no channel that can carry a part leaves %s or reaches %s", ErrNoRoute, p.Source, p.Destination)
		} else if most < w.net.demand {
			return nil, fmt.Errorf("%w: %w: the channels out of %s and into %s carry at most about %s of %s", ErrNoRoute, ErrFlowCapacity, p.Source, p.Destination, MilliSat(most)*unit, p.Amount)
		}
		// The largest part gives back up to unit-1 msat of rounding
		// (flow_decompose.go), so a part must keep MinPart after that.
		minUnits := int64((p.MinPart + 2*unit - 2) / unit)
		kept, err := g.flowPaths(w, src, dst, maxParts, minUnits, len(cuts) > 0)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoRoute, err)
		}
		pl, err := g.routes(w, kept, p.Amount, p.MaxFee, p.FinalCLTV, maxDelay)
		if err != nil {
			return nil, err
		}
		switch {
		case len(pl.cuts) > 0:
			cuts = append(cuts, pl.cuts...)
		case pl.delayOver:
			if np.delayWeight >= flowDelayMax {
				return nil, fmt.Errorf("%w: every flow found has a part delayed beyond %d blocks", ErrNoRoute, maxDelay)
			}
			np.delayWeight = max(np.delayWeight*flowDelayMul, flowDelayWeight0)
		case pl.feeOver:
			if cheapest == 0 || pl.fee < cheapest {
				cheapest = pl.fee
			}
			if np.feeWeight >= flowFeeWeightMax {
				return nil, fmt.Errorf("%w: %w: the cheapest flow found costs %s, the budget is %s", ErrNoRoute, ErrFeeBudget, cheapest, p.MaxFee)
			}
			np.feeWeight *= flowFeeWeightMul
		default:
			return &Flow{Parts: pl.parts, Probability: pl.prob, Fee: pl.fee}, nil
		}
	}
	if cheapest > 0 {
		return nil, fmt.Errorf("%w: %w: the cheapest flow found costs %s, the budget is %s", ErrNoRoute, ErrFeeBudget, cheapest, p.MaxFee)
	}
	return nil, fmt.Errorf("%w: no flow fits the channels' htlc limits and delays in %d solves", ErrNoRoute, maxFlowSolves)
}

// errUnreachable is flowPaths' answer when no flow at all can pass.
var errUnreachable = errors.New("nothing reaches the destination from the source")

// flowPaths solves the network set up in w and returns its paths, at most
// maxParts of them and none below minUnits but one: with one part allowed,
// the best single path (exact, see single); else the min-cost flow's paths
// fitted to the limits (fitParts), or, if they cannot be, the best single
// path.
func (g *Graph) flowPaths(w *flowWork, src, dst uint32, maxParts int, minUnits int64, repaired bool) ([]flowPath, error) {
	demand, unit := w.net.demand, w.net.unit
	if maxParts > 1 {
		res := g.solve(w, src, dst)
		if res.sent < demand {
			if res.sent == 0 && !repaired {
				return nil, errUnreachable
			}
			return nil, fmt.Errorf("%w: at most about %s can be sent", ErrFlowCapacity, MilliSat(res.sent)*unit)
		}
		kept, err := g.fitParts(w, g.decompose(w, src, dst), maxParts, minUnits)
		if err == nil {
			return kept, nil
		}
		if _, ok := g.single(w, src, dst); !ok {
			return nil, err
		}
	} else if _, ok := g.single(w, src, dst); !ok {
		return nil, fmt.Errorf("%w: no single path can carry it", ErrFlowCapacity)
	}
	return g.decompose(w, src, dst), nil
}
