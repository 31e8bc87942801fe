package actors

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/metrics"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
)

// Channel is one channel of ours the engine may send over.
type Channel struct {
	SCID      graph.SCID
	Spendable graph.MilliSat
	MaxHTLCs  int // HTLC slots of our side; 0: Options.MaxHTLCs
	// Peer is the node at the channel's other end; zero: read from
	// Options.Graph.
	Peer graph.NodeID
}

// Options configure an Engine. Every field but Workers, Logger and Avoid is
// required.
type Options struct {
	Self     graph.NodeID
	Graph    *graph.Graph
	Link     link.Link
	Ledger   *persistence.Ledger // opened by the caller, who closes it after Stop
	Channels []Channel
	Network  htlc.Network // invoices pay must accept
	Height   func() uint32
	Clock    func() time.Time
	Rand     io.Reader // onion session keys, HTLC ids, fuzz seeds; safe for concurrent use
	Workers  int       // route workers; default GOMAXPROCS
	MaxHTLCs int       // HTLC slots of our side of each channel; default 483
	Avoid    time.Duration
	Logger   *slog.Logger
	Metrics  *metrics.Engine // nil: none
	// HalfLife is how fast learned liquidity bounds relax back to the
	// prior; default graph.DefaultHalfLife.
	HalfLife time.Duration
	// Claims is the fleet's claim store, in this member's name (nil: a
	// single node, nothing claimed; see claims.go).
	Claims Claims
}

