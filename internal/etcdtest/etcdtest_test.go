package etcdtest

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// put writes k=v with a deadline, failing the test on error.
func put(t *testing.T, url, k, v string) {
	t.Helper()
	c := Client(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, k, v); err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
}

// get reads k with a deadline, failing the test on error or absence.
func get(t *testing.T, url, k string) string {
	t.Helper()
	c := Client(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.Get(ctx, k)
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	if len(r.Kvs) != 1 {
		t.Fatalf("get %s: %d keys, want 1", k, len(r.Kvs))
	}
	return string(r.Kvs[0].Value)
}

// An etcd stopped and started again on the same directory and addresses
// serves the keys written before, at the same URL.
func TestStartStopRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s.ClientURL, "/k", "v1")
	s.Stop()
	s.Stop() // a second Stop does nothing

	c := Client(t, s.ClientURL)
	if err := Ping(c, 300*time.Millisecond); err == nil {
		t.Fatal("a stopped etcd answered")
	}

	s2, err := Start(Options{Dir: dir, ClientAddr: s.ClientAddr, PeerAddr: s.PeerAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop()
	if s2.ClientURL != s.ClientURL {
		t.Fatalf("restarted at %s, want %s", s2.ClientURL, s.ClientURL)
	}
	if v := get(t, s2.ClientURL, "/k"); v != "v1" {
		t.Fatalf("after restart /k = %q, want v1", v)
	}
	// The client made before the stop reconnects by itself.
	if err := Ping(c, 5*time.Second); err != nil {
		t.Fatalf("old client after restart: %v", err)
	}
}

// etcd as its own process: SIGKILLed, its clients fail at their deadline;
// started again in place, it has every key it acknowledged.
func TestProcessKillRestart(t *testing.T) {
	bin, err := Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartProcess(bin, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	put(t, p.ClientURL, "/k", "v1")

	p.Kill()
	c := Client(t, p.ClientURL)
	began := time.Now()
	if err := Ping(c, 500*time.Millisecond); err == nil {
		t.Fatal("a killed etcd answered")
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("a call to a killed etcd took %v, want its 500ms deadline", d)
	}

	p2, err := StartProcess(bin, p.Opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p2.Stop() })
	if p2.ClientURL != p.ClientURL {
		t.Fatalf("restarted at %s, want %s", p2.ClientURL, p.ClientURL)
	}
	if v := get(t, p2.ClientURL, "/k"); v != "v1" {
		t.Fatalf("after SIGKILL and restart /k = %q, want v1", v)
	}
	if err := p2.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p2.Done():
	default:
		t.Fatal("Stop returned before the process exited")
	}
}

// Start without a directory is refused with a clear error.
func TestStartNeedsDir(t *testing.T) {
	if _, err := Start(Options{}); err == nil {
		t.Fatal("Start without Dir succeeded")
	}
}

// A client port the caller named and someone else holds is refused with
// the bind error, not replaced by another port (the caller's clients would
// not find it).
func TestStartPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Start(Options{Dir: t.TempDir(), ClientAddr: l.Addr().String()})
	if !errors.Is(err, ErrStart) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Start on a taken client port: %v, want ErrStart wrapping EADDRINUSE", err)
	}
}
