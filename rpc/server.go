package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Command is one JSON-RPC method: its name, help text, params and handler.
type Command struct {
	Name        string
	Category    string // for help: "payment", "network", "utility", "developer"
	Description string // one or two sentences for help
	Params      []Param
	// Deprecated commands answer -32601 "Command 'X' is deprecated" when
	// the server is told to deny deprecated APIs.
	Deprecated bool
	// Handler runs the command; it may be called concurrently, and must
	// return soon after ctx ends (Shutdown relies on it). An *Error picks
	// the JSON-RPC error; any other error is -1 with its text.
	Handler func(ctx context.Context, args *Args) (any, error)
}

// Usage is the command with its params, optional ones in brackets
// ("pay bolt11 [msatoshi] [label]"), as help prints it.
func (c *Command) Usage() string {
	var b strings.Builder
	b.WriteString(c.Name)
	for _, p := range c.Params {
		if p.Required {
			fmt.Fprintf(&b, " %s", p.Name)
		} else {
			fmt.Fprintf(&b, " [%s]", p.Name)
		}
	}
	return b.String()
}

// config is the generic server's part of Options, defaults filled in.
type config struct {
	maxBytes       int64
	maxInFlight    int
	writeTimeout   time.Duration
	idleTimeout    time.Duration // 0: none
	denyDeprecated bool
	log            *slog.Logger
}

// Server serves JSON-RPC 2.0 on stream listeners (Serve) and over HTTP
// (HTTPHandler). Its methods are safe for concurrent use.
type Server struct {
	cfg    config
	cmds   map[string]*Command
	order  []string
	ctx    context.Context // parent of every request's context
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	connWG    sync.WaitGroup
}

func newServer(cfg config) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, cmds: map[string]*Command{}, ctx: ctx, cancel: cancel,
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
}

// Register adds a command. Names must be unique, and so must each
// command's param names and aliases. Register the commands before Serve.
func (s *Server) Register(c Command) error {
	if c.Name == "" || c.Handler == nil {
		return fmt.Errorf("rpc: register %q: a command needs a name and a handler", c.Name)
	}
	seen := map[string]bool{}
	for _, p := range c.Params {
		for _, n := range append([]string{p.Name}, p.Aliases...) {
			if seen[n] {
				return fmt.Errorf("rpc: register %s: param %q twice", c.Name, n)
			}
			seen[n] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.cmds[c.Name]; dup {
		return fmt.Errorf("rpc: register %s: already registered", c.Name)
	}
	s.cmds[c.Name] = &c
	s.order = append(s.order, c.Name)
	return nil
}

// command returns a registered command, or nil.
func (s *Server) command(name string) *Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmds[name]
}

// commands returns the registered commands, sorted by name.
func (s *Server) commands() []*Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := slices.Clone(s.order)
	slices.Sort(names)
	out := make([]*Command, len(names))
	for i, n := range names {
		out[i] = s.cmds[n]
	}
	return out
}

// response is the JSON-RPC 2.0 answer envelope.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

var nullID = json.RawMessage("null")

// maxDepth is how deeply a request's arrays and objects may nest, the
// request object itself counted: far more than any command's params need,
// and below encoding/json's own limit (10000), so that a deeper request is
// told it is too deep rather than not JSON.
const maxDepth = 1000

// handle answers one request, given as the bytes of one JSON value, with
// the bytes of one response (followed by the blank line Core Lightning
// writes after each).
func (s *Server) handle(ctx context.Context, raw []byte) []byte {
	id, method, params, rerr := parseRequest(raw)
	if rerr != nil {
		return s.encode(id, nil, rerr)
	}
	res, e := s.dispatch(ctx, method, params)
	return s.encode(id, res, e)
}

