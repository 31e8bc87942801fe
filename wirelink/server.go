package wirelink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/link"
)

// errReplaced closes a connection that a newer one replaces.
var errReplaced = errors.New("wirelink: replaced by a new connection")

// Server serves one client at a time, driving a link.Link backend with the
// HTLCs the client sends and sending back their outcomes on whichever
// connection is current. It keeps every outcome until the client says it
// was delivered, so outcomes that resolve while the client is away are
// found by its queries. Its methods are safe for concurrent use.
type Server struct {
	backend link.Link
	opts    ServerOptions
	log     *slog.Logger

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // Serve calls

	// handover serialises replacing the current connection.
	handover sync.Mutex

	mu  sync.Mutex
	cur *conn // nil while no client is connected
	// htlcs are the ids handed to the backend (added or reattached)
	// whose outcome has not come.
	htlcs map[uint64]*serverHTLC
	// results are outcomes the client has not yet said it delivered,
	// encoded as they go on the wire.
	results map[uint64]lnwire.Message
	closed  bool
	stats   ServerStats
}

// ServerStats counts what a Server did: a snapshot, from Server.Stats.
type ServerStats struct {
	// Conns counts client connections that completed hello.
	Conns int
	// Adds and Rejected count update_add_htlc the backend took and
	// refused.
	Adds, Rejected int
	// Queries counts queries answered.
	Queries int
	// Outcomes counts outcomes the backend reported.
	Outcomes int
	// InFlight is how many ids wait for their outcome from the backend.
	InFlight int
	// Kept is how many outcomes wait for the client's forget.
	Kept int
}

// serverHTLC is an id the server handed to its backend.
type serverHTLC struct {
	chanID lnwire.ChannelID // zero for a reattached id
	// answered: the client has its accepted (or pending status); until
	// then an outcome waits in early, so that it never overtakes it.
	answered bool
	early    *link.Result
}

