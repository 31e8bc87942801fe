package wirelink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/link"
)

// Client is a link.Link whose HTLCs go to a Server over a stream socket.
// It keeps one connection, redials with seeded exponential backoff when it
// drops, and then asks the server about every HTLC it still waits for, so
// no outcome is lost across a reconnect. Its methods are safe for
// concurrent use; done callbacks run one at a time on a goroutine of the
// client, in the order the outcomes arrived, and must not call Close.
type Client struct {
	network, addr string
	opts          Options
	log           *slog.Logger

	ctx    context.Context // ends at Close: stops run, watch and dialing
	cancel context.CancelFunc
	wg     sync.WaitGroup // run, watch and the readers

	mu        sync.Mutex
	cur       *conn         // nil while disconnected
	ready     chan struct{} // closed when cur is set; replaced when it is lost
	downSince time.Time     // when cur was lost
	pending   map[uint64]*pend
	closed    bool
	stats     ClientStats

	// The dispatcher runs done callbacks off the reader, so that a done
	// may call AddHTLC (which waits for the reader) without deadlock.
	dmu   sync.Mutex
	dq    []delivery
	dwake chan struct{}
	dstop chan struct{}
	dwg   sync.WaitGroup
}

// ClientStats counts what a Client did: a snapshot, from Client.Stats.
type ClientStats struct {
	// Connects counts connections made, the first one included.
	Connects int
	// Pending is how many HTLCs (and reattach queries) await an outcome.
	Pending int
	// Requeried counts queries sent after reconnecting.
	Requeried int
	// Resent counts adds sent again because the server, asked after a
	// reconnect, had never received them.
	Resent int
	// Lost counts HTLCs the server took and later did not know (its
	// backend forgot them): they stay pending, since reporting a failure
	// could make the payer pay twice.
	Lost int
}

// pstate is where an HTLC or query stands with the server.
type pstate uint8

const (
	// stateWaiting: not sent yet; its caller waits for a connection.
	stateWaiting pstate = iota
	// stateAsked: the add or query went out on pend.conn; no answer yet.
	stateAsked
	// stateTaken: the server has the HTLC (or, if ambiguous, may have
	// it); its outcome has not come.
	stateTaken
)

// pend is an id the client waits about.
type pend struct {
	id uint64
	// isAdd: an HTLC this client added, not an id it reattached to.
	isAdd bool
	// add is the HTLC, kept until the server has it so that an add lost
	// with its connection can go out again.
	add   *link.AddHTLC
	dones []func(link.Result)
	state pstate
	conn  *conn // where it was last asked
	asked time.Time
	// ambiguous: the add went out and its connection died before the
	// answer; AddHTLC reported it taken, the next connection asks.
	ambiguous bool
	// settled is closed when the caller of AddHTLC or Reattach may
	// return, with err (nil: taken).
	settled   chan struct{}
	isSettled bool
	err       error
}

// taken records that the server has p: the onion is no longer needed.
func (p *pend) taken() {
	p.state, p.ambiguous, p.add = stateTaken, false, nil
	p.settle(nil)
}

func (p *pend) settle(err error) {
	if p.isSettled {
		return
	}
	p.isSettled, p.err = true, err
	close(p.settled)
}

// delivery is an outcome on its way to its callbacks.
type delivery struct {
	dones []func(link.Result)
	res   link.Result
	// forget: the server holds this outcome until told it was delivered.
	forget bool
}

// Dial connects to a Server at addr (net.Dial's network and address) and
// returns a Client, or an error if the first connection (and its hello)
// fails within ctx and Options.DialTimeout. Later drops are repaired in
// the background until Close.
func Dial(ctx context.Context, network, addr string, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Client{network: network, addr: addr, opts: opts, log: opts.Logger, ready: make(chan struct{}),
		pending: make(map[uint64]*pend), dwake: make(chan struct{}, 1), dstop: make(chan struct{})}
	cn, fr, err := c.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("wirelink: dial %s %s: %w", network, addr, err)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.dwg.Add(1)
	go c.dispatch()
	c.install(cn, fr)
	c.wg.Add(2)
	go c.run(cn)
	go c.watch()
	return c, nil
}

