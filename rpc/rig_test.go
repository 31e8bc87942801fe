package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/persistence"
	"github.com/payengine/payengine/simnet"
)

// rig is a real engine over simnet on a bundled graph, a real Pebble
// ledger, and this package's server on a real unix socket, with a client.
type rig struct {
	n    *simnet.Net
	l    *persistence.Ledger
	e    *actors.Engine
	s    *Server
	dir  string
	sock string
	c    *Client
	done chan error // Serve's return

	ledgerDir string
	mod       func(*Options)
	maxHTLCs  int
	starts    uint64 // engines started, to seed each one's randomness apart
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

// engineRand seeds the engine's randomness (route fuzz, session keys, HTLC
// ids) from the test's name and how many engines the rig started, so a run
// is the same every time and a restarted engine draws new HTLC ids.
func (r *rig) engineRand(t testing.TB) io.Reader {
	r.starts++
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], h.Sum64())
	binary.LittleEndian.PutUint64(seed[8:], r.starts)
	return &lockedRand{r: mrand.NewChaCha8(seed)}
}

var (
	graphsMu sync.Mutex
	graphs   = map[string]*graph.Graph{}
)

// loadGraph loads a bundled graph once per test binary (graphs are
// immutable snapshots).
func loadGraph(t testing.TB, name string) *graph.Graph {
	t.Helper()
	graphsMu.Lock()
	defer graphsMu.Unlock()
	if g, ok := graphs[name]; ok {
		return g
	}
	g, err := graphdata.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	graphs[name] = g
	return g
}

// shortDir is a temporary directory with a path short enough for a unix
// socket (sun_path is about 100 bytes; t.TempDir's can be longer).
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rpc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func newRig(t testing.TB, graphName string, nopts simnet.Options, mod func(*Options)) *rig {
	t.Helper()
	n, err := simnet.New(loadGraph(t, graphName), nopts)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{n: n, dir: shortDir(t), ledgerDir: filepath.Join(shortDir(t), "ledger"), mod: mod, maxHTLCs: nopts.MaxHTLCs}
	r.sock = filepath.Join(r.dir, SocketName)
	r.start(t)
	t.Cleanup(func() {
		r.stop(t)
		n.Close()
		checkNoLeaks(t)
	})
	return r
}

// start opens the ledger, starts the engine and the server on the socket,
// and dials it.
func (r *rig) start(t testing.TB) {
	t.Helper()
	var err error
	if r.l, err = persistence.Open(r.ledgerDir, nil); err != nil {
		t.Fatal(err)
	}
	var chans []actors.Channel
	for _, scid := range r.n.LocalChannels() {
		spendable, _ := r.n.Spendable(scid)
		chans = append(chans, actors.Channel{SCID: scid, Spendable: spendable})
	}
	r.e, err = actors.Start(actors.Options{Self: r.n.Self(), Graph: r.n.Graph(), Link: r.n.Link(), Ledger: r.l, Channels: chans,
		Network: htlc.Regtest, Height: r.n.Height, Clock: r.n.Now, Rand: r.engineRand(t), MaxHTLCs: r.maxHTLCs})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Engine: r.e, Node: simnetNode{r.n}, Ledger: r.l, Version: "test"}
	if r.mod != nil {
		r.mod(&opts)
	}
	if r.s, err = New(opts); err != nil {
		t.Fatal(err)
	}
	r.done = make(chan error, 1)
	ln, err := Listen(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	s, done := r.s, r.done
	go func() { done <- s.Serve(ln) }()
	if r.c, err = Dial(r.sock); err != nil {
		t.Fatal(err)
	}
}

// stop closes the client, shuts the server down, and stops the engine and
// the ledger; the network goes on.
func (r *rig) stop(t testing.TB) {
	t.Helper()
	r.c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := <-r.done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("serve returned %v", err)
	}
	r.e.Stop()
	r.l.Close()
}

// restart stops the daemon's parts and starts them again on the same
// ledger and network, as a payd restart does.
func (r *rig) restart(t testing.TB) {
	t.Helper()
	r.stop(t)
	r.start(t)
}

