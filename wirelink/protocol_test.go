package wirelink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/simnet"
)

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakeServer serves a unix socket with handle, one goroutine per
// connection.
func fakeServer(t *testing.T, handle func(nc net.Conn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				handle(nc)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return path
}

// write sends msgs on nc as frames.
func write(t *testing.T, nc net.Conn, msgs ...lnwire.Message) {
	var b bytes.Buffer
	for _, m := range msgs {
		if err := appendFrame(&b, m); err != nil {
			t.Error(err)
			return
		}
	}
	nc.Write(b.Bytes())
}

// A malformed frame makes the server close that connection and log an
// error; the server goes on serving the next one.
func TestServerClosesOnMalformed(t *testing.T) {
	r := newRig(t, simnet.Options{Seed: 13})
	r.srv.stop()
	var logs logBuffer
	r.srv = startServer(t, r.path, r.rec, ServerOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for i, garbage := range [][]byte{frame(0, 7), frame(1), frame(0xa0, 0x02, 1)} {
		nc, err := net.Dial("unix", r.path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := handshake(nc, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		nc.Write(garbage)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("#%d: after garbage the server sent %d bytes (%v), want it to close", i, n, err)
		}
		nc.Close()
		eventually(t, "the error to be logged", func() bool {
			return strings.Count(logs.String(), "bad frame from the client") == i+1
		})
	}
	ps := payments(t, r.n, 1, 13, 20_000, true)
	settled(t, send(t, dial(t, r.path, Options{}), ps[0].req), ps[0].req.PaymentHash)
}

// A malformed frame from the server makes the client close the
// connection, log an error and reconnect.
func TestClientClosesOnMalformed(t *testing.T) {
	var logs logBuffer
	var mu sync.Mutex
	conns := 0
	addr := fakeServer(t, func(nc net.Conn) {
		if _, err := handshake(nc, time.Now().Add(5*time.Second)); err != nil {
			return
		}
		mu.Lock()
		conns++
		first := conns == 1
		mu.Unlock()
		if first {
			nc.Write(frame(0xa0, 0x0a, 1, 2)) // a status of 2 bytes
		}
		io.Copy(io.Discard, nc)
	})
	c := dial(t, addr, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	eventually(t, "a reconnect", func() bool { return c.Stats().Connects == 2 })
	if !strings.Contains(logs.String(), "bad frame from the server") {
		t.Fatalf("nothing logged: %q", logs.String())
	}
}

// Peers that speak another version are refused, both ways.
func TestVersionMismatch(t *testing.T) {
	addr := fakeServer(t, func(nc net.Conn) {
		write(t, nc, &hello{version: Version + 1})
		io.Copy(io.Discard, nc)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Dial(ctx, "unix", addr, Options{Logger: quiet}); !errors.Is(err, ErrVersion) {
		t.Fatalf("dial a server of another version: %v", err)
	}

	r := newRig(t, simnet.Options{Seed: 14})
	nc, err := net.Dial("unix", r.path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	write(t, nc, &hello{version: Version + 1})
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr := newFrameReader(nc)
	if m, err := fr.read(); err != nil || m.(*hello).version != Version {
		t.Fatalf("server hello: %v %v", m, err)
	}
	if _, err := fr.read(); err != io.EOF {
		t.Fatalf("after a wrong version the server went on: %v", err)
	}
	if st := r.srv.s.Stats(); st.Conns != 0 {
		t.Fatalf("the server took the connection: %+v", st)
	}
}

// A server that never answers an add: after AnswerWait the client takes
// the connection for dead, reports the add taken (it may be), reconnects
// and asks about it.
func TestAnswerWait(t *testing.T) {
	queried := make(chan uint64, 1)
	var mu sync.Mutex
	conns := 0
	addr := fakeServer(t, func(nc net.Conn) {
		fr, err := handshake(nc, time.Now().Add(5*time.Second))
		if err != nil {
			return
		}
		mu.Lock()
		conns++
		n := conns
		mu.Unlock()
		for {
			m, err := fr.read()
			if err != nil {
				return
			}
			if q, ok := m.(*idMsg); ok && q.kind == msgQuery && n == 2 {
				queried <- q.id
			}
		}
	})
	c := dial(t, addr, Options{AnswerWait: 100 * time.Millisecond})
	start := time.Now()
	ps := sampleMessages()
	req, _ := addReq(ps[0].(*lnwire.UpdateAddHTLC))
	if err := c.AddHTLC(context.Background(), req, func(link.Result) {}); err != nil {
		t.Fatalf("unanswered add: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Fatalf("add returned after %v, want about AnswerWait", d)
	}
	select {
	case id := <-queried:
		if id != req.ID {
			t.Fatalf("asked about %d, want %d", id, req.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not ask about the add after reconnecting")
	}
}

// The reconnect backoff doubles from MinBackoff to MaxBackoff, each wait
// drawn from the upper half, the same for the same seed.
func TestBackoff(t *testing.T) {
	lo, hi := 10*time.Millisecond, 300*time.Millisecond
	a, b := rand.New(rand.NewPCG(5, 1)), rand.New(rand.NewPCG(5, 1))
	differ := false
	for n := range 12 {
		ceil := min(lo<<n, hi)
		da, db := backoff(a, n, lo, hi), backoff(b, n, lo, hi)
		if da != db {
			t.Fatalf("attempt %d: %v and %v from the same seed", n, da, db)
		}
		if da < ceil/2 || da > ceil {
			t.Fatalf("attempt %d: %v outside [%v, %v]", n, da, ceil/2, ceil)
		}
		if backoff(rand.New(rand.NewPCG(6, 1)), n, lo, hi) != da {
			differ = true
		}
	}
	if !differ {
		t.Fatal("another seed draws the same waits")
	}
}

// Options.validate lists every problem.
func TestOptionsValidate(t *testing.T) {
	err := Options{DialTimeout: -1, MinBackoff: time.Second, MaxBackoff: time.Millisecond}.withDefaults().validate()
	if err == nil || !strings.Contains(err.Error(), "DialTimeout") || !strings.Contains(err.Error(), "MinBackoff") {
		t.Fatalf("validate: %v", err)
	}
	if err := (Options{}).withDefaults().validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := (ServerOptions{HelloTimeout: -1}).withDefaults().validate(); err == nil {
		t.Fatal("negative HelloTimeout accepted")
	}
	if _, err := Dial(context.Background(), "unix", "/nonexistent", Options{WriteTimeout: -1}); err == nil {
		t.Fatal("Dial with bad options")
	}
}
