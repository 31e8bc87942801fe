package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/payengine/payengine/graph"
)

// Core Lightning's askrene keeps what it learns in layers; its xpay keeps
// what payments taught in the layer "xpay". The engine's one liquidity
// knowledge (graph.Knowledge, shared by every payment) is that layer here,
// so getroutes and the askrene-* commands show, correct and reset it.
const (
	layerLearned    = "xpay"
	layerLocalChans = "auto.localchans"
	layerSourceFree = "auto.sourcefree"
)

// CodeRouteNotFound is askrene's PAY_ROUTE_NOT_FOUND.
const codeRouteNotFound = 205

// reservations are the askrene-reserve calls still held, for
// askrene-listreservations (the knowledge keeps only sums).
type reservations struct {
	mu   sync.Mutex
	next uint64
	held []heldReservation
}

type heldReservation struct {
	dir     graph.SCIDDir
	amount  graph.MilliSat
	at      time.Time
	command string
}

func (h *handlers) askreneCommands() []Command {
	pLayer := Param{Name: "layer", Required: true, Parse: parseString}
	pPath := Param{Name: "path", Required: true, Parse: parseReservePath}
	return []Command{
		{Name: "getroutes", Category: "network", Handler: h.getroutes,
			Params: []Param{
				{Name: "source", Required: true, Parse: parsePubkey},
				{Name: "destination", Required: true, Parse: parsePubkey},
				{Name: "amount_msat", Required: true, Parse: parseMsat},
				{Name: "layers", Required: true, Parse: parseLayers},
				{Name: "maxfee_msat", Required: true, Parse: parseMsat},
				{Name: "final_cltv", Required: true, Parse: parseU32},
				{Name: "maxdelay", Parse: parseU32},
				{Name: "maxparts", Parse: parseU32},
			},
			Description: "Plan a payment of amount_msat from source to destination as up to maxparts (100) routes, most likely to succeed within maxfee_msat, each delayed at most maxdelay (2016) blocks: the engine's min-cost flow. layers: xpay (what payments taught), auto.localchans (our channels' exact balances), auto.sourcefree (the source's channels cost nothing); reservations always apply."},
		{Name: "askrene-listlayers", Category: "network", Handler: h.askreneListLayers,
			Params:      []Param{{Name: "layer", Parse: parseString}},
			Description: "List the layers (xpay: the liquidity bounds payments taught, relaxed to now), or the one named."},
		{Name: "askrene-inform-channel", Category: "network", Handler: h.askreneInform,
			Params: []Param{pLayer, {Name: "short_channel_id_dir", Required: true, Parse: parseSCIDDir},
				{Name: "amount_msat", Required: true, Parse: parseMsat}, {Name: "inform", Required: true, Parse: parseInform}},
			Description: "Tell the xpay layer that a channel direction could not carry amount_msat (constrained), could (unconstrained), or carried it in a payment (succeeded)."},
		{Name: "askrene-age", Category: "network", Handler: h.askreneAge,
			Params:      []Param{pLayer, {Name: "cutoff", Required: true, Parse: parseU64}},
			Description: "Forget what the xpay layer learned before cutoff (unix seconds)."},
		{Name: "askrene-remove-layer", Category: "network", Handler: h.askreneRemoveLayer,
			Params:      []Param{pLayer},
			Description: "Forget everything the xpay layer learned (reservations stay)."},
		{Name: "askrene-reserve", Category: "network", Handler: h.askreneReserve,
			Params:      []Param{pPath},
			Description: "Hold amount_msat on each channel direction of path, so plans leave it out until askrene-unreserve."},
		{Name: "askrene-unreserve", Category: "network", Handler: h.askreneUnreserve,
			Params:      []Param{pPath, {Name: "dev_remove_all", Parse: parseBool}},
			Description: "Release what askrene-reserve held on path (dev_remove_all: every askrene-reserve hold; HTLCs in flight keep theirs)."},
		{Name: "askrene-listreservations", Category: "network", Handler: h.askreneListReservations,
			Description: "List what is reserved: askrene-reserve's holds, and the HTLCs our payments have in flight."},
	}
}