// AddHTLC implements link.Link. While disconnected it waits for the next
// connection, at most until ctx ends or Options.ConnectWait has passed
// since the drop, and then fails without the HTLC having left. Once the
// add is written it waits for the server's answer whatever ctx does: it
// returns the backend's error if the backend refused the HTLC, and nil if
// the backend took it or if the connection died before the answer (the
// server may have it; the next connection finds out and the outcome
// arrives through done all the same). Such an add that never reached the
// server goes out again; if the backend then refuses it, done gets a
// Result whose Local is that refusal: the HTLC never left.
func (c *Client) AddHTLC(ctx context.Context, req link.AddHTLC, done func(link.Result)) error {
	if done == nil {
		return fmt.Errorf("wirelink: add htlc %d: %w", req.ID, ErrNilCallback)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wirelink: add htlc %d: %w", req.ID, err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("wirelink: add htlc %d: %w", req.ID, link.ErrClosed)
	}
	if _, dup := c.pending[req.ID]; dup {
		c.mu.Unlock()
		return fmt.Errorf("wirelink: add htlc %d: %w", req.ID, link.ErrDuplicateID)
	}
	p := &pend{id: req.ID, isAdd: true, add: &req, dones: []func(link.Result){done}, settled: make(chan struct{})}
	c.pending[req.ID] = p
	if err := c.askLocked(ctx, p, addMsg(&req)); err != nil {
		c.dropLocked(p, err)
		c.mu.Unlock()
		return fmt.Errorf("wirelink: add htlc %d: %w", req.ID, err)
	}
	c.mu.Unlock()
	<-p.settled
	if p.err != nil {
		return fmt.Errorf("wirelink: add htlc %d: %w", req.ID, p.err)
	}
	return nil
}

// Reattach implements link.Link by asking the server, which answers from
// the outcomes it keeps or asks its backend. It waits for the answer at
// most until ctx ends, or Options.ConnectWait after a drop, and returns an
// error wrapping link.ErrUnknownHTLC if the server has no record of id
// (req.ID; the rest of req is not read: the server knows the HTLC by it). An
// id this client already waits for gets done added to its callbacks.
func (c *Client) Reattach(ctx context.Context, req link.AddHTLC, done func(link.Result)) error {
	id := req.ID
	if done == nil {
		return fmt.Errorf("wirelink: reattach htlc %d: %w", id, ErrNilCallback)
	}
	c.mu.Lock()
	for {
		if c.closed {
			c.mu.Unlock()
			return fmt.Errorf("wirelink: reattach htlc %d: %w", id, link.ErrClosed)
		}
		p, ok := c.pending[id]
		if !ok {
			break
		}
		if p.isSettled {
			p.dones = append(p.dones, done)
			c.mu.Unlock()
			return nil
		}
		// An add or a query of id awaits its answer: wait for it and
		// look again.
		settled := p.settled
		c.mu.Unlock()
		select {
		case <-settled:
		case <-ctx.Done():
			return fmt.Errorf("wirelink: reattach htlc %d: %w", id, ctx.Err())
		case <-c.ctx.Done():
			return fmt.Errorf("wirelink: reattach htlc %d: %w", id, link.ErrClosed)
		}
		c.mu.Lock()
	}
	p := &pend{id: id, dones: []func(link.Result){done}, settled: make(chan struct{})}
	c.pending[id] = p
	if err := c.askLocked(ctx, p, &idMsg{kind: msgQuery, id: id}); err != nil {
		c.dropLocked(p, err)
		c.mu.Unlock()
		return fmt.Errorf("wirelink: reattach htlc %d: %w", id, err)
	}
	c.mu.Unlock()
	select {
	case <-p.settled:
	case <-ctx.Done():
		c.mu.Lock()
		if !p.isSettled {
			// The query is harmless to drop: an answer that comes
			// later finds no one waiting, and the server keeps the
			// outcome.
			c.dropLocked(p, ctx.Err())
		}
		c.mu.Unlock()
	}
	if p.err != nil {
		return fmt.Errorf("wirelink: reattach htlc %d: %w", id, p.err)
	}
	return nil
}

