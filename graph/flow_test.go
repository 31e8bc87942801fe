package graph

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// flowChan is a channel for buildFlowGraph: scid block, ends, capacity in
// sat and the policies of both directions.
type flowChan struct {
	block    uint32
	from, to byte
	capacity uint64
	pol      *Policy
	rev      *Policy // to→from; nil: none
}

func buildFlowGraph(t *testing.T, chans ...flowChan) *Graph {
	t.Helper()
	var b Builder
	for _, c := range chans {
		var pols [2]*Policy
		pols[0], pols[1] = c.pol, c.rev // the builder takes Policy[0] as Node1's
		b.AddChannel(Channel{SCID: NewSCID(c.block, 1, 0), Node1: id(c.from), Node2: id(c.to), Capacity: c.capacity, Policy: pols})
	}
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func dirOf(block uint32, from, to byte) SCIDDir {
	return SCIDDir{NewSCID(block, 1, 0), Direction(id(from), id(to))}
}

// checkPlan verifies a flow against the graph and the parameters, without
// the planner's code: routes join up from the source to the destination
// over usable, not avoided channel directions; each hop's amount is the
// next one's plus that channel's fee and lies within its htlc limits; delays
// add up from the final CLTV and stay within MaxDelay; the parts deliver the
// amount exactly, are no more than MaxParts and none below MinPart (unless
// one part); the fee is the sum of what the parts pay and within MaxFee; no
// channel direction carries more than its upper bound; and the flow's
// probability is the product, over channel directions, of uniform
// liquidity's chance of carrying their total, and the product of the
// parts'.
func checkPlan(t *testing.T, g *Graph, p FlowParams, f *Flow) {
	t.Helper()
	maxParts, maxDelay := p.MaxParts, p.MaxDelay
	if maxParts == 0 {
		maxParts = DefaultMaxParts
	}
	if maxDelay == 0 {
		maxDelay = DefaultMaxDelay
	}
	if len(f.Parts) == 0 || len(f.Parts) > maxParts {
		t.Fatalf("%d parts, at most %d allowed", len(f.Parts), maxParts)
	}
	bounds := map[SCIDDir][2]MilliSat{}
	carried := map[SCIDDir]MilliSat{}
	var delivered, fee MilliSat
	partProb := 1.0
	for i, part := range f.Parts {
		r := part.Route
		if len(r) == 0 {
			t.Fatalf("part %d is empty", i)
		}
		at := p.Source
		for j, h := range r {
			c, ok := g.Channel(h.Channel)
			d := SCIDDir{h.Channel, h.Direction}
			if !ok || !g.Usable(d) {
				t.Fatalf("part %d hop %d: %s is not usable", i, j, d)
			}
			from, to := c.Node1, c.Node2
			if h.Direction == 1 {
				from, to = to, from
			}
			if from != at || to != h.ID {
				t.Fatalf("part %d hop %d: %s does not join %s to %s", i, j, d, at, h.ID)
			}
			at = to
			pol := c.Policy[h.Direction]
			if h.Amount < pol.HTLCMin || h.Amount > pol.HTLCMax {
				t.Fatalf("part %d hop %d: %s outside htlc limits [%s, %s]", i, j, h.Amount, pol.HTLCMin, pol.HTLCMax)
			}
			if p.Avoid != nil {
				ci := g.byscid[h.Channel]
				if p.Avoid.hasHalf(2*ci+uint32(h.Direction)) || p.Avoid.hasNode(g.index[from]) || p.Avoid.hasNode(g.index[to]) {
					t.Fatalf("part %d hop %d: %s is avoided", i, j, d)
				}
			}
			if j+1 < len(r) {
				next := r[j+1]
				nc, _ := g.Channel(next.Channel)
				npol := nc.Policy[next.Direction]
				fe, err := Fee(next.Amount, npol.BaseMsat, npol.FeePPM)
				if err != nil || h.Amount != next.Amount+fe {
					t.Fatalf("part %d hop %d: amount %s, next %s plus fee %s", i, j, h.Amount, next.Amount, fe)
				}
				if h.Delay != next.Delay+uint32(npol.CLTVDelta) {
					t.Fatalf("part %d hop %d: delay %d, next %d plus %d", i, j, h.Delay, next.Delay, npol.CLTVDelta)
				}
			} else if h.Delay != p.FinalCLTV {
				t.Fatalf("part %d: last delay %d, final cltv %d", i, h.Delay, p.FinalCLTV)
			}
			if _, ok := bounds[d]; !ok {
				hi := min(MilliSat(c.Capacity*1000), pol.HTLCMax)
				lo := MilliSat(0)
				if lm, ok := p.Liquidity.(LiquidityMap); ok {
					if b, ok := lm[d]; ok {
						h := min(b.Hi, hi)
						lo, hi = subFloor(min(b.Lo, h), b.Reserved), subFloor(h, b.Reserved)
					}
				}
				bounds[d] = [2]MilliSat{lo, hi}
			}
			carried[d] += h.Amount
		}
		if at != p.Destination {
			t.Fatalf("part %d ends at %s, not the destination", i, at)
		}
		last := r[len(r)-1].Amount
		if len(f.Parts) > 1 && last < p.MinPart {
			t.Fatalf("part %d delivers %s, below the minimum part %s", i, last, p.MinPart)
		}
		if r[0].Delay > maxDelay {
			t.Fatalf("part %d delay %d over maxdelay %d", i, r[0].Delay, maxDelay)
		}
		delivered += last
		fee += r[0].Amount - last
		partProb *= float64(part.ProbabilityPPM) / 1e6
	}
	if delivered != p.Amount {
		t.Fatalf("parts deliver %s, the amount is %s", delivered, p.Amount)
	}
	if fee != f.Fee || fee > p.MaxFee {
		t.Fatalf("fees sum to %s, flow says %s, budget %s", fee, f.Fee, p.MaxFee)
	}
	prob := 1.0
	for d, x := range carried {
		b := bounds[d]
		if x > b[1] {
			t.Fatalf("%s carries %s, above its upper bound %s", d, x, b[1])
		}
		if x > b[0] {
			prob *= float64(b[1]+1-x) / float64(b[1]+1-b[0])
		}
	}
	if math.Abs(prob-f.Probability) > 1e-9*math.Max(prob, 1e-300) {
		t.Fatalf("probability %v, channels' product %v", f.Probability, prob)
	}
	// ProbabilityPPM truncates each part's chance to millionths.
	if partProb > f.Probability+1e-12 || (f.Probability-partProb) > float64(len(f.Parts))*1e-6 {
		t.Fatalf("parts' ppm product %v, flow probability %v", partProb, f.Probability)
	}
}

func TestPlanFlowTable(t *testing.T) {
	const S, A, B, D = 1, 2, 3, 4
	free := func() *Policy { return &Policy{HTLCMin: 1, HTLCMax: 1 << 50} }
	fee := func(base, ppm uint32, delta uint16) *Policy {
		return &Policy{BaseMsat: base, FeePPM: ppm, CLTVDelta: delta, HTLCMin: 1, HTLCMax: 1 << 50}
	}
	big := MilliSat(1 << 40)
	for _, tc := range []struct {
		name  string
		chans []flowChan
		p     FlowParams
		liq   LiquidityMap
		avoid []SCIDDir
		wErr  error // nil: a plan
		check func(t *testing.T, f *Flow)
	}{
		{
			name:  "source = destination is refused",
			chans: []flowChan{{1, S, D, 1000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(S), Amount: 1000, MaxFee: big},
			wErr:  ErrInvalidParams,
		},
		{
			name:  "a zero amount is refused",
			chans: []flowChan{{1, S, D, 1000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), MaxFee: big},
			wErr:  ErrInvalidParams,
		},
		{
			name:  "an amount beyond all bitcoin is refused",
			chans: []flowChan{{1, S, D, 1000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: math.MaxUint64, MaxFee: big},
			wErr:  ErrInvalidParams,
		},
		{
			name:  "an unknown destination is refused",
			chans: []flowChan{{1, S, D, 1000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(99), Amount: 1000, MaxFee: big},
			wErr:  ErrInvalidParams,
		},
		{
			name:  "no capacity: more than the channels hold",
			chans: []flowChan{{1, S, D, 1000, free(), nil}, {2, S, D, 1000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 2_000_001, MaxFee: big},
			wErr:  ErrFlowCapacity,
		},
		{
			name:  "the prior offers 95% of a channel, no more",
			chans: []flowChan{{1, S, D, 1000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 960_000, MaxFee: big},
			wErr:  ErrFlowCapacity,
		},
		{
			name:  "exact capacity: an own channel known to hold the amount carries it for sure",
			chans: []flowChan{{1, S, D, 1000, fee(1000, 1000, 40), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 700_000, MaxFee: 0, FinalCLTV: 9},
			liq:   LiquidityMap{dirOf(1, S, D): {Lo: 700_000, Hi: 700_000}},
			check: func(t *testing.T, f *Flow) {
				if len(f.Parts) != 1 || f.Probability != 1 || f.Fee != 0 || f.Parts[0].ProbabilityPPM != 1_000_000 {
					t.Fatalf("want one sure, free part; got %d parts, p %v, fee %s", len(f.Parts), f.Probability, f.Fee)
				}
			},
		},
		{
			name:  "exact capacity leaves no room for the next hop's fee",
			chans: []flowChan{{1, S, A, 1000, free(), nil}, {2, A, D, 10_000, fee(1000, 0, 40), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 700_000, MaxFee: big},
			liq:   LiquidityMap{dirOf(1, S, A): {Lo: 700_000, Hi: 700_000}},
			wErr:  ErrFlowCapacity,
		},
		{
			name:  "parallel channels share the amount",
			chans: []flowChan{{1, S, D, 600, free(), nil}, {2, S, D, 600, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 1_000_000, MaxFee: big},
			check: func(t *testing.T, f *Flow) {
				if len(f.Parts) != 2 || f.Parts[0].Route[0].Channel == f.Parts[1].Route[0].Channel {
					t.Fatalf("want one part per channel, got %d parts", len(f.Parts))
				}
			},
		},
		{
			name:  "maxparts 1 cannot split over parallel channels",
			chans: []flowChan{{1, S, D, 600, free(), nil}, {2, S, D, 600, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 1_000_000, MaxFee: big, MaxParts: 1},
			wErr:  ErrFlowCapacity,
		},
		{
			name:  "maxparts 1 moves a small part onto the big path",
			chans: []flowChan{{1, S, D, 10_000, free(), nil}, {2, S, D, 10_000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 9_000_000, MaxFee: big, MaxParts: 1},
			check: func(t *testing.T, f *Flow) {
				if len(f.Parts) != 1 {
					t.Fatalf("want one part, got %d", len(f.Parts))
				}
			},
		},
		{
			name:  "a minimum part above the amount keeps it whole",
			chans: []flowChan{{1, S, D, 10_000, free(), nil}, {2, S, D, 10_000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 9_000_000, MaxFee: big, MinPart: 20_000_000},
			check: func(t *testing.T, f *Flow) {
				if len(f.Parts) != 1 {
					t.Fatalf("want one part, got %d", len(f.Parts))
				}
			},
		},
		{
			name:  "disabled directions carry nothing",
			chans: []flowChan{{1, D, S, 1000, free(), nil}, {2, S, D, 1000, &Policy{Disabled: true, HTLCMax: 1 << 40}, nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 1000, MaxFee: big},
			wErr:  ErrNoRoute,
		},
		{
			name:  "an avoided channel is not used",
			chans: []flowChan{{1, S, A, 1000, free(), nil}, {2, A, D, 1000, free(), nil}, {3, S, B, 1000, free(), nil}, {4, B, D, 1000, fee(1000, 100, 6), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 1000, MaxFee: big},
			avoid: []SCIDDir{dirOf(2, A, D)},
			check: func(t *testing.T, f *Flow) {
				if r := f.Parts[0].Route; len(f.Parts) != 1 || r[0].ID != id(B) {
					t.Fatalf("want one part through B, got %v", f.Parts)
				}
			},
		},
		{
			name:  "the fee budget picks the cheap path over the likely one",
			chans: []flowChan{{1, S, A, 100_000, free(), nil}, {2, A, D, 100_000, fee(0, 5000, 6), nil}, {3, S, B, 100_000, free(), nil}, {4, B, D, 1000, fee(0, 1, 6), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 500_000, MaxFee: 100},
			check: func(t *testing.T, f *Flow) {
				if f.Fee > 100 {
					t.Fatalf("fee %s over the budget", f.Fee)
				}
			},
		},
		{
			name:  "without a budget the likely path wins",
			chans: []flowChan{{1, S, A, 100_000, free(), nil}, {2, A, D, 100_000, fee(0, 5000, 6), nil}, {3, S, B, 100_000, free(), nil}, {4, B, D, 1000, fee(0, 1, 6), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 500_000, MaxFee: big},
			check: func(t *testing.T, f *Flow) {
				if len(f.Parts) != 1 || f.Parts[0].Route[0].ID != id(A) {
					t.Fatalf("want one part through A, got %v", f.Parts)
				}
			},
		},
		{
			name:  "a fee budget no path meets",
			chans: []flowChan{{1, S, A, 1000, free(), nil}, {2, A, D, 1000, fee(1000, 0, 6), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 1000, MaxFee: 999},
			wErr:  ErrFeeBudget,
		},
		{
			name:  "maxdelay steers away from a slow path",
			chans: []flowChan{{1, S, A, 100_000, free(), nil}, {2, A, D, 100_000, fee(0, 0, 500), nil}, {3, S, B, 100_000, free(), nil}, {4, B, D, 2000, fee(0, 0, 6), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 500_000, MaxFee: big, FinalCLTV: 18, MaxDelay: 100},
			check: func(t *testing.T, f *Flow) {
				if f.Parts[0].Route[0].ID != id(B) {
					t.Fatalf("want the part through B, got %v", f.Parts)
				}
			},
		},
		{
			name:  "a final cltv over maxdelay is refused",
			chans: []flowChan{{1, S, D, 1000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 1000, MaxFee: big, FinalCLTV: 200, MaxDelay: 100},
			wErr:  ErrInvalidParams,
		},
		{
			name: "htlc_minimum above a part cuts that channel",
			chans: []flowChan{{1, S, A, 100_000, free(), nil}, {2, A, D, 100_000, &Policy{HTLCMin: 600_000, HTLCMax: 1 << 40}, nil},
				{3, S, B, 100_000, free(), nil}, {4, B, D, 100_000, fee(0, 10, 6), nil}},
			p: FlowParams{Source: id(S), Destination: id(D), Amount: 500_000, MaxFee: big},
			check: func(t *testing.T, f *Flow) {
				if f.Parts[0].Route[0].ID != id(B) {
					t.Fatalf("want the part through B, got %v", f.Parts)
				}
			},
		},
		{
			name:  "reservations take liquidity away",
			chans: []flowChan{{1, S, D, 1000, free(), nil}},
			p:     FlowParams{Source: id(S), Destination: id(D), Amount: 600_000, MaxFee: big},
			liq:   LiquidityMap{dirOf(1, S, D): {Lo: 1_000_000, Hi: 1_000_000, Reserved: 500_000}},
			wErr:  ErrFlowCapacity,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := buildFlowGraph(t, tc.chans...)
			p := tc.p
			if tc.liq != nil {
				p.Liquidity = tc.liq
			}
			if tc.avoid != nil {
				p.Avoid = g.NewAvoidSet(tc.avoid, nil)
			}
			f, err := g.PlanFlow(p)
			if tc.wErr != nil {
				if !errors.Is(err, tc.wErr) {
					t.Fatalf("got %v, %v; want %v", f, err, tc.wErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, g, p, f)
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

// On seeded random networks, every plan PlanFlow returns passes checkPlan,
// and every failure is of a documented class.
func TestPlanFlowRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(*bruteSeed, 11))
	planned := 0
	for i := 0; i < *flowN; i++ {
		tc := newFlowCase(r)
		p := tc.params
		p.MaxParts = r.IntN(5)
		if r.IntN(3) == 0 {
			p.MinPart = MilliSat(r.Uint64N(uint64(p.Amount)))
		}
		p.MaxFee = []MilliSat{0, 1000, MilliSat(r.Uint64N(uint64(p.Amount)/100 + 1)), 1 << 50}[r.IntN(4)]
		p.FinalCLTV = uint32(r.IntN(50))
		if r.IntN(3) == 0 {
			p.MaxDelay = p.FinalCLTV + uint32(r.IntN(300))
		}
		f, err := tc.g.PlanFlow(p)
		if err != nil {
			if testing.Verbose() && i < 300 {
				t.Log(err)
			}
			if !errors.Is(err, ErrNoRoute) {
				t.Fatalf("case %d (seed %d): %v", i, *bruteSeed, err)
			}
			continue
		}
		planned++
		t.Run("", func(t *testing.T) { checkPlan(t, tc.g, p, f) })
		if t.Failed() {
			t.Fatalf("case %d (seed %d)\nrerun: go test ./graph -run PlanFlowRandom -graph.seed %d", i, *bruteSeed, *bruteSeed)
		}
	}
	t.Logf("%d cases, %d planned", *flowN, planned)
	if planned < *flowN/5 {
		t.Fatalf("only %d of %d cases planned: the generator tests too little", planned, *flowN)
	}
}

// On the mainnet snapshot, plans of 1,000,000 sat between well-connected
// pairs pass checkPlan and come out the same when asked again, and so do plans after the last hop of the largest
// part failed: checkPlan holds that channel below the amount that failed.
func TestPlanFlowMainnet(t *testing.T) {
	g := mainnet(t)
	nodes := wellConnected(g, 10)
	r := rand.New(rand.NewPCG(3, 4))
	planned := 0
	for i := 0; i < 20; i++ {
		p := FlowParams{Source: nodes[r.IntN(len(nodes))], Destination: nodes[r.IntN(len(nodes))],
			Amount: 1_000_000_000, MaxFee: 5_000_000, FinalCLTV: 18, MaxParts: 8, MinPart: 10_000_000}
		if p.Source == p.Destination {
			continue
		}
		f, err := g.PlanFlow(p)
		if err != nil {
			if !errors.Is(err, ErrNoRoute) {
				t.Fatalf("pair %d: %v", i, err)
			}
			continue
		}
		planned++
		checkPlan(t, g, p, f)
		if again, err := g.PlanFlow(p); err != nil || !reflect.DeepEqual(again, f) {
			t.Fatalf("pair %d: planned again, got another answer (%v)", i, err)
		}
		// The last hop of the largest part failed: its channel has less
		// than that part.
		route := f.Parts[0].Route
		last := route[len(route)-1]
		liq := LiquidityMap{SCIDDir{last.Channel, last.Direction}: {Hi: last.Amount - 1}}
		p.Liquidity = liq
		f2, err := g.PlanFlow(p)
		if err != nil {
			if !errors.Is(err, ErrNoRoute) {
				t.Fatalf("pair %d after a failure: %v", i, err)
			}
			continue
		}
		checkPlan(t, g, p, f2)
	}
	if planned < 15 {
		t.Fatalf("only %d of 20 pairs planned", planned)
	}
}