// NewServer returns a Server that drives backend.
func NewServer(backend link.Link, opts ServerOptions) (*Server, error) {
	if backend == nil {
		return nil, errors.New("wirelink: nil backend")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{backend: backend, opts: opts, log: opts.Logger, htlcs: make(map[uint64]*serverHTLC),
		results: make(map[uint64]lnwire.Message)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Serve creates a Server for backend and serves l until ctx ends; see
// Server.Serve.
func Serve(ctx context.Context, l net.Listener, backend link.Link, opts ServerOptions) error {
	s, err := NewServer(backend, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Serve(ctx, l)
}

// Serve accepts connections on l until ctx ends or Close is called, then
// closes l and the connections it accepted and returns nil once their
// goroutines are done; it returns an error if accepting fails otherwise.
// Each connection that completes hello replaces the current one, after
// every frame of the old one has been handled. The backend gets contexts
// derived from ctx.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("wirelink: serve: %w", link.ErrClosed)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	context.AfterFunc(ctx, func() { l.Close() })
	var conns sync.WaitGroup
	for {
		nc, err := l.Accept()
		if err != nil {
			cancel()
			conns.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("wirelink: accept: %w", err)
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.serveConn(ctx, nc)
		}()
	}
}

// Close stops every Serve call and waits for them. Backend callbacks that
// arrive later are kept, harmlessly, in memory.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Stats returns what the server did so far.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.InFlight, st.Kept = len(s.htlcs), len(s.results)
	return st
}

// serveConn says hello on nc, makes it the current connection and handles
// its frames until it closes.
func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	fr, err := handshake(nc, time.Now().Add(s.opts.HelloTimeout))
	stop()
	if err != nil {
		nc.Close()
		s.log.Warn("wirelink: hello failed", "remote", nc.RemoteAddr(), "err", err)
		return
	}
	cn := newConn(nc, s.opts.WriteTimeout)
	defer func() { <-cn.writerDone }()
	defer context.AfterFunc(ctx, func() { cn.close(fmt.Errorf("wirelink: server stopping: %w", link.ErrClosed)) })()
	if ctx.Err() != nil {
		cn.close(ctx.Err())
		close(cn.readerDone)
		return
	}
	s.takeOver(cn)
	err = cn.readLoop(fr, func(m lnwire.Message) error { return s.handle(ctx, cn, m) })
	close(cn.readerDone)
	s.mu.Lock()
	if s.cur == cn {
		s.cur = nil
	}
	s.mu.Unlock()
	switch {
	case cn.closed() != err:
		s.log.Info("wirelink: connection closed", "remote", nc.RemoteAddr(), "why", cn.closed())
	case errors.Is(err, ErrMalformed):
		s.log.Error("wirelink: bad frame from the client; connection closed", "remote", nc.RemoteAddr(), "err", err)
	case errors.Is(err, io.EOF):
		s.log.Info("wirelink: the client closed the connection", "remote", nc.RemoteAddr())
	default:
		s.log.Warn("wirelink: connection failed", "remote", nc.RemoteAddr(), "err", err)
	}
}

// takeOver makes cn the current connection. The old one is closed and
// every frame it carried is handled first, so that an add still in it is
// taken before any query on cn asks about it.
func (s *Server) takeOver(cn *conn) {
	s.handover.Lock()
	defer s.handover.Unlock()
	s.mu.Lock()
	old := s.cur
	s.cur = nil
	s.mu.Unlock()
	if old != nil {
		old.close(errReplaced)
		<-old.readerDone
	}
	s.mu.Lock()
	s.cur = cn
	s.stats.Conns++
	s.mu.Unlock()
}

// handle is what the server does with a message from the client.
func (s *Server) handle(ctx context.Context, cn *conn, m lnwire.Message) error {
	switch m := m.(type) {
	case *lnwire.UpdateAddHTLC:
		s.add(ctx, cn, m)
		return nil
	case *idMsg:
		if m.kind == msgQuery {
			s.query(ctx, cn, m.id)
			return nil
		}
	case *forget:
		s.mu.Lock()
		for _, id := range m.ids {
			delete(s.results, id)
		}
		s.mu.Unlock()
		return nil
	}
	return fmt.Errorf("%w: %v from the client", ErrMalformed, m.MsgType())
}

// add hands an HTLC to the backend and answers accepted or rejected. Send
// errors are ignored here and below: on a dead connection the outcome
// stays in results for the next one to ask about.
func (s *Server) add(ctx context.Context, cn *conn, m *lnwire.UpdateAddHTLC) {
	if m.BlindingPoint.IsSome() {
		cn.send(&refusal{kind: msgRejected, id: m.ID, code: codeOther,
			text: "wirelink: htlcs with a blinding point are not supported"})
		return
	}
	req, err := addReq(m)
	if err != nil {
		cn.send(newRefusal(msgRejected, m.ID, err))
		return
	}
	s.mu.Lock()
	if _, busy := s.htlcs[m.ID]; busy {
		s.stats.Rejected++
		cn.send(newRefusal(msgRejected, m.ID, fmt.Errorf("%w: %d", link.ErrDuplicateID, m.ID)))
		s.mu.Unlock()
		return
	}
	h := &serverHTLC{chanID: m.ChanID}
	s.htlcs[m.ID] = h
	// A kept outcome under this id belongs to an HTLC the client has
	// finished with, since it adds the id again.
	delete(s.results, m.ID)
	s.mu.Unlock()
	err = s.backend.AddHTLC(ctx, req, func(res link.Result) { s.resolved(m.ID, res) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		delete(s.htlcs, m.ID)
		s.stats.Rejected++
		cn.send(newRefusal(msgRejected, m.ID, err))
		return
	}
	s.stats.Adds++
	cn.send(&idMsg{kind: msgAccepted, id: m.ID})
	s.answeredLocked(m.ID, h)
}

// query answers what became of id: its outcome if known, else whether the
// backend has it.
func (s *Server) query(ctx context.Context, cn *conn, id uint64) {
	s.mu.Lock()
	s.stats.Queries++
	if msg, ok := s.results[id]; ok {
		cn.send(msg)
		s.mu.Unlock()
		return
	}
	if _, ok := s.htlcs[id]; ok {
		cn.send(&status{id: id, status: statusPending})
		s.mu.Unlock()
		return
	}
	h := &serverHTLC{}
	s.htlcs[id] = h
	s.mu.Unlock()
	err := s.backend.Reattach(ctx, link.AddHTLC{ID: id}, func(res link.Result) { s.resolved(id, res) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		delete(s.htlcs, id)
		st := statusUnknown
		if !errors.Is(err, link.ErrUnknownHTLC) {
			st = statusClosed
			s.log.Warn("wirelink: backend could not reattach", "id", id, "err", err)
		}
		cn.send(&status{id: id, status: st})
		return
	}
	if h.early == nil {
		cn.send(&status{id: id, status: statusPending})
	}
	s.answeredLocked(id, h)
}

// answeredLocked marks h answered and sends an outcome that came first.
func (s *Server) answeredLocked(id uint64, h *serverHTLC) {
	h.answered = true
	if h.early != nil {
		s.finishLocked(id, h, *h.early)
	}
}

// resolved is the backend's done for id.
func (s *Server) resolved(id uint64, res link.Result) {
	res.ID = id
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.htlcs[id]
	switch {
	case h == nil:
		s.log.Error("wirelink: backend reported an outcome no one asked for", "id", id)
	case !h.answered:
		h.early = &res
	default:
		s.finishLocked(id, h, res)
	}
}

// finishLocked keeps the outcome of id and sends it to the client.
func (s *Server) finishLocked(id uint64, h *serverHTLC, res link.Result) {
	delete(s.htlcs, id)
	msg, err := outcomeMsg(h.chanID, res)
	if err != nil {
		// A broken backend. Reporting a failure might make the payer
		// pay twice; the HTLC stays pending at the client.
		s.log.Error("wirelink: backend outcome cannot be sent", "id", id, "err", err)
		return
	}
	s.stats.Outcomes++
	s.results[id] = msg
	if s.cur != nil {
		s.cur.send(msg)
	}
}