// Close stops the client: it closes the connection and waits for its
// goroutines. HTLCs still in flight are dropped without their done being
// called; the server keeps their outcomes, and Reattach (by this process
// after a restart) finds them. Outcomes already received are delivered
// before Close returns. Calls after the first do nothing.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cur := c.cur
	for id, p := range c.pending {
		switch {
		case p.state == stateWaiting:
			continue // its caller sees closed and returns ErrClosed
		case p.isAdd:
			p.settle(nil) // it went out: the server may have it
		default:
			p.settle(link.ErrClosed)
		}
		delete(c.pending, id)
	}
	c.mu.Unlock()
	c.cancel()
	if cur != nil {
		cur.close(fmt.Errorf("wirelink: client closed: %w", link.ErrClosed))
	}
	c.wg.Wait()
	close(c.dstop)
	c.dwg.Wait()
	return nil
}

// Stats returns what the client did so far.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Pending = len(c.pending)
	return s
}

// dropLocked forgets p, which never reached (or no longer needs) the
// server, and wakes whoever waits on it.
func (c *Client) dropLocked(p *pend, err error) {
	if c.pending[p.id] == p {
		delete(c.pending, p.id)
	}
	p.settle(err)
}

// askLocked sends msg about p on the current connection, waiting for one
// if there is none (see AddHTLC), and marks p asked. c.mu is held on entry
// and on return, released while waiting.
func (c *Client) askLocked(ctx context.Context, p *pend, msg lnwire.Message) error {
	for {
		if c.closed {
			return link.ErrClosed
		}
		if cn := c.cur; cn != nil {
			err := cn.send(msg)
			if err == nil {
				p.state, p.conn, p.asked = stateAsked, cn, time.Now()
				return nil
			}
			if !errors.Is(err, ErrConnClosed) {
				return err
			}
			c.lostLocked(cn)
		}
		down := time.Since(c.downSince)
		if down >= c.opts.ConnectWait {
			return fmt.Errorf("%w for %v", ErrNotConnected, down.Round(time.Millisecond))
		}
		ready := c.ready
		c.mu.Unlock()
		t := time.NewTimer(c.opts.ConnectWait - down)
		select {
		case <-ready:
		case <-t.C:
		case <-ctx.Done():
		case <-c.ctx.Done():
		}
		t.Stop()
		c.mu.Lock()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// connect dials and says hello.
func (c *Client) connect(ctx context.Context) (*conn, *frameReader, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return nil, nil, err
	}
	// Cancelling ctx interrupts the hello too.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	deadline, _ := ctx.Deadline()
	fr, err := handshake(nc, deadline)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return newConn(nc, c.opts.WriteTimeout), fr, nil
}

// install makes cn the current connection and asks on it about every id
// the client waits for; it reports false if the client closed meanwhile.
func (c *Client) install(cn *conn, fr *frameReader) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cn.close(link.ErrClosed)
		<-cn.writerDone
		return false
	}
	c.cur = cn
	c.stats.Connects++
	now := time.Now()
	for _, p := range c.pending {
		if p.state == stateWaiting {
			continue // its caller sends it on cn itself
		}
		p.conn, p.asked = cn, now
		if cn.send(&idMsg{kind: msgQuery, id: p.id}) != nil {
			break // cn died already: run sees it and reconnects
		}
		c.stats.Requeried++
	}
	close(c.ready)
	c.mu.Unlock()
	c.wg.Add(1)
	go c.read(cn, fr)
	return true
}

// lostLocked notes that cn is gone: adds that went out on it without an
// answer are reported taken (the server may have them) and asked about on
// the next connection. It may run more than once for a conn.
func (c *Client) lostLocked(cn *conn) {
	if c.cur == cn {
		c.cur = nil
		c.ready = make(chan struct{})
		c.downSince = time.Now()
	}
	for _, p := range c.pending {
		if p.conn == cn && p.state == stateAsked && p.isAdd {
			p.state, p.ambiguous = stateTaken, true
			p.settle(nil)
		}
	}
}