// Validate reports every missing field in one error.
func (o *Options) Validate() error {
	var errs []error
	if o.Graph == nil {
		errs = append(errs, errors.New("the Graph option is required"))
	}
	if o.Link == nil {
		errs = append(errs, errors.New("the Link option is required"))
	}
	if o.Ledger == nil {
		errs = append(errs, errors.New("the Ledger option is required"))
	}
	if o.Height == nil || o.Clock == nil || o.Rand == nil {
		errs = append(errs, errors.New("the Height, Clock and Rand options are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("actors: engine options: %w", err)
	}
	return nil
}

// Engine wires the actors (one graph actor with its route workers, one
// peer actor per channel, one ledger actor, one payment actor per payment
// hash) and offers Core Lightning's payment commands as Go calls. Its
// methods are safe for concurrent use.
type Engine struct {
	opts    Options
	sys     *actor.ActorSystem
	graph   *actor.PID
	ledger  *actor.PID
	deps    PaymentDeps
	ids     atomic.Uint64
	stop    sync.Once
	stopped chan struct{}
	// waiting are the callers that do not wait (PayAsync) whose answer
	// has not come: Stop ends them.
	asyncMu sync.Mutex
	waiting map[*asyncAnswer]struct{}

	// live maps each hash whose actor runs to it and to the number of
	// callers holding it: an idle actor stops only when none does, so a
	// caller never sends to an actor that is going away.
	mu   sync.Mutex
	live map[[32]byte]*liveActor
	runs uint64 // actors spawned, for their names

	// peers are the peer actors of our channels, which a backend may add
	// and remove while the engine runs (AddChannel, RemoveChannel), and
	// channels our channels by the node at their other end: sendpay picks
	// the HTLC's channel by route[0]'s node, as Core Lightning does.
	peersMu  sync.RWMutex
	peers    map[graph.SCID]*actor.PID
	channels map[graph.NodeID][]graph.SCID

	// recovered is closed when the start's recovery has spawned the
	// actor of every payment it takes up; loaded gets a token (when
	// there is room) each time an actor has read its state, which
	// recovery waits for to spawn no faster than actors load.
	recovered chan struct{}
	loaded    chan struct{}

	paymentProps *actor.Props // one for all payment actors
	knowledge    *graph.Knowledge
	out          *outbox // claims' outcomes to write (Options.Claims)
}

type liveActor struct {
	pid   *actor.PID
	calls int
}

// Start spawns the engine's actors.
func Start(opts Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{opts: opts, sys: NewSystem(opts.Logger), stopped: make(chan struct{}), live: map[[32]byte]*liveActor{},
		recovered: make(chan struct{}), loaded: make(chan struct{}, 2*recoverAtOnce)}
	e.waiting = map[*asyncAnswer]struct{}{}
	k, err := loadKnowledge(opts)
	if err != nil {
		e.sys.Shutdown()
		return nil, err
	}
	e.knowledge = k
	e.ledger = e.sys.Root.Spawn(LedgerProps(opts.Ledger, opts.Metrics))
	e.graph = e.sys.Root.Spawn(GraphProps(opts.Graph, GraphOptions{Workers: opts.Workers, Metrics: opts.Metrics, Knowledge: k, Ledger: e.ledger}))
	e.peers, e.channels = make(map[graph.SCID]*actor.PID, len(opts.Channels)), map[graph.NodeID][]graph.SCID{}
	for _, c := range opts.Channels {
		e.AddChannel(c)
	}
	e.deps = PaymentDeps{
		Self: opts.Self, Graph: e.graph, Ledger: e.ledger,
		Peer: e.peer, Height: opts.Height, Clock: opts.Clock,
		Rand: opts.Rand, Seeds: drawSeeds(opts.Rand, fuzzSeeds), NextID: e.nextID, Avoid: opts.Avoid, Load: e.load, Idle: e.idle, Metrics: opts.Metrics,
		NoOnion: !link.WantsOnion(opts.Link),
	}
	e.paymentProps = PaymentProps(&e.deps)
	pending, err := e.opts.Ledger.PendingHashes()
	if err != nil {
		e.sys.Shutdown()
		return nil, fmt.Errorf("actors: recovery: %w", err)
	}
	e.out = newOutbox()
	go e.recover(pending)
	e.startOutbox()
	return e, nil
}

// peer returns the peer actor of one of our channels, or nil.
func (e *Engine) peer(s graph.SCID) *actor.PID {
	e.peersMu.RLock()
	defer e.peersMu.RUnlock()
	return e.peers[s]
}

// AddChannel starts the peer actor of a channel of ours that opened while
// the engine runs (a channel it has already is left as it is).
func (e *Engine) AddChannel(c Channel) {
	e.peersMu.Lock()
	defer e.peersMu.Unlock()
	if _, ok := e.peers[c.SCID]; ok {
		return
	}
	slots := c.MaxHTLCs
	if slots <= 0 {
		slots = e.opts.MaxHTLCs
	}
	d := ownDir(e.opts.Graph, e.opts.Self, c.SCID)
	e.knowledge.SetExact(d, c.Spendable, e.opts.Clock())
	e.peers[c.SCID] = e.sys.Root.Spawn(PeerProps(PeerOptions{Channel: c.SCID, Spendable: c.Spendable, MaxHTLCs: slots, Link: e.opts.Link,
		Graph: e.graph, Dir: d, Clock: e.opts.Clock}))
	peer := c.Peer
	if peer == (graph.NodeID{}) {
		if ch, ok := e.opts.Graph.Channel(c.SCID); ok {
			peer = ch.Node1
			if peer == e.opts.Self {
				peer = ch.Node2
			}
		}
	}
	if peer != (graph.NodeID{}) {
		e.channels[peer] = append(e.channels[peer], c.SCID)
	}
}

// SetSpendable sets what a channel of ours can send now, as the backend
// reports it (an unknown channel is ignored).
func (e *Engine) SetSpendable(s graph.SCID, amount graph.MilliSat) {
	if pid := e.peer(s); pid != nil {
		e.sys.Root.Send(pid, &SetSpendable{Amount: amount})
	}
}

// RemoveChannel stops the peer actor of a channel that closed: attempts
// then fail locally with "No connection to first peer found". An HTLC
// still in flight on it is resolved on chain, and found again at the
// next start.
func (e *Engine) RemoveChannel(s graph.SCID) {
	e.peersMu.Lock()
	pid, ok := e.peers[s]
	delete(e.peers, s)
	for peer, chans := range e.channels {
		if i := slices.Index(chans, s); i >= 0 {
			if chans = slices.Delete(chans, i, i+1); len(chans) == 0 {
				delete(e.channels, peer)
			} else {
				e.channels[peer] = chans
			}
		}
	}
	e.peersMu.Unlock()
	if ok {
		e.sys.Root.Stop(pid)
	}
}

// SetGraph replaces the graph the routes are found in (a backend's graph
// changed: channels opened, closed or updated). The failure memory stays.
func (e *Engine) SetGraph(g *graph.Graph) {
	if g != nil {
		e.sys.Root.Send(e.graph, &messages.NewSnapshot{Graph: g})
	}
}

// Now is the engine's clock (Options.Clock).
func (e *Engine) Now() time.Time { return e.opts.Clock() }

// DrawSeed draws a fuzz seed from the engine's randomness (Options.Rand):
// Core Lightning v0.7's getroute seeds its fee fuzz afresh on every call.
// A source that fails gives the zero seed.
func (e *Engine) DrawSeed() graph.Seed { return drawSeed(e.opts.Rand) }

// fuzzSeeds is how many fuzz seeds pay's route searches draw from: the
// graph keeps each one's channel hashes and A* bounds (0.4 MB and 0.14 MB
// a bound on mainnet), so a search costs a fraction of one with a fresh
// seed, and routes still vary from one attempt to the next.
const fuzzSeeds = 8

// drawSeeds draws n fuzz seeds from r (the engine's pool, PaymentDeps.Seeds).
func drawSeeds(r io.Reader, n int) []graph.Seed {
	s := make([]graph.Seed, n)
	for i := range s {
		s[i] = drawSeed(r)
	}
	return s
}

func drawSeed(r io.Reader) graph.Seed {
	var s graph.Seed
	if r == nil {
		return s
	}
	if _, err := io.ReadFull(r, s[:]); err != nil {
		return graph.Seed{}
	}
	return s
}

// nextID draws an HTLC id at random: ids must never repeat across runs,
// or asking the link about one could find an older HTLC's outcome.
func (e *Engine) nextID() uint64 {
	var b [8]byte
	if _, err := io.ReadFull(e.opts.Rand, b[:]); err != nil {
		return e.ids.Add(1) | 1<<63
	}
	return binary.LittleEndian.Uint64(b[:]) &^ (1 << 63)
}

// recover spawns, in the background, the payment actor of every hash
// with an attempt the ledger says is in flight (pending, read by Start);
// each asks the link what became of its HTLC, and nothing is sent again.
// Then those of the pays that had no attempt out (recoverBetweenRounds).
// It spawns recoverAtOnce at a time and waits for them to load, so that
// a start with thousands in flight serves new calls at once: a call
// about a hash not yet taken up spawns its actor itself, which loads the
// same state from the ledger (and ListPays wakes a pay between rounds
// before it answers, see wakeBetweenRounds). recovered is closed at the
// end.
func (e *Engine) recover(pending [][32]byte) {
	defer close(e.recovered)
	if recoveryHook != nil {
		recoveryHook(e)
	}
	if !e.wakeAll(pending) {
		return
	}
	hashes, err := e.betweenRounds()
	if err != nil {
		select {
		case <-e.stopped:
		default:
			e.logger().Error("actors: recovery", "err", err)
		}
		return
	}
	e.wakeAll(hashes)
}

// recoveryHook, when set (by a test), runs before recovery spawns
// anything: a test holds it to see the engine serve while recovery has
// not reached a hash.
var recoveryHook func(*Engine)

// recoverAtOnce is how many actors recovery lets load at once.
const recoverAtOnce = 16

// wakeAll spawns the actor of each hash that has none running,
// recoverAtOnce at a time, waiting for each group to load; false if the
// engine stopped.
func (e *Engine) wakeAll(hashes [][32]byte) bool {
	for i := 0; i < len(hashes); {
		n := 0
		for ; i < len(hashes) && n < recoverAtOnce; i++ {
			spawned, err := e.wake(hashes[i])
			if err != nil {
				return false
			}
			if spawned {
				n++
			}
		}
		for ; n > 0; n-- {
			select {
			case <-e.loaded:
			case <-e.stopped:
				return false
			}
		}
	}
	return true
}

// wake spawns the hash's actor if none runs, and lets it be: it loads,
// takes up what the ledger says is under way, and stops when idle. It
// reports whether it spawned one.
func (e *Engine) wake(hash [32]byte) (bool, error) {
	_, spawned, err := e.hold(hash)
	if err != nil {
		return false, fmt.Errorf("actors: recovery: %w", err)
	}
	e.release(hash)
	return spawned, nil
}

// Recovered returns a channel closed once the start's recovery has taken
// up every payment that was under way at the stop (each then runs in
// its actor until it ends).
func (e *Engine) Recovered() <-chan struct{} { return e.recovered }

// recovering reports whether the start's recovery is still under way.
func (e *Engine) recovering() bool {
	select {
	case <-e.recovered:
		return false
	default:
		return true
	}
}

// load reads a hash's state from the ledger for its starting actor: the
// record, the attempt in flight if any, the highest attempt number, the
// pay to resume, and the sendpay parts.
func (e *Engine) load(hash [32]byte) (PaymentState, error) {
	defer func() {
		select {
		case e.loaded <- struct{}{}:
		default: // recovery has as many as it can wait for
		}
	}()
	var st PaymentState
	rec, groups, parts, err := e.rows(hash)
	st.Groups, st.SendParts = groups, parts
	if err != nil || rec == nil {
		return st, err
	}
	st.Record = rec
	atts, err := e.opts.Ledger.Attempts(hash, 0)
	if err != nil {
		return st, fmt.Errorf("actors: read attempts of %x: %w", hash, err)
	}
	var pending []messages.Attempt
	for i := range atts {
		st.Parts = max(st.Parts, atts[i].PartID)
		if atts[i].Status == messages.AttemptPending {
			st.Pending = &atts[i]
			pending = append(pending, atts[i])
		}
	}
	inParts := resumeInParts(rec, pending)
	between := !inParts && len(pending) == 0 && rec.Pay != nil && rec.Status != payment.StatusComplete
	if (st.Pending != nil || inParts || between) && rec.Pay != nil {
		if inv, err := htlc.Decode(rec.Bolt11, htlc.DecodeOptions{Network: e.opts.Network}); err == nil {
			i := payInvoice(inv)
			st.Resume = &i
		}
	}
	if between && st.Resume != nil {
		st.Between = true
		for i := range atts {
			st.Attempts = append(st.Attempts, payment.PayAttempt{Route: atts[i].Route, Failure: fromFailure(atts[i].Failure)})
		}
	}
	if inParts {
		st.InParts = true
		for i := range atts {
			if atts[i].Status != messages.AttemptFailed {
				st.Resumed = append(st.Resumed, atts[i])
			}
		}
	}
	return st, nil
}

// Stop stops every actor, letting each finish the message it is on; the
// ledger actor waits for the writes it started.
func (e *Engine) Stop() {
	e.stop.Do(func() {
		close(e.stopped)
		e.asyncMu.Lock()
		waiting := e.waiting
		e.waiting = nil
		e.asyncMu.Unlock()
		for w := range waiting {
			go w.end(nil, fmt.Errorf("actors: payment %x: %w", w.hash, ErrStopped))
		}
		e.sys.Shutdown()
		<-e.recovered // it stops spawning at once
		e.saveKnowledge()
	})
}

// ErrStopped is returned to callers still waiting when the engine stops;
// what they asked for is in the ledger, and a restart takes it up.
var ErrStopped = errors.New("actors: engine stopped")

// acquire returns the payment actor of hash, spawning it if it is not
// running, and holds it for the caller until release: two callers of one
// hash meet one actor.
func (e *Engine) acquire(hash [32]byte) (*actor.PID, error) {
	pid, _, err := e.hold(hash)
	return pid, err
}

// hold is acquire, and says whether it spawned the actor.
func (e *Engine) hold(hash [32]byte) (*actor.PID, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.live[hash]; ok {
		l.calls++
		return l.pid, false, nil
	}
	select {
	case <-e.stopped:
		return nil, false, ErrStopped
	default:
	}
	e.runs++
	name := PaymentName(hash, e.runs)
	pid, err := e.sys.Root.SpawnNamed(e.paymentProps, name)
	if err != nil {
		return nil, false, fmt.Errorf("actors: spawn payment %s: %w", name, err)
	}
	e.live[hash] = &liveActor{pid: pid, calls: 1}
	return pid, true, nil
}

// release ends a caller's hold on the hash's actor; the last one out asks
// the actor to look whether it is idle, as it could not stop while held.
func (e *Engine) release(hash [32]byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.live[hash]; ok {
		if l.calls--; l.calls == 0 {
			e.sys.Root.Send(l.pid, checkIdle{})
		}
	}
}

// idle answers a payment actor that has nothing to do: it may stop if no
// caller holds it, and it is then forgotten, so the next caller spawns a
// fresh one.
func (e *Engine) idle(hash [32]byte, pid *actor.PID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.live[hash]
	if !ok || !l.pid.Equal(pid) || l.calls > 0 {
		return false
	}
	delete(e.live, hash)
	return true
}

// Live returns how many payment actors are running: those with work under
// way or a caller.
func (e *Engine) Live() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.live)
}

