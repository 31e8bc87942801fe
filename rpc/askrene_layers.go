package rpc

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/payengine/payengine/graph"
)

type constraintJSON struct {
	SCIDDir   string          `json:"short_channel_id_dir"`
	Layer     string          `json:"layer,omitempty"`
	Timestamp uint64          `json:"timestamp"`
	Minimum   *graph.MilliSat `json:"minimum_msat,omitempty"`
	Maximum   *graph.MilliSat `json:"maximum_msat,omitempty"`
}

type impressionJSON struct {
	SCIDDir   string         `json:"short_channel_id_dir"`
	Layer     string         `json:"layer,omitempty"`
	Timestamp uint64         `json:"timestamp"`
	Amount    graph.MilliSat `json:"amount_msat"`
}

type layerJSON struct {
	Layer           string           `json:"layer"`
	Persistent      bool             `json:"persistent"`
	DisabledNodes   []graph.NodeID   `json:"disabled_nodes"`
	CreatedChannels []struct{}       `json:"created_channels"`
	ChannelUpdates  []struct{}       `json:"channel_updates"`
	Impressions     []impressionJSON `json:"impressions"`
	Constraints     []constraintJSON `json:"constraints"`
}

// constraintOf is what the knowledge holds of one learned direction, as an
// askrene constraint: the lower bound when above zero, the upper when
// below the channel's prior (both relaxed to now).
func constraintOf(g *graph.Graph, c graph.ChannelKnowledge, layer string) (constraintJSON, bool) {
	if c.Exact || c.Hi == math.MaxUint64 {
		return constraintJSON{}, false
	}
	out := constraintJSON{SCIDDir: c.Dir.String(), Layer: layer, Timestamp: uint64(c.Learned.Unix())}
	if c.Lo > 0 {
		lo := c.Lo
		out.Minimum = &lo
	}
	if ceil, ok := prior(g, c.Dir); !ok || c.Hi < ceil {
		hi := c.Hi
		out.Maximum = &hi
	}
	return out, out.Minimum != nil || out.Maximum != nil
}

// prior is a direction's upper bound before anything is learned:
// min(capacity, htlc_maximum).
func prior(g *graph.Graph, d graph.SCIDDir) (graph.MilliSat, bool) {
	c, ok := g.Channel(d.SCID)
	if !ok {
		return 0, false
	}
	ceil := graph.MilliSat(c.Capacity) * 1000
	if p := c.Policy[d.Dir]; p != nil && p.HTLCMax > 0 && p.HTLCMax < ceil {
		ceil = p.HTLCMax
	}
	return ceil, true
}

func (h *handlers) askreneListLayers(_ context.Context, a *Args) (any, error) {
	layers := []layerJSON{}
	if name, ok := Arg[string](a, "layer"); ok && name != layerLearned {
		return map[string]any{"layers": layers}, nil
	}
	l := layerJSON{Layer: layerLearned, Persistent: true, DisabledNodes: []graph.NodeID{}, CreatedChannels: []struct{}{},
		ChannelUpdates: []struct{}{}, Impressions: []impressionJSON{}, Constraints: []constraintJSON{}}
	g := h.e.Graph()
	h.e.Knowledge().At(h.e.Now()).Channels(func(c graph.ChannelKnowledge) {
		if cj, ok := constraintOf(g, c, ""); ok {
			l.Constraints = append(l.Constraints, cj)
		}
	})
	sortConstraints(l.Constraints)
	return map[string]any{"layers": append(layers, l)}, nil
}

func (h *handlers) askreneInform(_ context.Context, a *Args) (any, error) {
	layer, _ := Arg[string](a, "layer")
	if err := knownLayer(layer); err != nil {
		return nil, err
	}
	d, _ := Arg[graph.SCIDDir](a, "short_channel_id_dir")
	amount, _ := Arg[graph.MilliSat](a, "amount_msat")
	inform, _ := Arg[string](a, "inform")
	g, k, now := h.e.Graph(), h.e.Knowledge(), h.e.Now()
	if _, ok := g.Channel(d.SCID); !ok {
		return nil, invalidParams("short_channel_id_dir: Unknown channel %s", d)
	}
	hop := graph.Route{{Channel: d.SCID, Direction: d.Dir, Amount: amount}}
	res := map[string]any{"constraints": []constraintJSON{}, "impressions": []impressionJSON{}}
	var err error
	switch inform {
	case "constrained":
		err = k.Failed(g, hop, 0, now)
	case "unconstrained":
		err = k.Failed(g, hop, 1, now)
	case "succeeded":
		err = k.Succeeded(g, hop, now)
		res["impressions"] = []impressionJSON{{SCIDDir: d.String(), Layer: layerLearned, Timestamp: uint64(now.Unix()), Amount: amount}}
	}
	if err != nil {
		return nil, fmt.Errorf("rpc: askrene-inform-channel: %w", err)
	}
	if c, ok := k.At(now).Channel(d); ok {
		if cj, ok := constraintOf(g, c, layerLearned); ok {
			res["constraints"] = []constraintJSON{cj}
		}
	}
	return res, nil
}

