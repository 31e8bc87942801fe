package wirelink

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/simnet"
)

// proxy sits between a client and a server and breaks the connection on
// cue: it can refuse connections, cut the current ones, swallow an add, or
// let an add through and lose the answer.
type proxy struct {
	ln     net.Listener
	server string
	taken  func(id uint64) bool // whether the backend has taken id

	mu     sync.Mutex
	conns  []net.Conn
	refuse bool
	// mode applies to the add of id armed, once.
	mode  int
	armed uint64
	wg    sync.WaitGroup
}

const (
	modeNone      = iota
	modeDropAdd   // swallow the add, then cut
	modeLoseReply // pass the add, drop what comes back, cut once it is taken
)

func newProxy(t *testing.T, target string, taken func(uint64) bool) *proxy {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "p"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, server: target, taken: taken}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) setRefuse(v bool) {
	p.mu.Lock()
	p.refuse = v
	p.mu.Unlock()
}

func (p *proxy) arm(mode int, id uint64) {
	p.mu.Lock()
	p.mode, p.armed = mode, id
	p.mu.Unlock()
}

// cut closes every proxied connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		s, err := net.Dial("unix", p.server)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		var lose atomic.Bool
		p.wg.Add(2)
		go p.pump(c, s, &lose, true)
		go p.pump(s, c, &lose, false)
	}
}

// pump copies frames from src to dst; up is the client-to-server side.
func (p *proxy) pump(src, dst net.Conn, lose *atomic.Bool, up bool) {
	defer p.wg.Done()
	defer src.Close()
	defer dst.Close()
	var hdr [2]byte
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(src, body); err != nil {
			return
		}
		if !up && lose.Load() {
			continue
		}
		mode := modeNone
		var id uint64
		if up && len(body) >= 2+40 && lnwire.MessageType(binary.BigEndian.Uint16(body)) == lnwire.MsgUpdateAddHTLC {
			id = binary.BigEndian.Uint64(body[2+32:])
			p.mu.Lock()
			if p.mode != modeNone && p.armed == id {
				mode, p.mode = p.mode, modeNone
			}
			p.mu.Unlock()
		}
		switch mode {
		case modeDropAdd:
			p.cut()
			return
		case modeLoseReply:
			lose.Store(true)
		}
		if _, err := dst.Write(append(hdr[:], body...)); err != nil {
			return
		}
		if mode == modeLoseReply {
			for deadline := time.Now().Add(5 * time.Second); !p.taken(id) && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(10 * time.Millisecond) // let the server answer into the void
			p.cut()
			return
		}
	}
}

// Reconnecting keeps every outcome: HTLCs held in simnet while the
// connection dies, some resolving before, some while the client is away,
// some after it is back, and new adds waiting for the connection, each end
// with exactly one done call carrying the right preimage, each reached the
// backend once, and each destination settled once.
func TestReconnect(t *testing.T) {
	for _, tc := range []struct {
		name string
		// kill breaks the connection so that the client cannot get a
		// new one until revive.
		kill, revive func(t *testing.T, r *rig, p *proxy)
		viaProxy     bool
	}{
		{"server drops the connection",
			func(t *testing.T, r *rig, p *proxy) { p.setRefuse(true); r.srv.dropClient() },
			func(t *testing.T, r *rig, p *proxy) { p.setRefuse(false) }, true},
		{"connection cut",
			func(t *testing.T, r *rig, p *proxy) { p.setRefuse(true); p.cut() },
			func(t *testing.T, r *rig, p *proxy) { p.setRefuse(false) }, true},
		{"server restarted",
			func(t *testing.T, r *rig, p *proxy) { r.srv.stop() },
			func(t *testing.T, r *rig, p *proxy) { r.srv = startServer(t, r.path, r.rec, ServerOptions{}) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const seed = 11
			r := newRig(t, simnet.Options{Seed: seed})
			// Over one server, outcomes must come from its memory.
			r.rec.forgetful.Store(tc.viaProxy)
			p := newProxy(t, r.path, func(id uint64) bool { return r.rec.added(id) > 0 })
			addr := r.path
			if tc.viaProxy {
				addr = p.addr()
			}
			ps := payments(t, r.n, 30, seed, 40_000, true)
			before, during := ps[:8], ps[8:16]
			early, late := ps[:24], ps[24:]
			hops := held(t, r.n, early)
			held(t, r.n, late)
			c := dial(t, addr, Options{Seed: seed, ConnectWait: 10 * time.Second})
			out := newOutcomes()
			for _, p := range early {
				if err := c.AddHTLC(context.Background(), p.req, out.done); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, "the htlcs to be held", func() bool { return r.n.InFlight() == hops })
			for _, p := range before {
				r.n.Release(p.dest)
			}
			out.wait(t, ids(before))

			tc.kill(t, r, p)
			eventually(t, "the client to notice", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.cur == nil })
			for _, p := range during {
				r.n.Release(p.dest)
			}
			eventually(t, "outcomes while away", func() bool {
				for _, p := range during {
					if _, ok := r.rec.result(p.req.ID); !ok {
						return false
					}
				}
				return true
			})
			errs := make(chan error, len(late))
			for _, p := range late {
				go func() { errs <- c.AddHTLC(context.Background(), p.req, out.done) }()
			}
			time.Sleep(30 * time.Millisecond) // the adds wait for a connection
			if got := r.rec.added(late[0].req.ID); got != 0 {
				t.Fatalf("an add went through while disconnected")
			}
			tc.revive(t, r, p)
			for range late {
				if err := <-errs; err != nil {
					t.Fatalf("add while disconnected: %v", err)
				}
			}
			for _, p := range ps[16:] {
				r.n.Release(p.dest)
			}
			out.wait(t, ids(ps))
			for _, p := range ps {
				id := p.req.ID
				settled(t, out.result(id), p.req.PaymentHash)
				if out.count(id) != 1 || r.rec.added(id) != 1 {
					t.Fatalf("htlc %d: %d done calls, added %d times", id, out.count(id), r.rec.added(id))
				}
				if d := r.n.Delivered(p.req.PaymentHash); d.Settlements != 1 {
					t.Fatalf("htlc %d: delivered %+v", id, d)
				}
			}
			st := c.Stats()
			if st.Connects != 2 || st.Requeried != 16 || st.Resent != 0 || st.Lost != 0 || st.Pending != 0 {
				t.Fatalf("client stats %+v, want 2 connects and 16 queries", st)
			}
		})
	}
}

