package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Many requests pipelined on one connection in one write are run
// concurrently and answered as each finishes, out of order, every answer
// matched to its request by id.
func TestPipelinedOutOfOrder(t *testing.T) {
	r := sub300Rig(t)
	dests := r.payable(t, 40, 10_000, 0)
	// A pending payment to wait on: its destination holds the HTLC.
	held := r.invoice(t, dests[0], 10_000, nil)
	if err := r.n.Hold(mustNode(t, dests[0])); err != nil {
		t.Fatal(err)
	}
	defer r.n.Release(mustNode(t, dests[0]))
	r.ok(t, "sendpay", []any{r.route(t, dests[0], 10_000), held.PaymentHash, nil, nil, held.Bolt11}, nil)

	var b strings.Builder
	want := map[string]string{} // id -> payment hash its answer must carry ("" for getinfo)
	fmt.Fprintf(&b, `{"id":"slow","method":"waitsendpay","params":[%q,1]}`, held.PaymentHash)
	for i, d := range dests[1:] {
		inv := r.invoice(t, d, 10_000, nil)
		id := fmt.Sprintf("pay%d", i)
		fmt.Fprintf(&b, `{"id":%q,"method":"pay","params":[%q]}`, id, inv.Bolt11)
		want[id] = inv.PaymentHash
		id = fmt.Sprintf("dec%d", i)
		fmt.Fprintf(&b, ` {"id":%q,"method":"decodepay","params":{"bolt11":%q}}`, id, inv.Bolt11)
		want[id] = inv.PaymentHash
		fmt.Fprintf(&b, "\n"+`{"id":%d,"method":"getinfo"}`, i)
		want[fmt.Sprint(i)] = ""
	}
	c := r.raw(t)
	c.send(t, b.String())
	var order []string
	for range len(want) + 1 {
		resp := c.recv(t)
		var id any
		json.Unmarshal(resp.ID, &id)
		key := fmt.Sprint(id)
		order = append(order, key)
		if key == "slow" {
			if resp.Error == nil || resp.Error.Code != 200 {
				t.Errorf("slow: %+v", resp.Error)
			}
			continue
		}
		hash, ok := want[key]
		if !ok {
			t.Fatalf("answer for unknown or repeated id %s", resp.ID)
		}
		delete(want, key)
		if resp.Error != nil {
			t.Errorf("%s: %+v", key, resp.Error)
			continue
		}
		var res struct {
			PaymentHash string `json:"payment_hash"`
			ID          string `json:"id"`
		}
		json.Unmarshal(resp.Result, &res)
		if res.PaymentHash != hash || (hash == "" && res.ID != r.n.Self().String()) {
			t.Errorf("%s answered with %s", key, resp.Result)
		}
	}
	// The first request (waiting 1 s) was not the first answered.
	if order[0] == "slow" {
		t.Fatalf("answers not out of order: %v", order)
	}
}

// One Client from 64 goroutines: every call gets its own answer.
func TestClientConcurrent(t *testing.T) {
	r := sub300Rig(t)
	dests := r.payable(t, 64, 5_000, 0)
	var bolts []invoiceJSON
	for _, d := range dests {
		bolts = append(bolts, r.invoice(t, d, 5_000, nil))
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func(inv invoiceJSON) {
			defer wg.Done()
			var d struct {
				PaymentHash string `json:"payment_hash"`
			}
			var p payResult
			if err := r.c.Call(context.Background(), "decodepay", []any{inv.Bolt11}, &d); err != nil || d.PaymentHash != inv.PaymentHash {
				t.Errorf("decodepay: %+v %v", d, err)
			}
			err := r.c.Call(context.Background(), "pay", []any{inv.Bolt11}, &p)
			var re *Error
			if err != nil && !errors.As(err, &re) {
				t.Errorf("pay: %v", err)
			}
			if err == nil && p.PaymentHash != inv.PaymentHash {
				t.Errorf("pay of %s answered for %s", inv.PaymentHash, p.PaymentHash)
			}
		}(bolts[i%len(bolts)])
	}
	wg.Wait()
}