// parseRequest checks the envelope as Core Lightning's parse_request does
// (spec section 1) and returns its id (null until one is read), method and
// params.
func parseRequest(raw []byte) (json.RawMessage, string, json.RawMessage, *Error) {
	if depth(raw) > maxDepth {
		return nullID, "", nil, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("request nested too deeply (more than %d levels)", maxDepth)}
	}
	if !json.Valid(raw) {
		return nullID, "", nil, malformed(raw)
	}
	if firstByte(raw) != '{' {
		return nullID, "", nil, &Error{Code: CodeInvalidRequest, Message: "Expected {} for json command"}
	}
	members, dup, err := objectMembers(raw)
	if err != nil {
		return nullID, "", nil, malformed(raw)
	}
	if dup != "" {
		return nullID, "", nil, &Error{Code: CodeInvalidRequest, Message: "duplicate json names: " + dup}
	}
	var idRaw, methodRaw, params json.RawMessage
	for _, m := range members {
		switch m.key {
		case "id":
			idRaw = m.val
		case "method":
			methodRaw = m.val
		case "params":
			params = m.val
		}
	}
	if idRaw == nil {
		return nullID, "", nil, &Error{Code: CodeInvalidRequest, Message: "No id"}
	}
	// JSON-RPC 2.0 ids are strings, numbers or null (a request with id
	// null is not a notification: it is answered, with id null). Core
	// Lightning also takes true and false; JSON-RPC does not.
	switch c := firstByte(idRaw); {
	case c == '{' || c == '[':
		return nullID, "", nil, &Error{Code: CodeInvalidRequest, Message: "Expected string/primitive for id"}
	case c == 't' || c == 'f':
		return nullID, "", nil, &Error{Code: CodeInvalidRequest, Message: "Expected a string, a number or null for id"}
	}
	var id bytes.Buffer
	if err := json.Compact(&id, idRaw); err != nil {
		return nullID, "", nil, malformed(raw)
	}
	if methodRaw == nil {
		return id.Bytes(), "", nil, &Error{Code: CodeInvalidRequest, Message: "No method"}
	}
	var method string
	if firstByte(methodRaw) != '"' || json.Unmarshal(methodRaw, &method) != nil {
		return id.Bytes(), "", nil, &Error{Code: CodeInvalidRequest, Message: "Expected string for method"}
	}
	return id.Bytes(), method, params, nil
}

// malformed is CLN's answer to bytes that are not JSON.
func malformed(raw []byte) *Error {
	return &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("Invalid token in json input: '%s'", excerpt(raw))}
}

// cutShort answers the start of a request the client's stream ended in.
func cutShort(raw []byte) *Error {
	return &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("Request cut short: the stream ended inside a JSON value: '%s'", excerpt(raw))}
}

// excerpt is the start of a request for an error message.
func excerpt(raw []byte) string {
	s := string(raw)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// depth is how deeply the arrays and objects of a JSON value nest (0 for
// a scalar), brackets inside strings not counted. It reads malformed input
// too, as far as brackets go.
func depth(raw []byte) int {
	d, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range raw {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}

// dispatch finds the command, binds its params and runs it.
func (s *Server) dispatch(ctx context.Context, method string, params json.RawMessage) (any, *Error) {
	c := s.command(method)
	if c == nil {
		return nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("Unknown command '%s'", method)}
	}
	if c.Deprecated && s.cfg.denyDeprecated {
		return nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("Command '%s' is deprecated", method)}
	}
	args, e := bind(c.Params, params)
	if e != nil {
		return nil, e
	}
	return s.run(ctx, c, args)
}

// run calls the handler; a panic becomes a -1 error and a log line, not a
// dead daemon.
func (s *Server) run(ctx context.Context, c *Command, args *Args) (res any, e *Error) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.log.Error("rpc: handler panicked", "command", c.Name, "panic", p, "stack", string(debug.Stack()))
			res, e = nil, &Error{Code: CodeLightningd, Message: fmt.Sprintf("internal error in %s", c.Name)}
		}
	}()
	res, err := c.Handler(ctx, args)
	if err != nil {
		e = asError(err)
		if e.Code == CodeLightningd {
			s.cfg.log.Warn("rpc: command failed", "command", c.Name, "err", err)
		}
		return nil, e
	}
	return res, nil
}

// encode writes the response; a result that cannot be encoded becomes a
// -1 error rather than a broken stream.
func (s *Server) encode(id json.RawMessage, res any, e *Error) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	r := response{JSONRPC: "2.0", ID: id, Result: res, Error: e}
	if e == nil && res == nil {
		r.Result = struct{}{}
	}
	if err := enc.Encode(r); err != nil {
		buf.Reset()
		s.cfg.log.Error("rpc: cannot encode response", "err", err)
		enc.Encode(response{JSONRPC: "2.0", ID: id, Error: &Error{Code: CodeLightningd, Message: "cannot encode response: " + err.Error()}})
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// conn is one stream connection being served.
type conn struct {
	c      net.Conn
	ctx    context.Context // cancelled when the connection ends or the server is forced down
	cancel context.CancelFunc
	wmu    sync.Mutex
	wg     sync.WaitGroup // requests in flight
	sem    chan struct{}  // holds one token per request in flight
	active atomic.Int64   // when a byte last arrived or an answer left, in Unix nanoseconds
}

// Serve accepts connections on l and serves each until it closes or the
// server shuts down. It returns ErrServerClosed after Shutdown, or the
// listener's error.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	backoff := 5 * time.Millisecond
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if acceptCanWait(err) {
				// Out of file descriptors and the like: the connections
				// wait in the backlog until others close.
				s.cfg.log.Warn("rpc: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			return fmt.Errorf("rpc: accept: %w", err)
		}
		backoff = 5 * time.Millisecond
		cc := &conn{c: c, sem: make(chan struct{}, s.cfg.maxInFlight)}
		cc.ctx, cc.cancel = context.WithCancel(s.ctx)
		cc.active.Store(time.Now().UnixNano())
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		s.conns[cc] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		go s.serveConn(cc)
	}
}

