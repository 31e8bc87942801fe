package actors

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/simnet"
)

const sub300 = "../graphdata/ln-mainnet-2026-02-03-sub300.describegraph.json"

func ask(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, msg any) any {
	t.Helper()
	res, err := sys.Root.RequestFuture(pid, msg, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("request %T: %v", msg, err)
	}
	return res
}

// Many requesters at once get from the graph actor exactly the routes the
// snapshot gives directly; the workers answer them, not the graph actor.
func TestGraphActorRoutes(t *testing.T) {
	g, err := graph.LoadDescribeGraphFile(sub300)
	if err != nil {
		t.Fatal(err)
	}
	sys := NewSystem(nil)
	defer sys.Shutdown()
	pid := sys.Root.Spawn(GraphProps(g, GraphOptions{Workers: 4}))
	nodes := g.Nodes()
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := graph.GetRouteParams{FromID: nodes[i%len(nodes)], ID: nodes[(i*7+3)%len(nodes)], AmountMsat: 1_000_000, RiskFactor: 1}
			want, wantErr := g.GetRoute(p)
			got := ask(t, sys, pid, &messages.FindRoute{Params: p, Now: time.Now()})
			switch got := got.(type) {
			case *messages.RouteFound:
				if wantErr != nil || fmt.Sprint(got.Route) != fmt.Sprint(want) {
					t.Errorf("request %d: %v, want %v %v", i, got.Route, want, wantErr)
				}
			case *messages.RouteNotFound:
				if wantErr == nil || got.Err.Error() != wantErr.Error() {
					t.Errorf("request %d: %v, want %v %v", i, got.Err, want, wantErr)
				}
			}
		}(i)
	}
	wg.Wait()
}

// A failure remembered with Avoid keeps a channel out of routes until its
// time is up, measured by the requester's clock.
func TestGraphActorAvoid(t *testing.T) {
	g, err := graph.LoadDescribeGraphFile(sub300)
	if err != nil {
		t.Fatal(err)
	}
	sys := NewSystem(nil)
	defer sys.Shutdown()
	pid := sys.Root.Spawn(GraphProps(g, GraphOptions{}))
	nodes := g.Nodes()
	now := time.Unix(1_700_000_000, 0)
	p := graph.GetRouteParams{FromID: nodes[5], ID: nodes[77], AmountMsat: 50_000_000, RiskFactor: 1}
	first := ask(t, sys, pid, &messages.FindRoute{Params: p, Now: now}).(*messages.RouteFound).Route
	avoided := graph.SCIDDir{SCID: first[len(first)-1].Channel, Dir: first[len(first)-1].Direction}
	sys.Root.Send(pid, &messages.Avoid{Exclude: graph.ExcludeChannel(avoided), Until: now.Add(time.Minute)})
	switch r := ask(t, sys, pid, &messages.FindRoute{Params: p, Now: now.Add(30 * time.Second)}).(type) {
	case *messages.RouteFound:
		for _, h := range r.Route {
			if h.Channel == avoided.SCID && h.Direction == avoided.Dir {
				t.Fatalf("route %v uses the avoided %s", r.Route, avoided)
			}
		}
	case *messages.RouteNotFound:
		if !errors.Is(r.Err, graph.ErrNoRoute) {
			t.Fatal(r.Err)
		}
	}
	later := ask(t, sys, pid, &messages.FindRoute{Params: p, Now: now.Add(2 * time.Minute)}).(*messages.RouteFound).Route
	if fmt.Sprint(later) != fmt.Sprint(first) {
		t.Fatalf("after the avoidance ran out: %v, want %v", later, first)
	}
}

