package rpc

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/payengine/payengine/graph"
)

type getroutesOut struct {
	ProbabilityPPM uint64 `json:"probability_ppm"`
	Routes         []struct {
		ProbabilityPPM uint64         `json:"probability_ppm"`
		Amount         graph.MilliSat `json:"amount_msat"`
		FinalCLTV      uint32         `json:"final_cltv"`
		Path           []struct {
			SCIDDir   string         `json:"short_channel_id_dir"`
			NodeIn    string         `json:"node_id_in"`
			NodeOut   string         `json:"node_id_out"`
			AmountIn  graph.MilliSat `json:"amount_in_msat"`
			AmountOut graph.MilliSat `json:"amount_out_msat"`
			CLTVIn    uint32         `json:"cltv_in"`
			CLTVOut   uint32         `json:"cltv_out"`
		} `json:"path"`
	} `json:"routes"`
}

// checkRoutes checks a getroutes answer against its request: the parts
// deliver the amount exactly, each path is connected from source to
// destination, amounts and CLTVs only grow backwards, the last hop arrives
// with final_cltv, and the fees (beyond the source's own channel) fit
// maxfee.
func checkRoutes(t *testing.T, out getroutesOut, src, dst string, amount, maxfee graph.MilliSat, cltv uint32) {
	t.Helper()
	var sum, sent graph.MilliSat
	for i, r := range out.Routes {
		sum += r.Amount
		if len(r.Path) == 0 || r.Path[0].NodeIn != src || r.Path[len(r.Path)-1].NodeOut != dst {
			t.Fatalf("route %d does not go from %s to %s: %+v", i, src, dst, r.Path)
		}
		for j, h := range r.Path {
			if h.AmountIn < h.AmountOut || h.CLTVIn < h.CLTVOut {
				t.Fatalf("route %d hop %d: in %s/%d, out %s/%d", i, j, h.AmountIn, h.CLTVIn, h.AmountOut, h.CLTVOut)
			}
			if j > 0 && (r.Path[j-1].NodeOut != h.NodeIn || r.Path[j-1].AmountOut != h.AmountIn || r.Path[j-1].CLTVOut != h.CLTVIn) {
				t.Fatalf("route %d breaks at hop %d: %+v then %+v", i, j, r.Path[j-1], h)
			}
		}
		last := r.Path[len(r.Path)-1]
		if last.AmountOut != r.Amount || last.CLTVOut != cltv || r.FinalCLTV != cltv {
			t.Fatalf("route %d ends with %s at %d, want %s at %d", i, last.AmountOut, last.CLTVOut, r.Amount, cltv)
		}
		sent += r.Path[0].AmountOut
	}
	if sum != amount {
		t.Fatalf("parts deliver %s, want %s", sum, amount)
	}
	// Fees paid to others: what reaches our peers beyond what arrives.
	if sent-amount > maxfee {
		t.Fatalf("fees %s beyond maxfee %s", sent-amount, maxfee)
	}
}

// getroutes through the socket, answered in CLN's shape (validated against
// getroutes.json by the rig): one route for a small payment, several for
// one larger than any channel of ours can carry, and reservations and
// what the xpay layer learned are planned around.
func TestGetRoutes(t *testing.T) {
	r := sub300Rig(t)
	self := r.n.Self().String()
	dest := farNode(t, r)
	all := []string{"auto.localchans", "auto.sourcefree", "xpay"}
	var out getroutesOut
	r.ok(t, "getroutes", map[string]any{"source": self, "destination": dest, "amount_msat": 10_000, "layers": all,
		"maxfee_msat": 5000, "final_cltv": 18}, &out)
	checkRoutes(t, out, self, dest, 10_000, 5000, 18)
	if len(out.Routes) != 1 || out.ProbabilityPPM == 0 || out.ProbabilityPPM > 1_000_000 {
		t.Fatalf("a small payment: %+v", out)
	}

	// More than our largest channel can send: only parts can carry it.
	var most graph.MilliSat
	for _, c := range r.e.Channels() {
		most = max(most, c.Spendable)
	}
	big := most + most/2
	var bigOut getroutesOut
	res, e := r.call(t, "getroutes", map[string]any{"source": self, "destination": dest, "amount_msat": big, "layers": all,
		"maxfee_msat": big / 100, "final_cltv": 18})
	if e != nil {
		t.Fatalf("getroutes of %s (1.5 times our largest channel): %d %s", big, e.Code, e.Message)
	}
	if err := json.Unmarshal(res, &bigOut); err != nil {
		t.Fatal(err)
	}
	checkRoutes(t, bigOut, self, dest, big, big/100, 18)
	if len(bigOut.Routes) < 2 {
		t.Fatalf("%s in %d route(s), more than any channel of ours holds", big, len(bigOut.Routes))
	}
	// maxparts 1 cannot carry it.
	r.fails(t, "getroutes", map[string]any{"source": self, "destination": dest, "amount_msat": big, "layers": all,
		"maxfee_msat": big / 100, "final_cltv": 18, "maxparts": 1}, 205)

	// A reservation of the whole of the small route's first channel moves
	// the next plan off it.
	first := out.Routes[0].Path[0]
	ours, _ := graph.ParseSCIDDir(first.SCIDDir)
	var spend graph.MilliSat
	for _, c := range r.e.Channels() {
		if c.SCID == ours.SCID {
			spend = c.Spendable
		}
	}
	hold := []map[string]any{{"short_channel_id_dir": first.SCIDDir, "amount_msat": spend}}
	r.ok(t, "askrene-reserve", map[string]any{"path": hold}, nil)
	var list struct {
		Reservations []struct {
			SCIDDir string         `json:"short_channel_id_dir"`
			Amount  graph.MilliSat `json:"amount_msat"`
			Command string         `json:"command_id"`
		} `json:"reservations"`
	}
	r.ok(t, "askrene-listreservations", map[string]any{}, &list)
	if len(list.Reservations) != 1 || list.Reservations[0].SCIDDir != first.SCIDDir || list.Reservations[0].Amount != spend {
		t.Fatalf("listreservations: %+v", list)
	}
	r.ok(t, "getroutes", map[string]any{"source": self, "destination": dest, "amount_msat": 10_000, "layers": all,
		"maxfee_msat": 5000, "final_cltv": 18}, &out)
	for _, rt := range out.Routes {
		if rt.Path[0].SCIDDir == first.SCIDDir {
			t.Fatalf("planned over %s, wholly reserved", first.SCIDDir)
		}
	}
	r.ok(t, "askrene-unreserve", map[string]any{"path": hold}, nil)
	if e := r.fails(t, "askrene-unreserve", map[string]any{"path": hold}, CodeInvalidParams); !strings.Contains(e.Message, "Underflow") {
		t.Fatalf("unreserving twice: %s", e.Message)
	}
	r.ok(t, "askrene-listreservations", nil, &list)
	if len(list.Reservations) != 0 {
		t.Fatalf("after unreserve: %+v", list)
	}
}

