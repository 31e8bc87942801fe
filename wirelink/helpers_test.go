package wirelink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/simnet"
)

const sub300 = "../graphdata/ln-mainnet-2026-02-03-sub300.describegraph.json"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// seededReader is a deterministic io.Reader for onion session keys.
type seededReader struct{ r *rand.Rand }

func (s seededReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(s.r.Uint32())
	}
	return len(b), nil
}

// payment is a prepared HTLC and what its payer knows.
type payment struct {
	req   link.AddHTLC
	dest  graph.NodeID
	route graph.Route
	onion *htlc.Onion
}

// payments prepares count payments of amount to seeded random
// destinations that have a route, with ids 1..count. distinct asks for
// destinations that are distinct and on no other payment's route, so that
// holding one destination holds exactly its own payment.
func payments(t testing.TB, n *simnet.Net, count int, seed uint64, amount graph.MilliSat, distinct bool) []payment {
	t.Helper()
	g := n.Graph()
	nodes := g.Nodes()

	r := rand.New(rand.NewPCG(seed, 2))
	used, inner := map[graph.NodeID]bool{}, map[graph.NodeID]bool{}
	var ps []payment
	for tries := 0; len(ps) < count && tries < 100*count; tries++ {
		dest := nodes[r.IntN(len(nodes))]
		if dest == n.Self() || g.NodeChannels(dest) == 0 || distinct && (used[dest] || inner[dest]) {
			continue
		}
		cltv := uint32(simnet.DefaultMinFinalCLTV)
		route, err := g.GetRoute(graph.GetRouteParams{ID: dest, FromID: n.Self(), AmountMsat: amount,
			RiskFactor: 1, CLTV: &cltv})
		if err != nil || distinct && slices.ContainsFunc(route[:len(route)-1], func(h graph.Hop) bool { return used[h.ID] }) {
			continue
		}
		used[dest] = true
		for _, h := range route[:len(route)-1] {
			inner[h.ID] = true
		}
		ps = append(ps, prepare(t, n, route, seed, uint64(len(ps)+1)))
	}
	if len(ps) < count {
		t.Fatalf("seed %d: only %d of %d payments have a route", seed, len(ps), count)
	}
	return ps
}

// direct prepares count payments of amount to the peers of our channels,
// round-robin, with ids 1..count: one hop, one onion to peel, which keeps
// tests under -race quick.
func direct(t testing.TB, n *simnet.Net, count int, seed uint64, amount graph.MilliSat) []payment {
	t.Helper()
	local := n.LocalChannels()
	var ps []payment
	for i := range count {
		c, _ := n.Graph().Channel(local[i%len(local)])
		peer := c.Node1
		if peer == n.Self() {
			peer = c.Node2
		}
		route := graph.Route{{ID: peer, Channel: c.SCID, Direction: graph.Direction(n.Self(), peer), Amount: amount,
			Delay: simnet.DefaultMinFinalCLTV, Style: "tlv"}}
		ps = append(ps, prepare(t, n, route, seed, uint64(i+1)))
	}
	return ps
}