func (h *handlers) askreneAge(_ context.Context, a *Args) (any, error) {
	layer, _ := Arg[string](a, "layer")
	if err := knownLayer(layer); err != nil {
		return nil, err
	}
	cutoff, _ := Arg[uint64](a, "cutoff")
	k := h.e.Knowledge()
	var old []graph.SCIDDir
	k.At(h.e.Now()).Channels(func(c graph.ChannelKnowledge) {
		if !c.Exact && c.Hi != math.MaxUint64 && uint64(c.Learned.Unix()) < cutoff {
			old = append(old, c.Dir)
		}
	})
	for _, d := range old {
		k.Forget(d)
	}
	return map[string]any{"layer": layer, "num_removed": len(old)}, nil
}

func (h *handlers) askreneRemoveLayer(_ context.Context, a *Args) (any, error) {
	layer, _ := Arg[string](a, "layer")
	if err := knownLayer(layer); err != nil {
		return nil, err
	}
	// Our own channels are not learned but set from their balances:
	// they stay.
	k := h.e.Knowledge()
	var learned []graph.SCIDDir
	k.At(h.e.Now()).Channels(func(c graph.ChannelKnowledge) {
		if !c.Exact {
			learned = append(learned, c.Dir)
		}
	})
	for _, d := range learned {
		k.Forget(d)
	}
	return struct{}{}, nil
}

func routeOf(path []reserveHop) graph.Route {
	r := make(graph.Route, len(path))
	for i, p := range path {
		r[i] = graph.Hop{Channel: p.dir.SCID, Direction: p.dir.Dir, Amount: p.amount}
	}
	return r
}

func (h *handlers) askreneReserve(_ context.Context, a *Args) (any, error) {
	path, _ := Arg[[]reserveHop](a, "path")
	h.e.Knowledge().Reserve(routeOf(path))
	h.reserved.mu.Lock()
	defer h.reserved.mu.Unlock()
	h.reserved.next++
	cmd := fmt.Sprintf("askrene-reserve#%d", h.reserved.next)
	for _, p := range path {
		h.reserved.held = append(h.reserved.held, heldReservation{dir: p.dir, amount: p.amount, at: h.e.Now(), command: cmd})
	}
	return struct{}{}, nil
}

func (h *handlers) askreneUnreserve(_ context.Context, a *Args) (any, error) {
	path, _ := Arg[[]reserveHop](a, "path")
	h.reserved.mu.Lock()
	defer h.reserved.mu.Unlock()
	if all, _ := Arg[bool](a, "dev_remove_all"); all {
		path = nil
		for _, r := range h.reserved.held {
			path = append(path, reserveHop{dir: r.dir, amount: r.amount})
		}
	}
	// Only what askrene-reserve held can be released here: the HTLCs in
	// flight release their own when they end.
	held := append([]heldReservation(nil), h.reserved.held...)
	for i, p := range path {
		j := -1
		for k, r := range held {
			if r.dir == p.dir && r.amount == p.amount {
				j = k
				break
			}
		}
		if j < 0 {
			return nil, invalidParams("Underflow unreserving %d: %s amount %s (no askrene-reserve of that amount)", i, p.dir, p.amount)
		}
		held = append(held[:j], held[j+1:]...)
	}
	if err := h.e.Knowledge().Unreserve(routeOf(path)); err != nil {
		return nil, invalidParams("Underflow unreserving: %v", err)
	}
	h.reserved.held = held
	return struct{}{}, nil
}

type reservationJSON struct {
	SCIDDir string         `json:"short_channel_id_dir"`
	Amount  graph.MilliSat `json:"amount_msat"`
	Age     uint64         `json:"age_in_seconds"`
	Command string         `json:"command_id"`
}

func (h *handlers) askreneListReservations(_ context.Context, _ *Args) (any, error) {
	now := h.e.Now()
	out := []reservationJSON{}
	mine := map[graph.SCIDDir]graph.MilliSat{}
	h.reserved.mu.Lock()
	for _, r := range h.reserved.held {
		out = append(out, reservationJSON{SCIDDir: r.dir.String(), Amount: r.amount, Age: uint64(max(now.Sub(r.at), 0) / time.Second), Command: r.command})
		mine[r.dir] += r.amount
	}
	h.reserved.mu.Unlock()
	var htlcs []reservationJSON
	h.e.Knowledge().At(now).Channels(func(c graph.ChannelKnowledge) {
		if c.Reserved > mine[c.Dir] {
			htlcs = append(htlcs, reservationJSON{SCIDDir: c.Dir.String(), Amount: c.Reserved - mine[c.Dir], Command: "payments in flight"})
		}
	})
	sortReservations(htlcs)
	return map[string]any{"reservations": append(out, htlcs...)}, nil
}