// An add whose connection dies before its answer is reported taken, and
// its outcome still arrives exactly once: whether the server had taken it
// (the answer was lost) or never saw it (the add was lost, and goes out
// again once the server says so). A lost add that the backend refuses when
// it goes out again ends with that refusal as its outcome.
func TestAnswerLost(t *testing.T) {
	const seed = 12
	r := newRig(t, simnet.Options{Seed: seed})
	p := newProxy(t, r.path, func(id uint64) bool { return r.rec.added(id) > 0 })
	ps := payments(t, r.n, 3, seed, 40_000, true)
	refused := ps[2]
	ps = ps[:2]
	hops := held(t, r.n, ps)
	c := dial(t, p.addr(), Options{Seed: seed})
	out := newOutcomes()

	p.arm(modeLoseReply, ps[0].req.ID)
	if err := c.AddHTLC(context.Background(), ps[0].req, out.done); err != nil {
		t.Fatalf("add whose answer was lost: %v", err)
	}
	eventually(t, "a reconnect", func() bool { return c.Stats().Connects == 2 })

	p.arm(modeDropAdd, ps[1].req.ID)
	if err := c.AddHTLC(context.Background(), ps[1].req, out.done); err != nil {
		t.Fatalf("add lost on its way: %v", err)
	}
	eventually(t, "the lost add to be sent again", func() bool { return r.rec.added(ps[1].req.ID) == 1 })
	eventually(t, "the htlcs to be held", func() bool { return r.n.InFlight() == hops })
	for _, p := range ps {
		r.n.Release(p.dest)
	}
	out.wait(t, ids(ps))
	for _, p := range ps {
		id := p.req.ID
		settled(t, out.result(id), p.req.PaymentHash)
		if out.count(id) != 1 || r.rec.added(id) != 1 || r.n.Delivered(p.req.PaymentHash).Settlements != 1 {
			t.Fatalf("htlc %d: %d done calls, added %d times, delivered %+v", id, out.count(id), r.rec.added(id),
				r.n.Delivered(p.req.PaymentHash))
		}
	}
	if st := c.Stats(); st.Connects != 3 || st.Resent != 1 {
		t.Fatalf("client stats %+v, want 3 connects and 1 add sent again", st)
	}

	r.rec.refuse.Store(refused.req.ID)
	p.arm(modeDropAdd, refused.req.ID)
	if err := c.AddHTLC(context.Background(), refused.req, out.done); err != nil {
		t.Fatalf("add lost on its way: %v", err)
	}
	out.wait(t, []uint64{refused.req.ID})
	res := out.result(refused.req.ID)
	if !errors.Is(res.Local, link.ErrClosed) || out.count(refused.req.ID) != 1 || r.rec.added(refused.req.ID) != 0 {
		t.Fatalf("refused when sent again: %+v, %d done calls, added %d times", res, out.count(refused.req.ID),
			r.rec.added(refused.req.ID))
	}
	if st := c.Stats(); st.Connects != 4 || st.Resent != 2 || st.Pending != 0 {
		t.Fatalf("client stats %+v, want 4 connects and 2 adds sent again", st)
	}
}

// A taken HTLC that the server no longer knows after a restart (its
// backend kept no history) stays pending: it is neither sent again nor
// reported failed, since either could make the payer pay twice.
func TestForgottenStaysPending(t *testing.T) {
	const seed = 16
	r := newRig(t, simnet.Options{Seed: seed})
	ps := payments(t, r.n, 1, seed, 40_000, true)
	hops := held(t, r.n, ps)
	c := dial(t, r.path, Options{Seed: seed})
	out := newOutcomes()
	if err := c.AddHTLC(context.Background(), ps[0].req, out.done); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the htlc to be held", func() bool { return r.n.InFlight() == hops })
	r.srv.stop()
	r.rec.forgetful.Store(true)
	r.srv = startServer(t, r.path, r.rec, ServerOptions{})
	eventually(t, "the client to find it forgotten", func() bool { return c.Stats().Lost == 1 })
	if st := c.Stats(); st.Pending != 1 || st.Resent != 0 || r.rec.added(ps[0].req.ID) != 1 || out.count(ps[0].req.ID) != 0 {
		t.Fatalf("stats %+v, added %d times, %d done calls", st, r.rec.added(ps[0].req.ID), out.count(ps[0].req.ID))
	}
	r.n.Release(ps[0].dest)
}