// run repairs the connection whenever it drops, until Close.
func (c *Client) run(cn *conn) {
	defer c.wg.Done()
	rng := rand.New(rand.NewPCG(c.opts.Seed, 0x77697265_6c696e6b))
	for {
		select {
		case <-cn.done:
		case <-c.ctx.Done():
			return
		}
		<-cn.readerDone // every frame it read is handled
		c.mu.Lock()
		c.lostLocked(cn)
		c.mu.Unlock()
		c.log.Warn("wirelink: connection lost", "addr", c.addr, "err", cn.closed())
		for attempt := 0; ; attempt++ {
			t := time.NewTimer(backoff(rng, attempt, c.opts.MinBackoff, c.opts.MaxBackoff))
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return
			}
			next, fr, err := c.connect(c.ctx)
			if err != nil {
				c.log.Warn("wirelink: reconnect failed", "addr", c.addr, "attempt", attempt+1, "err", err)
				continue
			}
			if !c.install(next, fr) {
				return
			}
			cn = next
			c.log.Info("wirelink: reconnected", "addr", c.addr, "attempts", attempt+1)
			break
		}
	}
}

// backoff is the wait before reconnect attempt n (from 0): drawn from the
// upper half of min doubled n times, capped at max.
func backoff(rng *rand.Rand, n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + time.Duration(rng.Int64N(int64(d/2)+1))
}