// The peer actor adds HTLCs through simnet's link and answers with their
// outcome; what does not fit its balance or slots is refused locally.
func TestPeerActor(t *testing.T) {
	n, err := simnet.Load(sub300, simnet.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	g := n.Graph()
	sys := NewSystem(nil)
	defer sys.Shutdown()

	// A payment to a node our first channel's peer can reach.
	var route graph.Route
	var bolt11 string
	for _, dest := range g.Nodes() {
		if dest == n.Self() || g.NodeChannels(dest) == 0 {
			continue
		}
		b, err := n.Invoice(dest, 20_000, "peer test", 0, n.Now())
		if err != nil {
			t.Fatal(err)
		}
		inv, err := htlc.Decode(b, htlc.DecodeOptions{Network: htlc.Regtest})
		if err != nil {
			t.Fatal(err)
		}
		cltv := inv.MinFinalCLTVExpiry
		if r, err := g.GetRoute(graph.GetRouteParams{FromID: n.Self(), ID: dest, AmountMsat: 20_000, RiskFactor: 1, CLTV: &cltv}); err == nil && len(r) > 1 {
			route, bolt11 = r, b
			break
		}
	}
	if route == nil {
		t.Fatal("no payable destination")
	}
	inv, _ := htlc.Decode(bolt11, htlc.DecodeOptions{Network: htlc.Regtest})
	o, err := htlc.BuildOnion(htlc.OnionParams{Route: route, PaymentHash: inv.PaymentHash, PaymentSecret: inv.PaymentSecret, BlockHeight: n.Height()}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spendable, _ := n.Spendable(o.Channel)
	peer := sys.Root.Spawn(PeerProps(PeerOptions{Channel: o.Channel, Spendable: spendable, MaxHTLCs: 1, Link: n.Link()}))
	offer := &messages.OfferHTLC{ID: 1, Amount: o.Amount, Expiry: o.Expiry, PaymentHash: inv.PaymentHash, Onion: o.Packet[:]}
	res := ask(t, sys, peer, offer).(*messages.HTLCResolved)
	if res.Preimage == nil || sha256.Sum256(res.Preimage[:]) != inv.PaymentHash {
		t.Fatalf("not settled with the invoice's preimage: %+v", res)
	}
	if d := n.Delivered(inv.PaymentHash); d.Settlements != 1 || d.Amount != 20_000 {
		t.Fatalf("simnet delivered %+v", d)
	}
	// Locally refused: more than the balance left, a short onion.
	big := *offer
	big.ID, big.Amount = 2, spendable
	if r := ask(t, sys, peer, &big).(*messages.HTLCResolved); !errors.Is(r.Local, link.ErrInsufficientBalance) {
		t.Fatalf("over the balance: %+v", r)
	}
	short := *offer
	short.ID, short.Onion = 3, short.Onion[:100]
	if r := ask(t, sys, peer, &short).(*messages.HTLCResolved); r.Local == nil {
		t.Fatal("a short onion was not refused")
	}
	// The backend's balance replaces the actor's (SetSpendable): with
	// nothing left, even a small HTLC is refused before the link.
	sys.Root.Send(peer, &SetSpendable{Amount: 0})
	small := *offer
	small.ID, small.Amount, small.PaymentHash = 4, 1, [32]byte{4}
	if r := ask(t, sys, peer, &small).(*messages.HTLCResolved); !errors.Is(r.Local, link.ErrInsufficientBalance) {
		t.Fatalf("after SetSpendable 0: %+v", r)
	}
	if n.InFlight() != 0 {
		t.Fatalf("%d HTLCs in flight", n.InFlight())
	}
}

// The graph actor applies a channel_update only from the node that owns
// the direction, after its gathering delay; a success forgets what a
// failure taught.
func TestGraphActorUpdatesAndSuccess(t *testing.T) {
	g, err := graph.LoadDescribeGraphFile(sub300)
	if err != nil {
		t.Fatal(err)
	}
	sys := NewSystem(nil)
	defer sys.Shutdown()
	pid := sys.Root.Spawn(GraphProps(g, GraphOptions{UpdateDelay: 10 * time.Millisecond}))
	nodes := g.Nodes()
	now := time.Unix(1_700_000_000, 0)
	var p graph.GetRouteParams
	var route graph.Route
	for i := 1; route == nil; i++ {
		p = graph.GetRouteParams{FromID: nodes[0], ID: nodes[i], AmountMsat: 50_000_000, RiskFactor: 1}
		if r, err := g.GetRoute(p); err == nil && len(r) >= 2 {
			route = r
		}
	}
	hop := route[1] // route[0].ID owns this direction
	info, _ := g.Channel(hop.Channel)
	pol := *info.Policy[hop.Direction]
	pol.Disabled, pol.LastUpdate = true, pol.LastUpdate+1
	up := graph.PolicyUpdate{SCID: hop.Channel, Dir: hop.Direction, Policy: pol}
	uses := func() bool {
		t.Helper()
		time.Sleep(50 * time.Millisecond) // past the gathering delay
		r, ok := ask(t, sys, pid, &messages.FindRoute{Params: p, Now: now}).(*messages.RouteFound)
		if !ok {
			return false
		}
		for _, h := range r.Route {
			if h.Channel == hop.Channel && h.Direction == hop.Direction {
				return true
			}
		}
		return false
	}
	sys.Root.Send(pid, &messages.ChannelUpdate{Update: up, Signer: hop.ID}) // the far end: not its to give
	if !uses() {
		t.Fatal("an update from the wrong node was applied")
	}
	sys.Root.Send(pid, &messages.ChannelUpdate{Update: up, Signer: route[0].ID})
	if uses() {
		t.Fatal("the owner's update disabling the channel was not applied")
	}

	// Avoid, then a success through the channel: it is routable again.
	g2 := graph.GetRouteParams{FromID: nodes[0], ID: route[len(route)-1].ID, AmountMsat: 50_000_000, RiskFactor: 1}
	pid2 := sys.Root.Spawn(GraphProps(g, GraphOptions{}))
	ex := graph.ExcludeChannel(graph.SCIDDir{SCID: hop.Channel, Dir: hop.Direction})
	sys.Root.Send(pid2, &messages.Avoid{Exclude: ex, Until: now.Add(time.Hour)})
	sys.Root.Send(pid2, &messages.Succeeded{Route: route})
	r, ok := ask(t, sys, pid2, &messages.FindRoute{Params: g2, Now: now}).(*messages.RouteFound)
	if !ok || fmt.Sprint(r.Route) != fmt.Sprint(route) {
		t.Fatalf("after the success: %v, want %v", r, route)
	}
}