// record reads the ledger's record of hash (nil if none).
func (e *Engine) record(hash [32]byte) (*payment.Record, error) {
	p, err := e.opts.Ledger.Payment(hash, 0)
	if errors.Is(err, persistence.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("actors: read payment %x: %w", hash, err)
	}
	return fromPayment(&p), nil
}

// call sends a payment event to the hash's actor and waits for its answer
// until ctx ends.
func (e *Engine) call(ctx context.Context, hash [32]byte, ev payment.Event) (*payment.Record, string, error) {
	a, err := e.answer(ctx, hash, ev)
	if err != nil {
		return nil, "", err
	}
	return a.Record, a.Message, nil
}

// answer sends ev to the hash's actor and waits for its whole answer.
func (e *Engine) answer(ctx context.Context, hash [32]byte, ev payment.Event) (*Answer, error) {
	pid, err := e.acquire(hash)
	if err != nil {
		return nil, err
	}
	defer e.release(hash)
	reply := make(chan *Answer, 1)
	e.sys.Root.Send(pid, &Call{Event: ev, Reply: reply})
	var a *Answer
	select {
	case a = <-reply:
	case <-ctx.Done():
		return nil, fmt.Errorf("actors: payment %x: %w", hash, ctx.Err())
	case <-e.stopped:
		return nil, fmt.Errorf("actors: payment %x: %w", hash, ErrStopped)
	}
	if a.Err != nil {
		return nil, a.Err
	}
	return a, nil
}