// checkNoLeaks fails the test if a connection's, a request's or a
// client's goroutine outlives Shutdown and Close.
func checkNoLeaks(t testing.TB) {
	t.Helper()
	frames := []string{"rpc.(*Server).serveConn", "rpc.(*Server).handle", "rpc.(*Client).read", "rpc.(*Server).Serve"}
	var stacks string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		leaked := false
		for _, f := range frames {
			leaked = leaked || strings.Contains(stacks, f)
		}
		if !leaked {
			return
		}
	}
	t.Errorf("goroutines left behind:\n%s", stacks)
}

// sub300 is the rig most tests use: the bundled 300-node graph, seed 5.
func sub300Rig(t testing.TB) *rig {
	return newRig(t, graphdata.Sub300, simnet.Options{Seed: 5}, nil)
}

// call makes one call through the rig's client and returns the raw result
// or the JSON-RPC error (any other error fails the test).
func (r *rig) call(t testing.TB, method string, params any) (json.RawMessage, *Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res json.RawMessage
	err := r.c.Call(ctx, method, params, &res)
	if err == nil {
		// Every result of a command CLN has a schema for must fit it.
		if err := checkSchema(t, method, res); err != nil {
			t.Errorf("%s %v: the response does not fit CLN's schema: %v\n%s", method, params, err, res)
		}
		noteStatuses(method, res)
		return res, nil
	}
	var re *Error
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
func (r *rig) fails(t testing.TB, method string, params any, code int) *Error {
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

type invoiceJSON struct {
	Bolt11        string `json:"bolt11"`
	PaymentHash   string `json:"payment_hash"`
	PaymentSecret string `json:"payment_secret"`
	Destination   string `json:"destination"`
	ExpiresAt     uint64 `json:"expires_at"`
}

type hopJSON struct {
	ID        string `json:"id"`
	Channel   string `json:"channel"`
	Direction int    `json:"direction"`
	Amount    uint64 `json:"amount_msat"`
	Delay     uint32 `json:"delay"`
	Style     string `json:"style"`
}

// payable returns up to k distinct destinations getroute finds a route to
// for amount, through the socket, skipping the first skip of them; the
// nodes are tried in the graph's order, simnet-listnodes' order.
func (r *rig) payable(t testing.TB, k int, amount uint64, skip int) []string {
	t.Helper()
	g := r.n.Graph()
	var out []string
	for _, id := range g.Nodes() {
		if len(out) == k {
			break
		}
		if id == r.n.Self() || g.NodeChannels(id) == 0 {
			continue
		}
		if _, e := r.call(t, "getroute", map[string]any{"id": id.String(), "amount_msat": amount, "riskfactor": 1, "cltv": 18}); e != nil {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, id.String())
	}
	if len(out) == 0 {
		t.Fatal("no payable destination")
	}
	return out
}

// invoice has node issue an invoice on the network, as simnet-invoice
// would (issueInvoice).
func (r *rig) invoice(t testing.TB, node string, amount any, extra map[string]any) invoiceJSON {
	t.Helper()
	return issueInvoice(t, r.n, node, amount, extra)
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

// raw is a plain connection to the rig's socket, for bytes no client would
// send.
type raw struct {
	c   net.Conn
	dec *json.Decoder
}

func (r *rig) raw(t testing.TB) *raw {
	t.Helper()
	c, err := net.Dial("unix", r.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{c: c, dec: json.NewDecoder(bufio.NewReader(c))}
}

func (w *raw) send(t testing.TB, s string) {
	t.Helper()
	if _, err := w.c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

type rawResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *Error          `json:"error"`
}

// recv reads the next response, failing after 30 s.
func (w *raw) recv(t testing.TB) rawResponse {
	t.Helper()
	w.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var resp rawResponse
	if err := w.dec.Decode(&resp); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp
}

// closed reports whether the server closed the connection (nothing more
// to read).
func (w *raw) closed(t testing.TB) bool {
	t.Helper()
	w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var v json.RawMessage
	err := w.dec.Decode(&v)
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}
