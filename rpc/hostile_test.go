package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Clients that misbehave (issue 6): none of them may stop the server from
// answering the others. Each test runs the real engine over simnet, as the
// rig does, and talks to the server through a real unix socket.

// serve starts a second server over the rig's engine, with the options mod
// sets, on a socket of its own, and returns it and the socket's path. The
// rig's client stays on the first server, so a short idle timeout here does
// not cut it. The server is shut down before the rig.
func (r *rig) serve(t testing.TB, mod func(*Options)) (*Server, string) {
	t.Helper()
	opts := Options{Engine: r.e, Node: simnetNode{r.n}, Ledger: r.l, Version: "test"}
	mod(&opts)
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)
	ln, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
	})
	return s, filepath.Join(dir, SocketName)
}

// dialRaw is a plain connection to sock, closed at the end of the test.
func dialRaw(t testing.TB, sock string) *raw {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{c: c, dec: newDecoder(c)}
}

// dialClient is a Client on sock, closed at the end of the test.
func dialClient(t testing.TB, sock string) *Client {
	t.Helper()
	c, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// payOn pays bolt11 through c and returns how long the answer took; it
// fails the test unless the payment completes within 30 s (a bound on
// being served at all, not a latency target).
func payOn(t testing.TB, c *Client, bolt11 string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var p payResult
	if err := c.Call(ctx, "pay", []any{bolt11}, &p); err != nil || p.Status != "complete" {
		t.Fatalf("pay: %+v %v after %v", p, err, time.Since(start))
	}
	return time.Since(start)
}

// getinfoOn calls getinfo through c, failing the test unless it is
// answered within 30 s.
func getinfoOn(t testing.TB, c *Client) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.Call(ctx, "getinfo", nil, nil); err != nil {
		t.Fatalf("getinfo: %v after %v", err, time.Since(start))
	}
	return time.Since(start)
}

// inUse is the memory live after full collections: heap objects and
// goroutine stacks. (Two, as the first leaves sync.Pool's victims.)
func inUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// waitGoroutines waits up to 10 s until at most max goroutines run, and
// returns how many do.
func waitGoroutines(max int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); n > max && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// A thousand idle connections cost a few KiB each, one goroutine each, and
// a pay of a fresh invoice on a new connection is served as usual; so are
// the idle connections when they speak. (The full thousand also under
// -short: opening them takes well under a second, with -race too.)
func TestIdleConnections(t *testing.T) {
	const n = 1000
	r := sub300Rig(t)
	dests := r.payable(t, 2, 10_000, 0)
	warm, inv := r.invoice(t, dests[0], 10_000, nil), r.invoice(t, dests[1], 10_000, nil)
	// A first pay on a fresh connection, for comparison.
	base := payOn(t, dialClient(t, r.sock), warm.Bolt11)

	mem0, g0 := inUse(), runtime.NumGoroutine()
	idle := make([]net.Conn, n)
	for i := range idle {
		c, err := net.Dial("unix", r.sock)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer c.Close()
		idle[i] = c
	}
	// Every connection has been accepted when its goroutine runs.
	for deadline := time.Now().Add(30 * time.Second); runtime.NumGoroutine() < g0+n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for %d connections", runtime.NumGoroutine()-g0, n)
		}
	}
	perConn := (inUse() - mem0) / n
	goroutines := runtime.NumGoroutine() - g0

	took := payOn(t, dialClient(t, r.sock), inv.Bolt11)
	t.Logf("%d idle connections: %d B and %.2f goroutines each (both ends, one process); pay %v (%v without them)",
		n, perConn, float64(goroutines)/n, took.Round(time.Microsecond), base.Round(time.Microsecond))
	// 64 KiB each before the read buffer shrank to 4 KiB.
	if perConn > 32<<10 {
		t.Errorf("an idle connection costs %d bytes", perConn)
	}
	if goroutines > n+10 {
		t.Errorf("%d goroutines for %d idle connections", goroutines, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		w := &raw{c: idle[i], dec: newDecoder(idle[i])}
		w.send(t, fmt.Sprintf(`{"id":%d,"method":"getinfo"}`, i))
		if resp := w.recv(t); resp.Error != nil || string(resp.ID) != fmt.Sprint(i) {
			t.Errorf("idle connection %d: %s %+v", i, resp.ID, resp.Error)
		}
	}
}