// What a user tells the xpay layer shows in askrene-listlayers, steers
// getroutes only when the layer is asked for, and is forgotten by
// askrene-age and askrene-remove-layer.
func TestAskreneLayers(t *testing.T) {
	r := sub300Rig(t)
	self := r.n.Self().String()
	dest := farNode(t, r)
	var out getroutesOut
	req := map[string]any{"source": self, "destination": dest, "amount_msat": 10_000, "layers": []string{"xpay"}, "maxfee_msat": 5000, "final_cltv": 18}
	r.ok(t, "getroutes", req, &out)
	var remote string
	for _, rt := range out.Routes {
		if len(rt.Path) > 1 {
			remote = rt.Path[1].SCIDDir
		}
	}
	if remote == "" {
		t.Fatalf("no remote channel in %+v", out)
	}
	var informed struct {
		Constraints []struct {
			SCIDDir string          `json:"short_channel_id_dir"`
			Layer   string          `json:"layer"`
			Maximum *graph.MilliSat `json:"maximum_msat"`
		} `json:"constraints"`
	}
	r.ok(t, "askrene-inform-channel", map[string]any{"layer": "xpay", "short_channel_id_dir": remote, "amount_msat": 10_000, "inform": "constrained"}, &informed)
	if len(informed.Constraints) != 1 || informed.Constraints[0].Maximum == nil || *informed.Constraints[0].Maximum != 9_999 {
		t.Fatalf("inform constrained: %+v", informed)
	}
	var layers struct {
		Layers []struct {
			Layer       string `json:"layer"`
			Constraints []struct {
				SCIDDir string `json:"short_channel_id_dir"`
			} `json:"constraints"`
		} `json:"layers"`
	}
	r.ok(t, "askrene-listlayers", nil, &layers)
	if len(layers.Layers) != 1 || layers.Layers[0].Layer != "xpay" || len(layers.Layers[0].Constraints) != 1 || layers.Layers[0].Constraints[0].SCIDDir != remote {
		t.Fatalf("listlayers: %+v", layers)
	}
	uses := func(o getroutesOut) bool {
		for _, rt := range o.Routes {
			for _, h := range rt.Path {
				if h.SCIDDir == remote {
					return true
				}
			}
		}
		return false
	}
	r.ok(t, "getroutes", req, &out)
	if uses(out) {
		t.Fatalf("getroutes with xpay still plans 10000msat over %s, which cannot carry it", remote)
	}
	req["layers"] = []string{}
	r.ok(t, "getroutes", req, &out)
	if !uses(out) {
		t.Fatalf("getroutes without layers leaves %s out", remote)
	}
	var aged struct {
		Layer   string `json:"layer"`
		Removed int    `json:"num_removed"`
	}
	r.ok(t, "askrene-age", map[string]any{"layer": "xpay", "cutoff": 1}, &aged)
	if aged.Removed != 0 {
		t.Fatalf("age before 1970 removed %d", aged.Removed)
	}
	r.ok(t, "askrene-age", map[string]any{"layer": "xpay", "cutoff": r.n.Now().Unix() + 1}, &aged)
	if aged.Layer != "xpay" || aged.Removed != 1 {
		t.Fatalf("age: %+v", aged)
	}
	r.ok(t, "askrene-inform-channel", map[string]any{"layer": "xpay", "short_channel_id_dir": remote, "amount_msat": 1, "inform": "unconstrained"}, nil)
	r.ok(t, "askrene-remove-layer", map[string]any{"layer": "xpay"}, nil)
	r.ok(t, "askrene-listlayers", map[string]any{"layer": "xpay"}, &layers)
	if len(layers.Layers) != 1 || len(layers.Layers[0].Constraints) != 0 {
		t.Fatalf("after remove-layer: %+v", layers)
	}
	// Our own channels are still known exactly.
	for _, c := range r.e.Channels() {
		if k, ok := r.e.Knowledge().At(r.n.Now()).Channel(ownDirOf(r, c.SCID)); !ok || !k.Exact {
			t.Fatalf("own channel %s forgotten: %+v", c.SCID, k)
		}
	}
}