// answerAsync sends ev to the hash's actor and returns at once; fn gets
// what answer would have returned, exactly once, on the actor's goroutine
// (or, if ctx ends or the engine stops first, on one of its own). It
// returns acquire's error, and fn is then never called.
func (e *Engine) answerAsync(ctx context.Context, hash [32]byte, ev payment.Event, fn func(*Answer, error)) error {
	pid, err := e.acquire(hash)
	if err != nil {
		return err
	}
	w := &asyncAnswer{e: e, hash: hash, fn: fn}
	// Registered before the call goes out, so every way to an end finds
	// the others to undo; mu makes an end that comes at once wait for
	// that. Stop closes stopped before it ends the callers waiting.
	e.asyncMu.Lock()
	select {
	case <-e.stopped:
		e.asyncMu.Unlock()
		e.release(hash)
		return fmt.Errorf("actors: payment %x: %w", hash, ErrStopped)
	default:
	}
	e.waiting[w] = struct{}{}
	e.asyncMu.Unlock()
	if ctx.Done() != nil {
		w.mu.Lock()
		w.stopCtx = context.AfterFunc(ctx, func() {
			w.end(nil, fmt.Errorf("actors: payment %x: %w", hash, ctx.Err()))
		})
		w.mu.Unlock()
	}
	e.sys.Root.Send(pid, &Call{Event: ev, OnAnswer: func(a *Answer) {
		if a.Err != nil {
			w.end(nil, a.Err)
			return
		}
		w.end(a, nil)
	}})
	return nil
}

