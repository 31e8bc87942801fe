//go:build linux

package rpc

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/simnet"
)

// lockedBuffer is a log the server writes and the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Out of file descriptors, Serve waits for some to free and goes on: a
// client that opens connections up to the process's limit must not take
// the socket down for everyone. (Serve used to return "accept4: too many
// open files", and payd exited.) The test lowers the process's own limit
// for a moment; the connections that found no descriptor wait in the
// backlog and are served once the limit is back.
func TestAcceptOutOfDescriptors(t *testing.T) {
	log := &lockedBuffer{}
	r := newRig(t, graphdata.Sub300, simnet.Options{Seed: 5}, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(log, nil))
	})
	outOfFDs := func(wait time.Duration) bool {
		for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
			if strings.Contains(log.String(), "too many open files") {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
		}
	}
	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	// Descriptors to free one at a time once the dialler has none left.
	spares := make([]*os.File, 4)
	for i := range spares {
		if spares[i], err = os.Open(os.DevNull); err != nil {
			t.Fatal(err)
		}
		defer spares[i].Close()
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(len(open) + len(spares) + 32)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	restore := sync.OnceFunc(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Error(err)
		}
	})
	defer restore()

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for {
		c, err := net.Dial("unix", r.sock)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("dial: %v", err)
			}
			break
		}
		conns = append(conns, c)
		if len(conns) > 1000 {
			t.Fatal("the descriptor limit does not hold")
		}
	}
	// If the server took the last descriptor, a freed one lets one more
	// client connect, and leaves none for the server to accept it with.
	for _, f := range spares {
		if outOfFDs(200 * time.Millisecond) {
			break
		}
		f.Close()
		if c, err := net.Dial("unix", r.sock); err == nil {
			conns = append(conns, c)
		}
	}
	if !outOfFDs(10 * time.Second) {
		t.Fatalf("the server never ran out of descriptors; its log:\n%s", log)
	}
	restore()

	// Every connection is served, those that waited in the backlog too.
	for i, c := range conns {
		w := &raw{c: c, dec: newDecoder(c)}
		w.send(t, fmt.Sprintf(`{"id":%d,"method":"getinfo"}`, i))
		if resp := w.recv(t); resp.Error != nil || string(resp.ID) != fmt.Sprint(i) {
			t.Fatalf("connection %d of %d: %s %+v", i, len(conns), resp.ID, resp.Error)
		}
	}
	select {
	case err := <-r.done:
		r.done <- err
		t.Fatalf("Serve returned %v", err)
	default:
	}
	r.ok(t, "getinfo", nil, nil)
	t.Logf("%d connections at a limit of %d descriptors, all served once it was lifted", len(conns), low.Cur)
}