// A connection that once sent a large request does not keep a buffer of
// its size while it idles: a client cannot pin MaxRequestBytes per
// connection by opening many and sending one large request on each.
func TestLargeRequestNotKept(t *testing.T) {
	const n, size = 6, 512 << 10
	r := sub300Rig(t)
	pad := strings.Repeat("x", size)
	conns := make([]*raw, n)
	for i := range conns {
		conns[i] = r.raw(t)
		conns[i].send(t, `{"id":0,"method":"getinfo"}`)
		conns[i].recv(t)
	}
	time.Sleep(100 * time.Millisecond)
	mem0 := inUse()
	for i, w := range conns {
		// Members the envelope does not know are ignored: a getinfo.
		w.send(t, fmt.Sprintf(`{"id":%d,"method":"getinfo","pad":%q}`, i, pad))
		if resp := w.recv(t); resp.Error != nil {
			t.Fatalf("#%d: %+v", i, resp.Error)
		}
	}
	// Each connection's reader is back waiting for its next request.
	time.Sleep(100 * time.Millisecond)
	kept := inUse() - mem0
	runtime.KeepAlive(pad)
	t.Logf("%d connections kept %d bytes in all after a %d-byte request each", n, kept, size+40)
	if kept > 1<<20 {
		t.Errorf("%d connections keep %d bytes after one %d-byte request each", n, kept, size)
	}
}

