package actors

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
)

// Channel is one channel of ours the engine may send over.
type Channel struct {
	SCID      graph.SCID
	Spendable graph.MilliSat
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
	Rand     io.Reader // onion session keys
	Workers  int       // route workers; default GOMAXPROCS
	MaxHTLCs int       // HTLC slots of our side of each channel; default 483
	Avoid    time.Duration
	Logger   *slog.Logger
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
}

// Start spawns the engine's actors.
func Start(opts Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{opts: opts, sys: NewSystem(opts.Logger), stopped: make(chan struct{})}
	e.graph = e.sys.Root.Spawn(GraphProps(opts.Graph, GraphOptions{Workers: opts.Workers}))
	e.ledger = e.sys.Root.Spawn(LedgerProps(opts.Ledger))
	peers := make(map[graph.SCID]*actor.PID, len(opts.Channels))
	for _, c := range opts.Channels {
		peers[c.SCID] = e.sys.Root.Spawn(PeerProps(PeerOptions{Channel: c.SCID, Spendable: c.Spendable, MaxHTLCs: opts.MaxHTLCs, Link: opts.Link}))
	}
	e.deps = PaymentDeps{
		Self: opts.Self, Graph: e.graph, Ledger: e.ledger,
		Peer: func(s graph.SCID) *actor.PID { return peers[s] }, Height: opts.Height, Clock: opts.Clock,
		Rand: opts.Rand, NextID: e.nextID, Avoid: opts.Avoid,
	}
	if err := e.recover(); err != nil {
		e.sys.Shutdown()
		return nil, err
	}
	return e, nil
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

// recover spawns the payment actor of every attempt the ledger says is in
// flight; each asks the link what became of its HTLC, and nothing is sent
// again.
func (e *Engine) recover() error {
	pending, err := e.opts.Ledger.Pending()
	if err != nil {
		return fmt.Errorf("actors: recovery: %w", err)
	}
	for i := range pending {
		att := &pending[i]
		rec, err := e.record(att.PaymentHash)
		if err != nil {
			return err
		}
		st := PaymentState{Record: rec, Pending: att, Parts: att.PartID}
		if rec != nil && rec.Pay != nil {
			if inv, err := htlc.Decode(rec.Bolt11, htlc.DecodeOptions{Network: e.opts.Network}); err == nil {
				i := payInvoice(inv)
				st.Resume = &i
			}
		}
		name := hex.EncodeToString(att.PaymentHash[:])
		if _, err := e.sys.Root.SpawnNamed(PaymentProps(att.PaymentHash, st, e.deps), name); err != nil {
			return fmt.Errorf("actors: recovery: spawn %s: %w", name, err)
		}
	}
	return nil
}

// Stop stops every actor, letting each finish the message it is on; the
// ledger actor waits for the writes it started.
func (e *Engine) Stop() {
	e.stop.Do(func() {
		close(e.stopped)
		e.sys.Shutdown()
	})
}

// ErrStopped is returned to callers still waiting when the engine stops;
// what they asked for is in the ledger, and a restart takes it up.
var ErrStopped = errors.New("actors: engine stopped")

// actorFor returns the payment actor of hash, spawning it with the ledger's
// record if it is not running: two callers of one hash meet one actor.
func (e *Engine) actorFor(hash [32]byte) (*actor.PID, error) {
	name := hex.EncodeToString(hash[:])
	pid := actor.NewPID(e.sys.Address(), name)
	if _, running := e.sys.ProcessRegistry.Get(pid); running {
		return pid, nil
	}
	rec, err := e.record(hash)
	if err != nil {
		return nil, err
	}
	var parts uint64
	if rec != nil {
		atts, err := e.opts.Ledger.Attempts(hash, 0)
		if err != nil {
			return nil, fmt.Errorf("actors: read attempts of %x: %w", hash, err)
		}
		for _, a := range atts {
			parts = max(parts, a.PartID)
		}
	}
	pid, err = e.sys.Root.SpawnNamed(PaymentProps(hash, PaymentState{Record: rec, Parts: parts}, e.deps), name)
	if err != nil && !errors.Is(err, actor.ErrNameExists) {
		return nil, fmt.Errorf("actors: spawn payment %s: %w", name, err)
	}
	return pid, nil
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
	pid, err := e.actorFor(hash)
	if err != nil {
		return nil, "", err
	}
	timeout := time.Hour
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := e.sys.Root.RequestFuture(pid, &Call{Event: ev}, timeout)
	type result struct {
		res any
		err error
	}
	ch := make(chan result, 1)
	go func() {
		res, err := f.Result()
		ch <- result{res, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		r.err = ctx.Err()
	case <-e.stopped:
		r.err = ErrStopped
	}
	if r.err != nil {
		return nil, "", fmt.Errorf("actors: payment %x: %w", hash, r.err)
	}
	a := r.res.(*Answer)
	if a.Err != nil {
		return nil, "", a.Err
	}
	return a.Record, a.Message, nil
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
	inv, err := htlc.Decode(req.Bolt11, htlc.DecodeOptions{Network: e.opts.Network, Description: req.Description})
	if err != nil {
		return nil, &payment.Error{Code: payment.CodeInvalidParams, Message: invalidBolt11(err)}
	}
	ev := payment.Pay{Amount: req.Amount, Label: req.Label, Params: req.Params, Invoice: payInvoice(inv)}
	rec, _, err := e.call(ctx, inv.PaymentHash, ev)
	return rec, err
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
}

// SendPay starts one attempt over a route and returns once it is durable
// and on its way (status pending, with CLN's message), or the stored
// success, or a *payment.Error.
func (e *Engine) SendPay(ctx context.Context, req SendPayRequest) (*payment.Record, string, error) {
	return e.call(ctx, req.Hash, payment.SendPay{Route: req.Route, Amount: req.Amount, Label: req.Label, Bolt11: req.Bolt11, Secret: req.Secret})
}

// WaitSendPay waits for the hash's attempt to end (timeout nil: for ever;
// zero: poll), per spec section 6.
func (e *Engine) WaitSendPay(ctx context.Context, hash [32]byte, timeout *time.Duration) (*payment.Record, error) {
	rec, _, err := e.call(ctx, hash, payment.WaitSendPay{Timeout: timeout})
	return rec, err
}

// GetRoute asks the graph actor for a route from us (FromID, when zero,
// is our node), with what it has learnt from failures.
func (e *Engine) GetRoute(ctx context.Context, p graph.GetRouteParams) (graph.Route, error) {
	if p.FromID == (graph.NodeID{}) {
		p.FromID = e.opts.Self
	}
	res, err := e.sys.Root.RequestFuture(e.graph, &messages.FindRoute{Params: p, Now: e.opts.Clock()}, time.Minute).Result()
	if err != nil {
		return nil, fmt.Errorf("actors: getroute: %w", err)
	}
	switch r := res.(type) {
	case *messages.RouteFound:
		return r.Route, nil
	case *messages.RouteNotFound:
		return nil, r.Err
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