// asyncAnswer is a call of answerAsync waiting for the first of its ends:
// the actor's answer, its context's end, the engine's stop.
type asyncAnswer struct {
	e       *Engine
	hash    [32]byte
	fn      func(*Answer, error)
	mu      sync.Mutex
	ended   bool
	stopCtx func() bool // undoes the context's watch, if any
}

// end delivers the first end and ignores the others.
func (w *asyncAnswer) end(a *Answer, err error) {
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return
	}
	w.ended = true
	stopCtx := w.stopCtx
	w.mu.Unlock()
	if stopCtx != nil {
		stopCtx()
	}
	w.e.asyncMu.Lock()
	delete(w.e.waiting, w)
	w.e.asyncMu.Unlock()
	w.e.release(w.hash)
	w.fn(a, err)
}

// PayRequest is pay's parameters (spec section 9.1).
type PayRequest struct {
	Bolt11      string
	Amount      *graph.MilliSat // msatoshi, for an invoice without amount
	Label       string
	Description *string // when the invoice has a description hash
	Params      payment.PayParams
}

// Pay pays a BOLT 11 invoice with Core Lightning's pay semantics and returns
// the completed record, or a *payment.Error with CLN's code.
func (e *Engine) Pay(ctx context.Context, req PayRequest) (*payment.Record, error) {
	inv, ev, err := e.payEvent(req)
	if err != nil {
		return nil, err
	}
	done, release, err := e.claimGate(ctx, inv.PaymentHash, &ev.Invoice)
	if done != nil || err != nil {
		return done, err
	}
	defer release()
	e.opts.Metrics.Started()
	rec, _, err := e.call(ctx, inv.PaymentHash, ev)
	e.opts.Metrics.Ended(errorCode(err))
	return rec, err
}