// prepare issues an invoice at route's destination and builds the onion
// that pays it, as HTLC id.
func prepare(t testing.TB, n *simnet.Net, route graph.Route, seed, id uint64) payment {
	t.Helper()
	dest := route[len(route)-1]
	bolt11, err := n.Invoice(dest.ID, dest.Amount, "wirelink", 0, n.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := htlc.Decode(bolt11, htlc.DecodeOptions{Network: htlc.Regtest})
	if err != nil {
		t.Fatal(err)
	}
	o, err := htlc.BuildOnion(htlc.OnionParams{Route: route, PaymentHash: inv.PaymentHash,
		PaymentSecret: inv.PaymentSecret, BlockHeight: n.Height()}, seededReader{rand.New(rand.NewPCG(seed, id))})
	if err != nil {
		t.Fatal(err)
	}
	return payment{dest: dest.ID, route: route, onion: o, req: link.AddHTLC{ID: id, Channel: o.Channel,
		Amount: o.Amount, Expiry: o.Expiry, PaymentHash: inv.PaymentHash, Onion: o.Packet}}
}

// recLink is a backend that records what the server asked of it and what
// it answered: the truth a test compares the client's view with.
type recLink struct {
	link.Link
	mu      sync.Mutex
	adds    map[uint64]int         // AddHTLC calls that took the HTLC
	results map[uint64]link.Result // outcomes the backend reported
	// forgetful makes Reattach know nothing, as a backend that keeps no
	// history would: the server must answer from its own memory.
	forgetful atomic.Bool
	// refuse makes AddHTLC refuse this id as a closed link would.
	refuse atomic.Uint64
}

func (r *recLink) Reattach(ctx context.Context, req link.AddHTLC, done func(link.Result)) error {
	if r.forgetful.Load() {
		return fmt.Errorf("%w: %d (forgetful backend)", link.ErrUnknownHTLC, req.ID)
	}
	return r.Link.Reattach(ctx, req, done)
}

func newRecLink(l link.Link) *recLink {
	return &recLink{Link: l, adds: map[uint64]int{}, results: map[uint64]link.Result{}}
}

func (r *recLink) AddHTLC(ctx context.Context, req link.AddHTLC, done func(link.Result)) error {
	if req.ID == r.refuse.Load() {
		return fmt.Errorf("%w: refusing %d", link.ErrClosed, req.ID)
	}
	err := r.Link.AddHTLC(ctx, req, func(res link.Result) {
		r.mu.Lock()
		r.results[req.ID] = res
		r.mu.Unlock()
		done(res)
	})
	if err == nil {
		r.mu.Lock()
		r.adds[req.ID]++
		r.mu.Unlock()
	}
	return err
}

func (r *recLink) added(id uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.adds[id]
}

func (r *recLink) result(id uint64) (link.Result, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, ok := r.results[id]
	return res, ok
}

// server is a Server serving a unix socket, restartable on the same path.
type server struct {
	t      testing.TB
	path   string
	s      *Server
	cancel context.CancelFunc
	done   chan error
}

func startServer(t testing.TB, path string, backend link.Link, opts ServerOptions) *server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := NewServer(backend, opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sv := &server{t: t, path: path, s: s, cancel: cancel, done: make(chan error, 1)}
	go func() { sv.done <- s.Serve(ctx, l) }()
	t.Cleanup(sv.stop)
	return sv
}

// stop stops the server as a process exit would; it may run twice.
func (sv *server) stop() {
	sv.cancel()
	if err := <-sv.done; err != nil {
		sv.t.Errorf("Serve: %v", err)
	}
	sv.done <- nil
	sv.s.Close()
}

// dropClient closes the server's side of the current connection.
func (sv *server) dropClient() {
	sv.s.mu.Lock()
	cn := sv.s.cur
	sv.s.mu.Unlock()
	if cn == nil {
		sv.t.Fatal("no client connected")
	}
	cn.close(errors.New("test: dropped"))
}

// rig is a simnet behind a recording backend, served on a unix socket.
type rig struct {
	n    *simnet.Net
	rec  *recLink
	path string
	srv  *server
}

func newRig(t testing.TB, opts simnet.Options) *rig {
	t.Helper()
	n, err := simnet.Load(sub300, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	r := &rig{n: n, rec: newRecLink(n.Link()), path: filepath.Join(t.TempDir(), "s")}
	r.srv = startServer(t, r.path, r.rec, ServerOptions{})
	return r
}

// dial connects a client to addr with quick reconnects.
func dial(t testing.TB, addr string, opts Options) *Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 2*time.Millisecond, 20*time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "unix", addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// outcomes collects done calls and counts them per id.
type outcomes struct {
	mu    sync.Mutex
	got   map[uint64]link.Result
	calls map[uint64]int
	more  chan struct{}
}

func newOutcomes() *outcomes {
	return &outcomes{got: map[uint64]link.Result{}, calls: map[uint64]int{}, more: make(chan struct{}, 1)}
}

func (o *outcomes) done(res link.Result) {
	o.mu.Lock()
	o.got[res.ID] = res
	o.calls[res.ID]++
	o.mu.Unlock()
	select {
	case o.more <- struct{}{}:
	default:
	}
}

// wait waits until ids all have an outcome.
func (o *outcomes) wait(t testing.TB, ids []uint64) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		o.mu.Lock()
		missing := 0
		for _, id := range ids {
			if o.calls[id] == 0 {
				missing++
			}
		}
		o.mu.Unlock()
		if missing == 0 {
			return
		}
		select {
		case <-o.more:
		case <-deadline:
			t.Fatalf("%d of %d outcomes missing after 30s", missing, len(ids))
		}
	}
}

