package simnetrpc

import (
	"context"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/rpc"
	"github.com/payengine/payengine/simnet"
)

// rig is payd over the embedded network in miniature: a real engine over
// simnet on the bundled 300-node graph (seed 5), a real Pebble ledger,
// rpc.New with this package's Info and Commands (as cmd/internal/node
// gives them) on a real unix socket, and a client.
type rig struct {
	n *simnet.Net
	e *actors.Engine
	s *rpc.Server
	c *rpc.Client
}

// lockedRand is a seeded source safe for concurrent use, as the engine's
// Options.Rand must be.
type lockedRand struct {
	mu sync.Mutex
	r  *mrand.ChaCha8
}

func (l *lockedRand) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// shortDir is a temporary directory with a path short enough for a unix
// socket.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "simrpc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// newNet is the bundled 300-node network with seed 5, closed at the end.
func newNet(t testing.TB) *simnet.Net {
	t.Helper()
	g, err := graphdata.Load(graphdata.Sub300)
	if err != nil {
		t.Fatal(err)
	}
	n, err := simnet.New(g, simnet.Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// newRig starts the rig; mod may change the commands before New.
func newRig(t testing.TB, mod func([]rpc.Command) []rpc.Command) *rig {
	t.Helper()
	n := newNet(t)
	l, err := persistence.Open(filepath.Join(shortDir(t), "ledger"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var chans []actors.Channel
	for _, scid := range n.LocalChannels() {
		spendable, _ := n.Spendable(scid)
		chans = append(chans, actors.Channel{SCID: scid, Spendable: spendable})
	}
	e, err := actors.Start(actors.Options{Self: n.Self(), Graph: n.Graph(), Link: n.Link(), Ledger: l, Channels: chans,
		Network: htlc.Regtest, Height: n.Height, Clock: n.Now, Rand: &lockedRand{r: mrand.NewChaCha8([32]byte{5})}})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	cmds := Commands(n)
	if mod != nil {
		cmds = mod(cmds)
	}
	s, err := rpc.New(rpc.Options{Engine: e, Node: Info(n), Commands: cmds, Ledger: l, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{n: n, e: e, s: s}
	c, done := serve(t, s)
	r.c = c
	t.Cleanup(func() {
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
		e.Stop()
		l.Close()
	})
	return r
}

// serve serves s on a new socket and dials it; done gets Serve's return.
func serve(t testing.TB, s *rpc.Server) (*rpc.Client, chan error) {
	t.Helper()
	ln, err := rpc.Listen(shortDir(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	c, err := rpc.Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return c, done
}

// call makes one call and returns the raw result or the JSON-RPC error
// (any other error fails the test).
func (r *rig) call(t testing.TB, method string, params any) (json.RawMessage, *rpc.Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res json.RawMessage
	err := r.c.Call(ctx, method, params, &res)
	if err == nil {
		return res, nil
	}
	var re *rpc.Error
	if !errors.As(err, &re) {
		t.Fatalf("%s: %v", method, err)
	}
	return nil, re
}

// ok calls and decodes the result into out, failing the test on an error.
func (r *rig) ok(t testing.TB, method string, params any, out any) {
	t.Helper()
	res, e := r.call(t, method, params)
	if e != nil {
		t.Fatalf("%s %v: %d %s %s", method, params, e.Code, e.Message, e.Data)
	}
	if out != nil {
		if err := json.Unmarshal(res, out); err != nil {
			t.Fatalf("%s: %v in %s", method, err, res)
		}
	}
}

// fails calls and checks the error code; it returns the error.
func (r *rig) fails(t testing.TB, method string, params any, code int) *rpc.Error {
	t.Helper()
	res, e := r.call(t, method, params)
	if e == nil {
		t.Fatalf("%s %v: succeeded with %s, want error %d", method, params, res, code)
	}
	if e.Code != code {
		t.Fatalf("%s %v: error %d %q, want %d", method, params, e.Code, e.Message, code)
	}
	return e
}

// payable returns up to k distinct destinations getroute finds a route to
// for amount, from simnet-listnodes, skipping nodes without channels.
func (r *rig) payable(t testing.TB, k int, amount uint64) []string {
	t.Helper()
	var nodes struct {
		Nodes []simnetNodeJSON `json:"nodes"`
	}
	r.ok(t, "simnet-listnodes", nil, &nodes)
	self := r.n.Self().String()
	var out []string
	for _, nd := range nodes.Nodes {
		if len(out) == k {
			break
		}
		if nd.ID == self || nd.NumChannels == 0 {
			continue
		}
		if _, e := r.call(t, "getroute", map[string]any{"id": nd.ID, "amount_msat": amount, "riskfactor": 1, "cltv": 18}); e == nil {
			out = append(out, nd.ID)
		}
	}
	if len(out) == 0 {
		t.Fatal("no payable destination")
	}
	return out
}

// invoice has node issue an invoice through simnet-invoice.
func (r *rig) invoice(t testing.TB, node string, amount any, extra map[string]any) simnetInvoiceJSON {
	t.Helper()
	p := map[string]any{"node": node, "amount_msat": amount, "description": "rpc test"}
	for k, v := range extra {
		p[k] = v
	}
	var inv simnetInvoiceJSON
	r.ok(t, "simnet-invoice", p, &inv)
	return inv
}

// hopJSON is one hop of getroute's route, as sendpay takes it back.
type hopJSON struct {
	ID        string `json:"id"`
	Channel   string `json:"channel"`
	Direction int    `json:"direction"`
	Amount    uint64 `json:"amount_msat"`
	Delay     uint32 `json:"delay"`
	Style     string `json:"style"`
}

// route asks getroute for a route to node for amount with the invoice's
// final CLTV.
func (r *rig) route(t testing.TB, node string, amount uint64) []hopJSON {
	t.Helper()
	var res struct {
		Route []hopJSON `json:"route"`
	}
	r.ok(t, "getroute", map[string]any{"id": node, "amount_msat": amount, "riskfactor": 1, "cltv": simnet.DefaultMinFinalCLTV}, &res)
	return res.Route
}