// PayAsync is Pay for a caller that does not wait: it returns at once, and
// done gets what Pay would have returned, exactly once, when the payment
// ends (or ctx ends, or the engine stops), on a goroutine of the engine's;
// done must not block. A payment refused before it starts (an invalid
// invoice, a stopped engine) is PayAsync's error, and done is then never
// called. So a payment in flight costs its caller no goroutine, unless the
// engine has a fleet's claims (Options.Claims): the claim is a round trip
// to the fleet's store, which PayAsync waits for on a goroutine of its own.
func (e *Engine) PayAsync(ctx context.Context, req PayRequest, done func(*payment.Record, error)) error {
	if e.opts.Claims != nil {
		go func() { done(e.Pay(ctx, req)) }()
		return nil
	}
	inv, ev, err := e.payEvent(req)
	if err != nil {
		return err
	}
	e.opts.Metrics.Started()
	err = e.answerAsync(ctx, inv.PaymentHash, ev, func(a *Answer, err error) {
		e.opts.Metrics.Ended(errorCode(err))
		if err != nil {
			done(nil, err)
			return
		}
		done(a.Record, nil)
	})
	if err != nil {
		e.opts.Metrics.Ended(errorCode(err))
	}
	return err
}

// payEvent decodes pay's invoice into the payment core's event.
func (e *Engine) payEvent(req PayRequest) (*htlc.Invoice, payment.Pay, error) {
	start := e.opts.Clock()
	inv, err := htlc.Decode(req.Bolt11, htlc.DecodeOptions{Network: e.opts.Network, Description: req.Description})
	if err != nil {
		return nil, payment.Pay{}, &payment.Error{Code: payment.CodeInvalidParams, Message: invalidBolt11(err)}
	}
	return inv, payment.Pay{Amount: req.Amount, Label: req.Label, Params: req.Params, Invoice: payInvoice(inv), Start: start}, nil
}

