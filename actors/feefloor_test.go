package actors

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/metrics"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/simnet"
	"github.com/prometheus/client_golang/prometheus"
)

// A pay whose every route on mainnet costs more than its budget: v0.7's
// loop excluded the dearest channel and asked again, 24 to 499 times on
// such destinations, before its 206. The fee floor shows at the first dear
// route that no route will do: one route search and one floor, the same
// 206.
func TestPayHopelessFeeAnswersAtOnce(t *testing.T) {
	n, err := simnet.Load(mainnetFile, simnet.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	g := n.Graph()
	params := payment.DefaultPayParams()
	const amount = graph.MilliSat(1_000_000)
	// A destination whose cheapest route is dear and whose fee floor is
	// over the budget too (about 1 in 100 random ones).
	r := rand.New(rand.NewPCG(1, 1))
	nodes := g.Nodes()
	var dest graph.NodeID
	for i := 0; i < 5000 && dest == (graph.NodeID{}); i++ {
		d := nodes[r.IntN(len(nodes))]
		route, err := g.GetRoute(graph.GetRouteParams{FromID: n.Self(), ID: d, AmountMsat: amount, RiskFactor: 1})
		if err != nil || route[0].Amount-amount <= params.ExemptFee {
			continue
		}
		if floor, err := g.FeeFloor(graph.GetRouteParams{FromID: n.Self(), ID: d, AmountMsat: amount}); err == nil && floor > params.ExemptFee {
			dest = d
		}
	}
	if dest == (graph.NodeID{}) {
		t.Fatal("no destination beyond the fee budget among 5,000")
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := persistence.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, err := Start(Options{Self: n.Self(), Graph: g, Link: n.Link(), Ledger: l, Channels: simnetChannels(n),
		Network: htlc.Regtest, Height: n.Height, Clock: n.Now, Rand: testRand(t), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	bolt, err := n.Invoice(dest, amount, "dear", 0, n.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Pay(context.Background(), PayRequest{Bolt11: bolt, Params: params})
	var pe *payment.Error
	if !errors.As(err, &pe) || pe.Code != payment.CodeRouteTooExpensive || !strings.HasPrefix(pe.Message, "Route wanted fee of ") {
		t.Fatalf("pay: %v, want 206 Route wanted fee of ...", err)
	}
	if got := searches(t, reg); got != 2 {
		t.Fatalf("%d route searches, want 2: a route, then the fee floor", got)
	}
}

// searches is how many route searches (routes and fee floors) the engine
// has made.
func searches(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "payengine_route_search_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no route search histogram")
	return 0
}