// The client: a cancelled call returns its context's error and the
// connection goes on; a closed client refuses calls; calls in flight when
// the server goes away fail instead of hanging.
func TestClient(t *testing.T) {
	r := sub300Rig(t)
	dest := r.payable(t, 1, 10_000, 0)[0]
	held := r.invoice(t, dest, 10_000, nil)
	r.n.Hold(mustNode(t, dest))
	defer r.n.Release(mustNode(t, dest))
	r.ok(t, "sendpay", []any{r.route(t, dest, 10_000), held.PaymentHash, nil, nil, held.Bolt11}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.c.Call(ctx, "waitsendpay", []any{held.PaymentHash}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled call: %v", err)
	}
	r.ok(t, "getinfo", nil, nil)
	if err := r.c.Call(context.Background(), "getinfo", func() {}, nil); err == nil {
		t.Fatal("params that cannot be encoded were sent")
	}

	c2, err := Dial(r.sock)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if err := c2.Call(context.Background(), "getinfo", nil, nil); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("call after close: %v", err)
	}
	if _, err := Dial(filepath.Join(r.dir, "nosuch")); err == nil {
		t.Fatal("dialled a missing socket")
	}

	// A request too large ends the connection: the call gets the server's
	// error, and so do later calls on that client.
	c3, _ := Dial(r.sock)
	defer c3.Close()
	var re *Error
	err = c3.Call(context.Background(), "decodepay", []any{strings.Repeat("x", DefaultMaxRequestBytes)}, nil)
	if !errors.As(err, &re) || re.Code != CodeInvalidRequest || !strings.HasPrefix(re.Message, "Request too large") {
		t.Fatalf("huge call: %v", err)
	}
	if err := c3.Call(context.Background(), "getinfo", nil, nil); err == nil {
		t.Fatal("a call on a closed connection succeeded")
	}
}

// Shutdown: new connections are refused, a request in flight is answered
// before its connection closes, and Serve returns ErrServerClosed; with a
// request that will not end in time, Shutdown returns when its context
// does, the request is cancelled and its caller gets an error.
func TestShutdown(t *testing.T) {
	r := sub300Rig(t)
	dest := r.payable(t, 1, 10_000, 0)[0]
	held := r.invoice(t, dest, 10_000, nil)
	r.n.Hold(mustNode(t, dest))
	defer r.n.Release(mustNode(t, dest))
	r.ok(t, "sendpay", []any{r.route(t, dest, 10_000), held.PaymentHash, nil, nil, held.Bolt11}, nil)

	// In flight: a waitsendpay that times out after 1 s (graceful), and
	// one without timeout (cut short).
	graceful := make(chan error, 1)
	go func() { graceful <- r.c.Call(context.Background(), "waitsendpay", []any{held.PaymentHash, 1}, nil) }()
	c2, err := Dial(r.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	forever := make(chan error, 1)
	go func() { forever <- c2.Call(context.Background(), "waitsendpay", []any{held.PaymentHash}, nil) }()
	time.Sleep(100 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err = r.s.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("shutdown: %v after %v", err, time.Since(start))
	}
	var re *Error
	if err := <-graceful; !errors.As(err, &re) || re.Code != 200 {
		t.Fatalf("the request in flight was not answered: %v", err)
	}
	if err := <-forever; err == nil {
		t.Fatal("the cut request succeeded")
	}
	if err := <-r.done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("serve: %v", err)
	}
	r.done <- ErrServerClosed // for the rig's cleanup
	if c, err := net.Dial("unix", r.sock); err == nil {
		c.Close()
		t.Fatal("a connection was accepted after shutdown")
	}
	if err := r.s.Serve(mustListen(t, shortDir(t))); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("serve after shutdown: %v", err)
	}
}

func mustListen(t *testing.T, dir string) net.Listener {
	t.Helper()
	l, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Listen makes the socket 0600, replaces a stale one, and refuses to take
// over a live one or a file that is not a socket.
func TestListen(t *testing.T) {
	dir := shortDir(t)
	l := mustListen(t, dir)
	path := filepath.Join(dir, SocketName)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v %v", st.Mode(), err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := Listen(dir); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Fatalf("over a live socket: %v", err)
	}
	// A daemon that died leaves its socket file behind.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal("the stale socket is gone already")
	}
	l2 := mustListen(t, dir)
	l2.Close()
	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := Listen(dir); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("over a file: %v", err)
	}
}