// errorCode is the CLN code of an engine error (0 for none, -1 when it
// has none of its own).
func errorCode(err error) int {
	var pe *payment.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &pe):
		return pe.Code
	}
	return -1
}

// payInvoice is what pay's core needs of a decoded invoice.
func payInvoice(inv *htlc.Invoice) payment.Invoice {
	return payment.Invoice{Bolt11: inv.Bolt11, Payee: inv.Payee, Amount: inv.Amount, CreatedAt: inv.CreatedAt,
		Expiry: inv.Expiry, MinFinalCLTV: inv.MinFinalCLTVExpiry, Secret: inv.PaymentSecret}
}

// invalidBolt11 is CLN's "Invalid bolt11: <reason>" from a decode error.
func invalidBolt11(err error) string {
	var ie *htlc.InvoiceError
	if errors.As(err, &ie) {
		return "Invalid bolt11: " + ie.Reason
	}
	return "Invalid bolt11: " + err.Error()
}

// SendPayRequest is sendpay's parameters (spec section 5.1).
type SendPayRequest struct {
	Route  graph.Route
	Hash   [32]byte
	Amount *graph.MilliSat // msatoshi
	Label  string
	Bolt11 string
	Secret *[32]byte
	// PartID and GroupID are HEAD's partid and groupid: a partid other
	// than 0 sends a part of a multi-part payment whose total is Amount.
	PartID  uint64
	GroupID *uint64
}

// SendPay starts one attempt over a route and returns once it is durable
// and on its way (status pending, with CLN's message), or the stored
// success, or a *payment.Error: -32602 at once for a route no onion can
// carry, and 204 "No connection to first peer found" when we have no
// channel to route[0]'s node. The HTLC goes on route[0].Channel if it is
// ours and leads to that node, else on our channel to that node that can
// spend the most (Core Lightning picks the channel by the peer).
func (e *Engine) SendPay(ctx context.Context, req SendPayRequest) (*payment.Record, string, error) {
	ev := payment.SendPay{Route: req.Route, Amount: req.Amount, Label: req.Label, Bolt11: req.Bolt11, Secret: req.Secret,
		PartID: req.PartID, GroupID: req.GroupID}
	if len(req.Route) > 0 {
		op := htlc.OnionParams{Route: req.Route, PaymentHash: req.Hash, PaymentSecret: req.Secret, BlockHeight: e.opts.Height()}
		if req.PartID != 0 && req.Amount != nil {
			op.TotalMsat = *req.Amount
		}
		err := htlc.CheckOnion(op)
		if err != nil {
			return nil, "", &payment.Error{Code: payment.CodeInvalidParams, Message: "route cannot be sent: " + strings.TrimPrefix(err.Error(), "htlc: ")}
		}
		ev.Route = append(graph.Route(nil), req.Route...)
		scid, ok := e.firstChannel(ctx, req.Route[0])
		if ok {
			ev.Route[0].Channel = scid
		} else {
			f, _ := htlc.NoFirstPeerFailure(e.opts.Self, req.Route)
			ev.NoPeer = &payment.Failure{Code: f.Code, Message: f.Message, Routing: f.Routing}
		}
	}
	done, release, err := e.claimGate(ctx, req.Hash, nil)
	if done != nil || err != nil {
		return done, "", err
	}
	defer release()
	return e.call(ctx, req.Hash, ev)
}

// firstChannel picks our channel for an HTLC to hop's node: hop.Channel if
// it is ours to that node, else the one of ours to it that can spend the
// most; false if we have none.
func (e *Engine) firstChannel(ctx context.Context, hop graph.Hop) (graph.SCID, bool) {
	e.peersMu.RLock()
	chans := slices.Clone(e.channels[hop.ID])
	e.peersMu.RUnlock()
	switch {
	case len(chans) == 0:
		return 0, false
	case slices.Contains(chans, hop.Channel):
		return hop.Channel, true
	case len(chans) == 1:
		return chans[0], true
	}
	best, most := chans[0], graph.MilliSat(0)
	for _, scid := range chans {
		if ctx.Err() != nil {
			break
		}
		pid := e.peer(scid)
		if pid == nil {
			continue
		}
		res, err := e.sys.Root.RequestFuture(pid, spendableQuery{}, 5*time.Second).Result()
		if amt, ok := res.(graph.MilliSat); err == nil && ok && amt > most {
			best, most = scid, amt
		}
	}
	return best, true
}