// watch closes a connection that leaves an add or query unanswered for
// Options.AnswerWait, and fails reattach queries that have waited
// Options.ConnectWait without a connection.
func (c *Client) watch() {
	defer c.wg.Done()
	t := time.NewTicker(max(min(c.opts.AnswerWait, c.opts.ConnectWait)/4, 5*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			c.check(now)
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Client) check(now time.Time) {
	c.mu.Lock()
	cur, stale := c.cur, (*pend)(nil)
	down := cur == nil && now.Sub(c.downSince) >= c.opts.ConnectWait
	for _, p := range c.pending {
		if p.state != stateAsked {
			continue
		}
		if cur != nil && p.conn == cur && now.Sub(p.asked) >= c.opts.AnswerWait {
			stale = p
		}
		if down && !p.isAdd {
			c.dropLocked(p, fmt.Errorf("%w for %v", ErrNotConnected, now.Sub(c.downSince).Round(time.Millisecond)))
		}
	}
	c.mu.Unlock()
	if stale != nil {
		cur.close(fmt.Errorf("wirelink: no answer about htlc %d within %v", stale.id, c.opts.AnswerWait))
	}
}

// read handles cn's frames until it closes.
func (c *Client) read(cn *conn, fr *frameReader) {
	defer c.wg.Done()
	err := cn.readLoop(fr, func(m lnwire.Message) error { return c.handle(cn, m) })
	close(cn.readerDone)
	<-cn.writerDone
	switch {
	case cn.closed() != err:
		// Closed on purpose (Close, a stale answer): run logs it.
	case errors.Is(err, ErrMalformed):
		c.log.Error("wirelink: bad frame from the server; connection closed", "addr", c.addr, "err", err)
	case errors.Is(err, io.EOF):
		c.log.Warn("wirelink: the server closed the connection", "addr", c.addr)
	}
}

// handle is what the client does with a message from the server.
func (c *Client) handle(cn *conn, m lnwire.Message) error {
	if res, ok := outcomeOf(m); ok {
		c.resolve(res)
		return nil
	}
	switch m := m.(type) {
	case *idMsg:
		if m.kind != msgAccepted {
			break
		}
		c.mu.Lock()
		if p := c.pending[m.id]; p != nil && p.isAdd && p.state == stateAsked && p.conn == cn {
			p.taken()
		}
		c.mu.Unlock()
		return nil
	case *refusal: // rejected: local_fail is an outcome
		c.mu.Lock()
		p := c.pending[m.id]
		if p == nil || !p.isAdd || p.state != stateAsked || p.conn != cn {
			c.mu.Unlock()
			return nil
		}
		delete(c.pending, m.id)
		if !p.isSettled {
			p.settle(m.err())
			c.mu.Unlock()
			return nil
		}
		// An add sent again after the server said it never had it:
		// AddHTLC already reported it taken, so that it never left is
		// its outcome.
		c.mu.Unlock()
		c.deliver(delivery{dones: p.dones, res: link.Result{ID: m.id, Local: m.err()}})
		return nil
	case *status:
		c.status(cn, m)
		return nil
	}
	return fmt.Errorf("%w: %v from the server", ErrMalformed, m.MsgType())
}

// status handles the answer to a query whose outcome is not known.
func (c *Client) status(cn *conn, m *status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[m.id]
	if p == nil || p.conn != cn {
		return
	}
	switch {
	case m.status == statusPending && !p.isAdd && p.state == stateAsked,
		m.status == statusPending && p.state == stateTaken:
		p.taken()
	case m.status == statusUnknown && p.isAdd && p.ambiguous && p.state == stateTaken:
		// The add died with its connection before the server read it:
		// send it now, as first intended. The server finished every
		// frame of the old connection before answering, so it is not
		// sent twice.
		if cn.send(addMsg(p.add)) == nil {
			p.state, p.asked = stateAsked, time.Now()
			c.stats.Resent++
		}
	case m.status == statusUnknown && !p.isAdd && p.state == stateAsked:
		c.dropLocked(p, link.ErrUnknownHTLC)
	case m.status == statusClosed && !p.isAdd && p.state == stateAsked:
		c.dropLocked(p, fmt.Errorf("%w: the server's link is closed", link.ErrClosed))
	case m.status == statusUnknown && p.state == stateTaken:
		c.stats.Lost++
		c.log.Error("wirelink: the server no longer knows a taken htlc; it stays pending", "id", m.id)
	}
}

// resolve delivers an outcome to the callbacks waiting for it.
func (c *Client) resolve(res link.Result) {
	c.mu.Lock()
	p := c.pending[res.ID]
	if p == nil || p.state == stateWaiting {
		// No one waits (a Reattach gave up, or a new client has not
		// asked yet): the server keeps it for whoever asks.
		c.mu.Unlock()
		return
	}
	delete(c.pending, res.ID)
	p.settle(nil) // an outcome means it was taken
	c.mu.Unlock()
	c.deliver(delivery{dones: p.dones, res: res, forget: true})
}

func (c *Client) deliver(d delivery) {
	c.dmu.Lock()
	c.dq = append(c.dq, d)
	c.dmu.Unlock()
	select {
	case c.dwake <- struct{}{}:
	default:
	}
}

// dispatch runs the callbacks of delivered outcomes, then tells the server
// it may forget them: only then, so that an outcome is never lost between
// the two.
func (c *Client) dispatch() {
	defer c.dwg.Done()
	var ids []uint64
	for {
		c.dmu.Lock()
		q := c.dq
		c.dq = nil
		c.dmu.Unlock()
		for _, d := range q {
			for _, done := range d.dones {
				done(d.res)
			}
			if d.forget {
				ids = append(ids, d.res.ID)
			}
		}
		if len(q) > 0 {
			continue
		}
		if len(ids) > 0 {
			c.forget(ids)
			ids = ids[:0]
		}
		select {
		case <-c.dwake:
		case <-c.dstop:
			c.dmu.Lock()
			empty := len(c.dq) == 0
			c.dmu.Unlock()
			if empty {
				return
			}
		}
	}
}

// forget tells the server, on the current connection if any, that these
// outcomes were delivered. Lost on a dying connection, it only leaves the
// server holding a few outcomes no one will ask for.
func (c *Client) forget(ids []uint64) {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn == nil {
		return
	}
	for len(ids) > 0 {
		n := min(len(ids), maxForget)
		if cn.send(&forget{ids: ids[:n]}) != nil {
			return
		}
		ids = ids[n:]
	}
}

var _ link.Link = (*Client)(nil)