// acceptCanWait reports whether an Accept error passes: a timeout, or a
// lack of file descriptors or kernel memory that ends when connections
// close. Ending Serve on it would let one client that opens connections
// until the limit take the socket down for everyone.
func acceptCanWait(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// serveConn reads requests and runs each in its own goroutine (at most
// maxInFlight at once: beyond that it stops reading, which pushes back on
// the client). When reading ends (end of stream, Shutdown, a request too
// large, unframeable or cut short by the end of the stream, each of the
// last three answered, or idle past the idle timeout) it waits for the
// requests in flight to answer, so a client that half-closes still gets its
// answers, then closes. Nothing here holds a lock shared with other
// connections while it reads or writes.
func (s *Server) serveConn(cc *conn) {
	defer func() {
		cc.wg.Wait()
		cc.cancel()
		cc.c.Close()
		s.mu.Lock()
		delete(s.conns, cc)
		s.mu.Unlock()
		s.connWG.Done()
	}()
	fr := newFrameReader(connReader{s, cc}, s.cfg.maxBytes)
	for {
		raw, err := fr.next()
		switch {
		case errors.Is(err, errTooLarge):
			cc.write(s, s.encode(nullID, nil, &Error{Code: CodeInvalidRequest,
				Message: fmt.Sprintf("Request too large: more than %d bytes; closing the connection", s.cfg.maxBytes)}))
			return
		case errors.Is(err, errFraming):
			cc.write(s, s.encode(nullID, nil, malformed(raw)))
			return
		case errors.Is(err, io.ErrUnexpectedEOF):
			// The client half-closed (or closed) inside a value: what it
			// sent cannot become a request, and it may be waiting for an
			// answer to it.
			cc.write(s, s.encode(nullID, nil, cutShort(raw)))
			return
		case err != nil:
			if !errors.Is(err, io.EOF) && !s.isClosed() && !errors.Is(err, net.ErrClosed) {
				s.cfg.log.Debug("rpc: connection read", "err", err)
			}
			return
		}
		if s.isClosed() {
			return
		}
		select {
		case cc.sem <- struct{}{}:
		case <-cc.ctx.Done():
			return
		}
		req := slices.Clone(raw)
		cc.wg.Add(1)
		go func() {
			defer func() { <-cc.sem; cc.wg.Done() }()
			cc.write(s, s.handle(cc.ctx, req))
		}()
	}
}

// write sends one response whole; responses of concurrent requests never
// interleave. A write that fails or times out ends the connection.
func (cc *conn) write(s *Server, b []byte) {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	cc.c.SetWriteDeadline(time.Now().Add(s.cfg.writeTimeout))
	if _, err := cc.c.Write(b); err != nil {
		cc.cancel()
		cc.c.Close()
		return
	}
	cc.active.Store(time.Now().UnixNano())
}

// connReader is a connection as its frame reader reads it. With an idle
// timeout, a read gives up once the connection has been idle that long: no
// byte arrived and no answer left for the whole timeout, and no request is
// in flight (a long waitsendpay keeps its connection). A half-sent request
// does not keep it open: a client that sends part of one and stalls is cut
// like one that sends nothing; one that trickles a byte now and then is
// not, and costs at most MaxRequestBytes and a goroutine.
type connReader struct {
	s  *Server
	cc *conn
}

func (r connReader) Read(p []byte) (int, error) {
	idle := r.s.cfg.idleTimeout
	if idle == 0 {
		return r.cc.c.Read(p)
	}
	for {
		from := time.Unix(0, r.cc.active.Load())
		if len(r.cc.sem) > 0 {
			from = time.Now()
		}
		r.cc.c.SetReadDeadline(from.Add(idle))
		// Shutdown sets its own deadline to wake readers; it marks the
		// server closed first, so if ours replaced it, this sees it.
		if r.s.isClosed() {
			return 0, ErrServerClosed
		}
		n, err := r.cc.c.Read(p)
		if n > 0 {
			r.cc.active.Store(time.Now().UnixNano())
		}
		if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) || r.s.isClosed() {
			return n, err
		}
		if len(r.cc.sem) == 0 && time.Since(time.Unix(0, r.cc.active.Load())) >= idle {
			return 0, err
		}
	}
}

// Shutdown stops accepting connections and reading requests, lets the
// requests in flight answer, and closes every connection. If ctx ends
// first, it cancels the requests still running, closes the connections at
// once and returns ctx's error once every connection's goroutines are done.
// Serve returns ErrServerClosed. HTTP requests belong to the http.Server
// that carries HTTPHandler, which has its own Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for cc := range s.conns {
		// Wake the reader; it sees the server closed and stops reading.
		cc.c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for cc := range s.conns {
		cc.c.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}