// WaitSendPay waits for the hash's attempt to end (timeout nil: for ever;
// zero: poll), per spec section 6.
func (e *Engine) WaitSendPay(ctx context.Context, hash [32]byte, timeout *time.Duration) (*payment.Record, error) {
	return e.WaitSendPart(ctx, hash, 0, nil, timeout)
}

// WaitSendPart waits for one part of the hash's payment (HEAD's
// waitsendpay partid and groupid; partid 0 is the single-part payment, a
// nil groupid the hash's latest group of parts), as WaitSendPay does.
func (e *Engine) WaitSendPart(ctx context.Context, hash [32]byte, partid uint64, groupid *uint64, timeout *time.Duration) (*payment.Record, error) {
	rec, _, err := e.call(ctx, hash, payment.WaitSendPay{Timeout: timeout, PartID: partid, GroupID: groupid})
	return rec, err
}

// DelPay deletes the hash's rows whose status is status (Core
// Lightning's delpay: the single-part payment with its attempts, and
// sendpay's parts; part, when set, is the one (groupid, partid) to
// delete), through the hash's actor so that a live one forgets them too;
// it returns the deleted rows, or a *payment.Error (208 for an unknown
// hash, a status that differs, a pending row, which is never deleted, or
// a (groupid, partid) with no row).
func (e *Engine) DelPay(ctx context.Context, hash [32]byte, status payment.Status, part *[2]uint64) ([]payment.Record, error) {
	a, err := e.answer(ctx, hash, payment.DelPay{Status: status, Part: part})
	if err != nil {
		return nil, err
	}
	return a.Records, nil
}

// GetRoute asks the graph actor for a route from us (FromID, when zero,
// is our node), with what it has learnt from failures. p.Seed is used as
// given: DrawSeed gives Core Lightning v0.7's fresh one.
func (e *Engine) GetRoute(ctx context.Context, p graph.GetRouteParams) (graph.Route, error) {
	if p.FromID == (graph.NodeID{}) {
		p.FromID = e.opts.Self
	}
	res := e.askGraph(ctx, &messages.FindRoute{Params: p, Now: e.opts.Clock()})
	switch r := res.(type) {
	case *messages.RouteFound:
		return r.Route, nil
	case *messages.RouteNotFound:
		return nil, r.Err
	case error:
		return nil, fmt.Errorf("actors: getroute: %w", r)
	}
	return nil, fmt.Errorf("actors: getroute: unexpected %T", res)
}

// DecodePay decodes a BOLT 11 invoice for the engine's network, in
// decodepay's shape; errors are CLN's -1 "Invalid bolt11: ...".
func (e *Engine) DecodePay(bolt11 string, description *string) (htlc.DecodePayResult, error) {
	inv, err := htlc.Decode(bolt11, htlc.DecodeOptions{Network: e.opts.Network, Description: description})
	if err != nil {
		return htlc.DecodePayResult{}, &payment.Error{Code: -1, Message: invalidBolt11(err)}
	}
	return inv.DecodePayResult(), nil
}

// askGraph sends msg to the graph actor and returns its answer, or the
// error that ended the wait: ctx's, ErrStopped, or the future's (at most a
// minute). A cancelled wait leaves the answer to a goroutine that ends
// when the future does.
func (e *Engine) askGraph(ctx context.Context, msg any) any {
	f := e.sys.Root.RequestFuture(e.graph, msg, time.Minute)
	ch := make(chan any, 1)
	go func() {
		res, err := f.Result()
		if err != nil {
			ch <- err
			return
		}
		ch <- res
	}()
	var res any
	select {
	case res = <-ch:
	case <-ctx.Done():
		res = ctx.Err()
	case <-e.stopped:
		res = ErrStopped
	}
	return res
}