func (o *outcomes) count(id uint64) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[id]
}

func (o *outcomes) result(id uint64) link.Result {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.got[id]
}

// sameResult fails unless got is what the backend reported: equal bytes,
// and a Local error that reads the same and wraps the same link error.
func sameResult(t testing.TB, got, want link.Result) {
	t.Helper()
	if got.ID != want.ID || (got.Preimage == nil) != (want.Preimage == nil) ||
		got.Preimage != nil && *got.Preimage != *want.Preimage ||
		(got.Reason == nil) != (want.Reason == nil) || !bytes.Equal(got.Reason, want.Reason) ||
		(got.Malformed == nil) != (want.Malformed == nil) ||
		got.Malformed != nil && *got.Malformed != *want.Malformed ||
		(got.Local == nil) != (want.Local == nil) {
		t.Fatalf("result %+v, backend said %+v", got, want)
	}
	if want.Local != nil {
		for _, sentinel := range codeErrors[1:] {
			if errors.Is(got.Local, sentinel) != errors.Is(want.Local, sentinel) {
				t.Fatalf("local %q: errors.Is(%v) differs from the backend's %q", got.Local, sentinel, want.Local)
			}
		}
		if got.Local.Error() != want.Local.Error() || link.LocalFailCode(got.Local) != link.LocalFailCode(want.Local) {
			t.Fatalf("local %q, backend said %q", got.Local, want.Local)
		}
	}
}

// settled fails unless res settled with the preimage of hash.
func settled(t testing.TB, res link.Result, hash [32]byte) {
	t.Helper()
	if res.Preimage == nil || sha256.Sum256(res.Preimage[:]) != hash {
		t.Fatalf("htlc %d: not settled with the preimage of %x: %+v", res.ID, hash, res)
	}
}

// eventually polls cond for up to 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// held holds every payment's destination and returns the HTLC count they
// will hold: one per hop up to the first held node, which may come before
// a payment's destination if it is another's.
func held(t testing.TB, n *simnet.Net, ps []payment) int {
	t.Helper()
	holding := map[graph.NodeID]bool{}
	for _, p := range ps {
		if err := n.Hold(p.dest); err != nil {
			t.Fatal(err)
		}
		holding[p.dest] = true
	}
	hops := 0
	for _, p := range ps {
		for _, hop := range p.route {
			hops++
			if holding[hop.ID] {
				break
			}
		}
	}
	return hops
}

func ids(ps []payment) []uint64 {
	out := make([]uint64, len(ps))
	for i, p := range ps {
		out[i] = p.req.ID
	}
	return out
}

// noGoroutines fails unless, within 5 s, no goroutine runs a method of
// one of the named types (such as "*Client").
func noGoroutines(t testing.TB, types ...string) {
	t.Helper()
	var stuck string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		stuck = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			for _, typ := range types {
				if strings.Contains(g, "payengine/wirelink.("+typ+")") {
					stuck = g
				}
			}
		}
		if stuck == "" {
			return
		}
	}
	t.Fatalf("a goroutine outlived its owner:\n%s", stuck)
}