// parseLayers is getroutes' layers: an array of strings.
func parseLayers(name string, raw json.RawMessage) (any, error) {
	if firstByte(raw) != '[' {
		return nil, bad(name, "an array", raw)
	}
	elems, err := arrayElements(raw)
	if err != nil {
		return nil, bad(name, "an array", raw)
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := text(e)
		if !ok {
			return nil, bad(name, "an array of strings", raw)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSCIDDir(name string, raw json.RawMessage) (any, error) {
	s, ok := text(raw)
	if !ok {
		return nil, bad(name, "a short_channel_id_dir", raw)
	}
	d, err := graph.ParseSCIDDir(s)
	if err != nil {
		return nil, bad(name, "a short_channel_id_dir", raw)
	}
	return d, nil
}

func parseInform(name string, raw json.RawMessage) (any, error) {
	s, ok := text(raw)
	if !ok || (s != "constrained" && s != "unconstrained" && s != "succeeded") {
		return nil, bad(name, "constrained, unconstrained or succeeded", raw)
	}
	return s, nil
}

// reserveHop is one entry of askrene-reserve's path.
type reserveHop struct {
	dir    graph.SCIDDir
	amount graph.MilliSat
}

// parseReservePath is askrene-reserve's path: objects with
// short_channel_id_dir and amount_msat (and an optional layer, which
// names where a channel was created and is not needed here).
func parseReservePath(name string, raw json.RawMessage) (any, error) {
	if firstByte(raw) != '[' {
		return nil, bad(name, "an array", raw)
	}
	elems, err := arrayElements(raw)
	if err != nil {
		return nil, bad(name, "an array", raw)
	}
	out := make([]reserveHop, len(elems))
	for i, e := range elems {
		at := fmt.Sprintf("%s[%d]", name, i)
		members, dup, err := objectMembers(e)
		if firstByte(e) != '{' || err != nil {
			return nil, bad(at, "an object", e)
		}
		if dup != "" {
			return nil, invalidParams("%s: duplicate json names: %s", at, dup)
		}
		var hasDir, hasAmount bool
		for _, m := range members {
			switch m.key {
			case "short_channel_id_dir":
				v, err := parseSCIDDir(m.key, m.val)
				if err != nil {
					return nil, invalidParams("%s: %s", at, err.(*Error).Message)
				}
				out[i].dir, hasDir = v.(graph.SCIDDir), true
			case "amount_msat":
				v, err := parseMsat(m.key, m.val)
				if err != nil {
					return nil, invalidParams("%s: %s", at, err.(*Error).Message)
				}
				out[i].amount, hasAmount = v.(graph.MilliSat), true
			case "layer":
			default:
				return nil, invalidParams("%s: unknown parameter %s", at, m.key)
			}
		}
		if !hasDir || !hasAmount {
			return nil, invalidParams("%s: must have short_channel_id_dir and amount_msat", at)
		}
	}
	return out, nil
}

// knownLayer refuses a layer other than xpay where a stored layer is
// needed, as askrene refuses an unknown layer.
func knownLayer(name string) error {
	if name != layerLearned {
		return invalidParams("layer: Unknown layer %s (the engine keeps one layer, %s)", name, layerLearned)
	}
	return nil
}

// layered is the knowledge as getroutes' layers select it: learned bounds
// with xpay, our channels' exact balances with auto.localchans, and every
// reservation always.
type layered struct {
	v              *graph.LiquidityView
	learned, local bool
}

func (l layered) EachBound(fn func(d graph.SCIDDir, lo, hi, reserved graph.MilliSat)) {
	l.v.Channels(func(c graph.ChannelKnowledge) {
		switch {
		case c.Exact && l.local, !c.Exact && l.learned:
			fn(c.Dir, c.Lo, c.Hi, c.Reserved)
		case c.Reserved > 0:
			fn(c.Dir, 0, math.MaxUint64, c.Reserved)
		}
	})
}

// getroutes is Core Lightning's getroutes (v24.08+) over the engine's
// planner.
func (h *handlers) getroutes(ctx context.Context, a *Args) (any, error) {
	var p graph.FlowParams
	p.Source, _ = Arg[graph.NodeID](a, "source")
	p.Destination, _ = Arg[graph.NodeID](a, "destination")
	p.Amount, _ = Arg[graph.MilliSat](a, "amount_msat")
	p.MaxFee, _ = Arg[graph.MilliSat](a, "maxfee_msat")
	cltv, _ := Arg[uint64](a, "final_cltv")
	p.FinalCLTV = uint32(cltv)
	p.MaxDelay, p.MaxParts = graph.DefaultMaxDelay, graph.DefaultMaxParts
	if v, ok := Arg[uint64](a, "maxdelay"); ok {
		p.MaxDelay = uint32(v)
	}
	if v, ok := Arg[uint64](a, "maxparts"); ok {
		if v == 0 {
			return nil, invalidParams("maxparts: must be at least 1")
		}
		p.MaxParts = int(v)
	}
	if p.Amount == 0 {
		return nil, invalidParams("amount_msat: must be non-zero")
	}
	l := layered{v: h.e.Knowledge().At(h.e.Now())}
	layers, _ := Arg[[]string](a, "layers")
	for _, name := range layers {
		switch name {
		case layerLearned:
			l.learned = true
		case layerLocalChans:
			l.local = true
		case layerSourceFree:
			p.SourceFree = true
		default:
			return nil, invalidParams("layers: Unknown layer %s", name)
		}
	}
	p.Liquidity = l
	g := h.e.Graph()
	switch {
	case !g.HasNode(p.Source):
		return nil, &Error{Code: codeRouteNotFound, Message: "Unknown source node " + p.Source.String()}
	case !g.HasNode(p.Destination):
		return nil, &Error{Code: codeRouteNotFound, Message: "Unknown destination node " + p.Destination.String()}
	}
	f, err := h.e.PlanFlow(ctx, p, false)
	if err != nil {
		return nil, flowError(err)
	}
	return getroutesJSON(g, p, f), nil
}

// flowError is askrene's answer to a plan that failed: 205 with its
// message and what the planner said, or -32602 for bad parameters.
func flowError(err error) error {
	var ge *graph.Error
	switch {
	case errors.Is(err, graph.ErrNoRoute):
		msg := "Could not find route"
		switch {
		case errors.Is(err, graph.ErrFeeBudget):
			msg = "Could not find route without excessive cost"
		case strings.Contains(err.Error(), "delayed beyond"):
			msg = "Could not find route without excessive delays"
		}
		s := err.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 {
			msg += ": " + s[i+2:]
		}
		return &Error{Code: codeRouteNotFound, Message: msg}
	case errors.As(err, &ge):
		return &Error{Code: ge.Code, Message: ge.Message}
	}
	return err
}

type getroutesHop struct {
	SCIDDir    string         `json:"short_channel_id_dir"`
	NodeIn     graph.NodeID   `json:"node_id_in"`
	NodeOut    graph.NodeID   `json:"node_id_out"`
	AmountIn   graph.MilliSat `json:"amount_in_msat"`
	AmountOut  graph.MilliSat `json:"amount_out_msat"`
	CLTVIn     uint32         `json:"cltv_in"`
	CLTVOut    uint32         `json:"cltv_out"`
	NextNodeID graph.NodeID   `json:"next_node_id"` // deprecated in v26.06, still sent
	Amount     graph.MilliSat `json:"amount_msat"`  // the same
	Delay      uint32         `json:"delay"`        // the same
}

type getroutesRoute struct {
	ProbabilityPPM uint64         `json:"probability_ppm"`
	Amount         graph.MilliSat `json:"amount_msat"`
	FinalCLTV      uint32         `json:"final_cltv"`
	Path           []getroutesHop `json:"path"`
}

type getroutesResult struct {
	ProbabilityPPM uint64           `json:"probability_ppm"`
	Routes         []getroutesRoute `json:"routes"`
}

// getroutesJSON shapes a flow as getroutes does: each hop with what enters
// it at node_id_in and leaves it at node_id_out. The first hop's fee and
// CLTV delta are the source's own channel's, which our routes leave out
// (we do not pay ourselves); askrene counts them unless auto.sourcefree.
func getroutesJSON(g *graph.Graph, p graph.FlowParams, f *graph.Flow) getroutesResult {
	out := getroutesResult{ProbabilityPPM: uint64(f.Probability * 1e6), Routes: make([]getroutesRoute, 0, len(f.Parts))}
	for _, part := range f.Parts {
		r := part.Route
		gr := getroutesRoute{ProbabilityPPM: uint64(part.ProbabilityPPM), Amount: r[len(r)-1].Amount, FinalCLTV: p.FinalCLTV}
		for i, hop := range r {
			x := getroutesHop{SCIDDir: graph.SCIDDir{SCID: hop.Channel, Dir: hop.Direction}.String(),
				NodeOut: hop.ID, AmountOut: hop.Amount, CLTVOut: hop.Delay}
			if i == 0 {
				x.NodeIn, x.AmountIn, x.CLTVIn = p.Source, hop.Amount, hop.Delay
				if c, ok := g.Channel(hop.Channel); ok && !p.SourceFree && c.Policy[hop.Direction] != nil {
					pol := c.Policy[hop.Direction]
					x.AmountIn += graph.MilliSat(pol.BaseMsat) + hop.Amount*graph.MilliSat(pol.FeePPM)/1_000_000
					x.CLTVIn += uint32(pol.CLTVDelta)
				}
			} else {
				x.NodeIn, x.AmountIn, x.CLTVIn = r[i-1].ID, r[i-1].Amount, r[i-1].Delay
			}
			x.NextNodeID, x.Amount, x.Delay = x.NodeOut, x.AmountIn, x.CLTVIn
			gr.Path = append(gr.Path, x)
		}
		out.Routes = append(out.Routes, gr)
	}
	return out
}

func sortConstraints(c []constraintJSON) {
	slices.SortFunc(c, func(a, b constraintJSON) int { return strings.Compare(a.SCIDDir, b.SCIDDir) })
}

func sortReservations(r []reservationJSON) {
	slices.SortFunc(r, func(a, b reservationJSON) int { return strings.Compare(a.SCIDDir, b.SCIDDir) })
}