func ownDirOf(r *rig, scid graph.SCID) graph.SCIDDir {
	c, _ := r.n.Graph().Channel(scid)
	d := graph.SCIDDir{SCID: scid}
	if c.Node2 == r.n.Self() {
		d.Dir = 1
	}
	return d
}

// Bad input gets askrene's errors.
func TestGetRoutesBadInput(t *testing.T) {
	r := sub300Rig(t)
	self := r.n.Self().String()
	far := farNode(t, r)
	base := func(mod map[string]any) map[string]any {
		p := map[string]any{"source": self, "destination": far, "amount_msat": 10_000, "layers": []string{}, "maxfee_msat": 5000, "final_cltv": 18}
		for k, v := range mod {
			p[k] = v
		}
		return p
	}
	unknown := "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798" // the generator point: no node of the graph
	for _, tc := range []struct {
		name string
		mod  map[string]any
		code int
		msg  string
	}{
		{"amount 0", map[string]any{"amount_msat": 0}, CodeInvalidParams, "amount_msat"},
		{"maxparts 0", map[string]any{"maxparts": 0}, CodeInvalidParams, "maxparts"},
		{"unknown layer", map[string]any{"layers": []string{"xpay", "nosuch"}}, CodeInvalidParams, "Unknown layer nosuch"},
		{"layers not an array", map[string]any{"layers": "xpay"}, CodeInvalidParams, "layers"},
		{"unknown source", map[string]any{"source": unknown}, 205, "Unknown source node " + unknown},
		{"unknown destination", map[string]any{"destination": unknown}, 205, "Unknown destination node " + unknown},
		{"maxfee below any route", map[string]any{"maxfee_msat": 0}, 205, "Could not find route without excessive cost"},
		{"missing final_cltv", map[string]any{"final_cltv": nil}, CodeInvalidParams, "final_cltv"},
	} {
		p := base(tc.mod)
		if v, ok := tc.mod["final_cltv"]; ok && v == nil {
			delete(p, "final_cltv")
		}
		e := r.fails(t, "getroutes", p, tc.code)
		if !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: %q, want it to say %q", tc.name, e.Message, tc.msg)
		}
	}
	for _, tc := range []struct {
		method string
		params map[string]any
	}{
		{"askrene-age", map[string]any{"layer": "other", "cutoff": 1}},
		{"askrene-inform-channel", map[string]any{"layer": "other", "short_channel_id_dir": "1x1x1/0", "amount_msat": 1, "inform": "constrained"}},
		{"askrene-inform-channel", map[string]any{"layer": "xpay", "short_channel_id_dir": "1x1x1/0", "amount_msat": 1, "inform": "maybe"}},
		{"askrene-inform-channel", map[string]any{"layer": "xpay", "short_channel_id_dir": "1x1x1/0", "amount_msat": 1, "inform": "constrained"}},
		{"askrene-reserve", map[string]any{"path": []map[string]any{{"short_channel_id_dir": "1x1x1"}}}},
		{"askrene-remove-layer", map[string]any{"layer": "auto.localchans"}},
	} {
		r.fails(t, tc.method, tc.params, CodeInvalidParams)
	}
}

// farNode is the best-connected node that is not our peer and that a
// route of 10,000 msat reaches: several paths lead to it.
func farNode(t *testing.T, r *rig) string {
	t.Helper()
	g, self := r.n.Graph(), r.n.Self()
	peers := map[graph.NodeID]bool{}
	degree := map[graph.NodeID]int{}
	g.Channels(func(c graph.ChannelInfo) bool {
		degree[c.Node1]++
		degree[c.Node2]++
		if c.Node1 == self {
			peers[c.Node2] = true
		}
		if c.Node2 == self {
			peers[c.Node1] = true
		}
		return true
	})
	var best graph.NodeID
	for _, n := range g.Nodes() {
		if n == self || peers[n] || degree[n] <= degree[best] {
			continue
		}
		if _, err := g.GetRoute(graph.GetRouteParams{FromID: self, ID: n, AmountMsat: 10_000, RiskFactor: 1}); err == nil {
			best = n
		}
	}
	if degree[best] == 0 {
		t.Fatal("no node beyond our peers")
	}
	return best.String()
}