// Slow and hostile clients on one server: one trickles a request a byte at
// a time, one sends half a request and stalls, one pipelines requests and
// never reads the answers, one pipelines thousands and reads them. Meanwhile
// another client's getinfo and pay are answered. The deaf client is cut
// after WriteTimeout, its request goroutines end, and the slow and stalled
// clients' half requests are still whole: finished, they are answered (no
// idle timeout by default, as on Core Lightning's socket).
func TestSlowClients(t *testing.T) {
	const writeTimeout = 5 * time.Second
	r := sub300Rig(t)
	_, sock := r.serve(t, func(o *Options) { o.WriteTimeout = writeTimeout })
	dest := r.payable(t, 1, 10_000, 0)[0]
	inv := r.invoice(t, dest, 10_000, nil)
	good := dialClient(t, sock)
	getinfoOn(t, good)
	g0 := runtime.NumGoroutine()

	// Slowloris: all of a request but its last byte, 20 ms a byte.
	slowReq := `{"id":"slow","method":"getinfo","params":{}}`
	slow := dialRaw(t, sock)
	trickled := make(chan error, 1)
	go func() {
		for i := range len(slowReq) - 1 {
			if _, err := slow.c.Write([]byte{slowReq[i]}); err != nil {
				trickled <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		trickled <- nil
	}()
	// Half a request, then nothing.
	half := dialRaw(t, sock)
	half.send(t, `{"id":"half","meth`)

	// Deaf: writes requests as long as the server takes them, reads nothing.
	deaf := dialRaw(t, sock)
	var deafSent, deafLast atomic.Int64
	deafEnd := make(chan error, 1)
	go func() {
		batch := []byte(strings.Repeat(`{"id":1,"method":"getinfo"}`, 100))
		for {
			n, err := deaf.c.Write(batch)
			deafSent.Add(int64(n))
			deafLast.Store(time.Now().UnixNano())
			if err != nil {
				deafEnd <- err
				return
			}
		}
	}()
	// The deaf client is stuck once its writes block: the server stopped
	// reading it, MaxInFlight answers waiting to be written.
	for time.Since(time.Unix(0, deafLast.Load())) < 200*time.Millisecond || deafSent.Load() == 0 {
		select {
		case err := <-deafEnd:
			t.Fatalf("the deaf client was cut before it stalled: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	stalled := time.Now()

	// Storm: 3,000 requests in one write, every answer read.
	storm := dialRaw(t, sock)
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, `{"id":%d,"method":"getinfo"}`, i)
	}
	stormDone := make(chan error, 1)
	go func() {
		if _, err := storm.c.Write([]byte(b.String())); err != nil {
			stormDone <- err
			return
		}
		for i := range 3000 {
			var resp rawResponse
			if err := storm.dec.Decode(&resp); err != nil || resp.Error != nil {
				stormDone <- fmt.Errorf("answer %d: %v %+v", i, err, resp.Error)
				return
			}
		}
		stormDone <- nil
	}()

	// The good client, meanwhile.
	gi := getinfoOn(t, good)
	paid := payOn(t, good, inv.Bolt11)
	select {
	case err := <-deafEnd:
		t.Fatalf("the deaf client was cut (%v) before the good client was answered; make writeTimeout longer", err)
	default:
	}
	t.Logf("with a slowloris, a stalled half request, a deaf and a storming client: getinfo %v, pay %v",
		gi.Round(time.Microsecond), paid.Round(time.Microsecond))
	if err := <-stormDone; err != nil {
		t.Fatalf("storm: %v", err)
	}

	// The deaf client is cut after WriteTimeout; whatever it queued dies
	// with it.
	select {
	case err := <-deafEnd:
		t.Logf("deaf client cut %v after it stalled, having sent %d bytes: %v", time.Since(stalled).Round(time.Millisecond), deafSent.Load(), err)
	case <-time.After(writeTimeout + 30*time.Second):
		t.Fatal("the deaf client was never cut")
	}
	if n := waitGoroutines(g0 + 5); n > g0+5 {
		t.Errorf("%d goroutines before the hostile clients, %d after the deaf one was cut", g0, n)
	}

	// The slow and stalled requests, finished, are answered.
	if err := <-trickled; err != nil {
		t.Fatalf("slowloris: %v", err)
	}
	slow.send(t, "}")
	half.send(t, `od":"getinfo"}`)
	for _, w := range []*raw{slow, half} {
		if resp := w.recv(t); resp.Error != nil || len(resp.Result) == 0 {
			t.Errorf("%s: %+v", resp.ID, resp.Error)
		}
	}
}

// With IdleTimeout, a connection that sends nothing, or half a request and
// then nothing, is closed once idle that long; one that trickles bytes
// faster is not, nor one whose request runs longer than the timeout, and
// its idle clock starts again when the answer leaves.
func TestIdleTimeout(t *testing.T) {
	const idle = 1500 * time.Millisecond
	r := sub300Rig(t)
	dest := r.payable(t, 1, 10_000, 0)[0]
	held := r.invoice(t, dest, 10_000, nil)
	if err := r.n.Hold(mustNode(t, dest)); err != nil {
		t.Fatal(err)
	}
	defer r.n.Release(mustNode(t, dest))
	r.ok(t, "sendpay", []any{r.route(t, dest, 10_000), held.PaymentHash, nil, nil, held.Bolt11}, nil)
	_, sock := r.serve(t, func(o *Options) { o.IdleTimeout = idle })

	start := time.Now()
	silent, half := dialRaw(t, sock), dialRaw(t, sock)
	half.send(t, `{"id":1,"meth`)
	trickle := dialRaw(t, sock)
	trickled := make(chan error, 1)
	go func() {
		req := `{"id":"trickle","method":"getinfo"}`
		for i := range len(req) {
			if _, err := trickle.c.Write([]byte{req[i]}); err != nil {
				trickled <- err
				return
			}
			time.Sleep(idle / 30)
		}
		trickled <- nil
	}()
	busy := dialClient(t, sock)
	waited := make(chan error, 1)
	go func() { waited <- busy.Call(context.Background(), "waitsendpay", []any{held.PaymentHash, 2}, nil) }()

	for _, w := range []*raw{silent, half} {
		if !w.closed(t) {
			t.Fatal("an idle connection is still open")
		}
	}
	if took := time.Since(start); took < idle {
		t.Errorf("idle connections closed after %v, before the timeout", took)
	}
	var re *Error
	if err := <-waited; !errors.As(err, &re) || re.Code != 200 {
		t.Fatalf("waitsendpay running past the idle timeout: %v", err)
	}
	// Nothing arrived on it for 2 s, but the answer just left.
	getinfoOn(t, busy)
	if err := <-trickled; err != nil {
		t.Fatalf("trickle: %v", err)
	}
	if resp := trickle.recv(t); resp.Error != nil || string(resp.ID) != `"trickle"` {
		t.Errorf("trickled request: %s %+v", resp.ID, resp.Error)
	}
}

// A request far over MaxRequestBytes (10 MiB with no closing brace) is cut
// at the cap while it arrives: the connection is closed long before the
// client has sent it all, the server never holds it whole, and the other
// clients' connections are unaffected.
func TestOversizedRequest(t *testing.T) {
	const total = 10 << 20
	r := sub300Rig(t)
	other := dialClient(t, r.sock)
	c := r.raw(t)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c.send(t, `{"id":1,"method":"getinfo","params":["`)
	sent, start := 0, time.Now()
	var werr error
	for sent < total && werr == nil {
		var n int
		n, werr = c.c.Write(chunk)
		sent += n
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("connection closed after %d of %d bytes sent (%v, %v); %d bytes allocated meanwhile", sent, total,
		time.Since(start).Round(time.Millisecond), werr, alloc)
	if werr == nil {
		t.Fatalf("the server took all %d bytes", total)
	}
	if resp := c.recv(t); resp.Error == nil || !strings.HasPrefix(resp.Error.Message, "Request too large") {
		t.Errorf("answer: %+v", resp.Error)
	}
	// A buffer growing to the cap by append allocates about five times the
	// cap; taking all of the request would allocate more than it.
	if alloc > total {
		t.Errorf("%d bytes allocated while a %d-byte request was refused", alloc, total)
	}
	getinfoOn(t, other)
	r.ok(t, "getinfo", nil, nil)
}

// newDecoder reads responses from c, as raw does.
func newDecoder(c net.Conn) *json.Decoder { return json.NewDecoder(bufio.NewReader(c)) }
