package actors

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/metrics"
	"github.com/payengine/payengine/payment"
)

// PaymentDeps are what a payment actor talks to and reads.
type PaymentDeps struct {
	Self   graph.NodeID
	Graph  *actor.PID
	Ledger *actor.PID
	// Peer returns the peer actor of one of our channels, or nil.
	Peer   func(graph.SCID) *actor.PID
	Height func() uint32    // the current block height
	Clock  func() time.Time // now
	Rand   io.Reader        // onion session keys and fuzz seeds (crypto/rand in production)
	// Seeds are the fuzz seeds route searches draw from, at random; the
	// graph keeps their hashes and A* bounds (GetRouteParams.Reuse). None:
	// a fresh seed per search, as Core Lightning v0.7's pay, at several
	// times the search's CPU.
	Seeds  []graph.Seed
	NextID func() uint64 // HTLC ids, unique among those in flight
	// Avoid is how long a failure keeps the failing channel or node out of
	// later routes; default 60 s.
	Avoid time.Duration
	// Load reads what the ledger holds of a hash, when its actor starts
	// (nil: nothing, as for a hash never seen).
	Load func(hash [32]byte) (PaymentState, error)
	// Idle is asked, when the actor has nothing under way and nobody
	// waits, whether it may stop: true means no caller can reach it any
	// more, and it stops. nil: never stop.
	Idle func(hash [32]byte, self *actor.PID) bool
	// Metrics counts attempts (nil: none).
	Metrics *metrics.Engine
	// NoOnion is set when the link builds the onion itself from the route
	// (link.WantsOnion is false: lnd): no onion is built, and failures
	// come back decoded.
	NoOnion bool
}

// Call carries one caller's event to a payment actor; the actor answers on
// Reply, which must have room for one answer, or, when Reply is nil, by
// calling OnAnswer once on its own goroutine (a caller that does not wait:
// OnAnswer must not block). The event's Reply field is the actor's to set.
type Call struct {
	Event    payment.Event
	Reply    chan<- *Answer
	OnAnswer func(*Answer)
}

// Answer is a payment actor's answer to a Call: Err, or the record (with a
// message for sendpay's pending answer).
type Answer struct {
	Record  *payment.Record
	Message string
	Err     *payment.Error
	// Records is delpay's answer: the rows it deleted.
	Records []payment.Record
}

// PaymentState is what the ledger holds of a payment hash when its actor
// starts.
type PaymentState struct {
	// Record is the ledger's record of the hash, or nil.
	Record *payment.Record
	// Pending, with a pending Record, is its attempt in flight from a
	// previous run: the actor asks the first hop's peer what became of it
	// instead of sending anything.
	Pending *messages.Attempt
	// Parts is the highest attempt number (PartID) the ledger holds for
	// the hash: each attempt is kept under a number of its own, so the
	// ledger keeps every attempt's route and outcome, not only the last.
	Parts uint64
	// Resume, with Pending, is the invoice of the pay that drove it
	// (Record.Pay): the pay goes on retrying if that attempt fails.
	Resume *payment.Invoice
	// Resumed, with Resume, are the attempts of a pay in parts still out or
	// settled: the pay is taken up in parts (payment.Core.ResumeParts),
	// also with none of them (killed between rounds).
	Resumed []messages.Attempt
	// InParts says the pay is resumed in parts.
	InParts bool
	// Groups are the hash's groups of sendpay parts (groupid 1 and up),
	// and SendParts their parts: each part's row, and for one still
	// pending, what a previous run sent, to be asked after.
	Groups    []messages.Payment
	SendParts []messages.Attempt
	// Between, with Resume, is a single-path pay that had no attempt out
	// (killed between two attempts): it is taken up with Attempts, its
	// attempts the ledger holds (payment.Core.ResumePay).
	Between  bool
	Attempts []payment.PayAttempt
}

// PaymentProps returns the props of payment actors: each is the actor of
// one payment hash, a thin shell over payment.Core that turns messages into
// events and effects into messages, carrying effects out in order and
// pausing after each write to the ledger until it is durable, so no HTLC
// leaves and no answer goes out before the record that explains it. It
// reads its state from the ledger (deps.Load) when it starts, and stops
// when idle if deps.Idle agrees. An actor learns its hash from its name
// (PaymentName), so one Props serves every payment. deps is shared by
// every payment actor, and must not change once one runs.
func PaymentProps(deps *PaymentDeps) *actor.Props {
	// The lock-free mailbox is a queue of nodes, 48 bytes when empty; the
	// default one keeps a ring of ten slots (240 bytes) for each of the
	// thousands of payments that wait in flight, most with nothing queued.
	return actor.PropsFromProducer(func() actor.Actor { return &paymentActor{deps: deps} },
		actor.WithMailbox(actor.UnboundedLockfree()))
}

// PaymentName is the name of a hash's payment actor: the hash in hex, then
// which run of the hash's actor it is (a stopping actor keeps its name
// until it is gone, so each run gets its own).
func PaymentName(hash [32]byte, run uint64) string { return fmt.Sprintf("%x-%d", hash[:], run) }

// hashOf reads the payment hash from a payment actor's name.
func hashOf(name string) ([32]byte, error) {
	var h [32]byte
	hexHash, _, _ := strings.Cut(name, "-")
	if len(hexHash) != 64 {
		return h, fmt.Errorf("actors: payment actor name %q does not start with a payment hash", name)
	}
	_, err := hex.Decode(h[:], []byte(hexHash))
	return h, err
}

// avoidFor is how long a failure keeps what failed out of routes.
func (d *PaymentDeps) avoidFor() time.Duration {
	if d.Avoid <= 0 {
		return 60 * time.Second
	}
	return d.Avoid
}

// load builds the core from the ledger's state of the hash.
func (a *paymentActor) load(st PaymentState) {
	a.parts = st.Parts
	defer a.restoreSendParts(st)
	if st.InParts || st.Between {
		a.core = payment.New(a.hash, st.Record, nil) // resumeParts or resumePay goes on
		return
	}
	var route graph.Route
	rec, pending := st.Record, st.Pending
	if pending != nil && rec != nil && rec.Status == payment.StatusPending {
		route = pending.Route
		a.sent = &sentHTLC{id: pending.LinkID, part: pending.PartID, route: pending.Route}
		if err := a.sent.circuit.UnmarshalBinary(pending.Circuit); err != nil {
			a.sent.unreadable = true
		}
	}
	a.core = payment.New(a.hash, rec, route)
	if st.Resume != nil && route != nil {
		// Only fails when there is nothing to resume.
		_ = a.core.Resume(*st.Resume)
	}
}

type paymentActor struct {
	hash    [32]byte
	deps    *PaymentDeps
	core    *payment.Core
	replies []reply // callers waiting, usually one: a slice is smaller than a map
	loadErr error   // the ledger could not be read: every call gets it
	next    payment.ReplyTo
	queue   []payment.Effect
	writing bool // a ledger write is under way: the queue waits
	persist bool // that write is an attempt: answer the core with Persisted
	delete  bool // that write is a deletion: answer the core with Deleted
	sent    *sentHTLC
	parts   uint64 // attempts numbered so far
	// flow holds the parts of a pay in parts, by the core's part number;
	// persistPart is the part whose attempt is being written.
	flow        map[uint64]*sentHTLC
	persistPart uint64
	// reattachParts are the handles of sendpay parts a previous run
	// left in flight, asked after when the actor starts.
	reattachParts []uint64
	timers        map[payment.ReplyTo]*time.Timer
}

// sentHTLC is the attempt being written or in flight: its onion, and
// enough to read its failure.
type sentHTLC struct {
	id         uint64
	part       uint64 // the attempt's number in the ledger
	route      graph.Route
	circuit    htlc.Circuit
	onion      *htlc.Onion // nil after a restart, or if it could not be built
	unreadable bool        // the stored circuit could not be read back
	reserved   bool        // its amounts are reserved in the graph's knowledge
	// For a link that builds the onion (NoOnion): what it needs.
	secret *[32]byte
	total  graph.MilliSat
	height uint32
}

type waitTimeout struct{ reply payment.ReplyTo }

// reply is a caller waiting for the core's answer: on ch, or, if ch is
// nil, through fn (Call.OnAnswer).
type reply struct {
	to payment.ReplyTo
	ch chan<- *Answer
	fn func(*Answer)
}

// give hands the caller its answer.
func (r reply) give(ans *Answer) {
	if r.ch != nil {
		r.ch <- ans
		return
	}
	r.fn(ans)
}

// replyOf is where a Call's answer goes.
func replyOf(to payment.ReplyTo, m *Call) reply {
	return reply{to: to, ch: m.Reply, fn: m.OnAnswer}
}

// takeReply removes and returns the caller waiting under to.
func (a *paymentActor) takeReply(to payment.ReplyTo) (reply, bool) {
	for i, r := range a.replies {
		if r.to == to {
			a.replies = append(a.replies[:i], a.replies[i+1:]...)
			return r, true
		}
	}
	return reply{}, false
}

// checkIdle asks the actor to stop if it is idle: its last caller is gone.
type checkIdle struct{}

func (a *paymentActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		var err error
		if a.hash, err = hashOf(ctx.Self().Id); err != nil {
			ctx.Logger().Error("payment actor", "err", err)
			ctx.Stop(ctx.Self())
			return
		}
		var st PaymentState
		if a.deps.Load != nil {
			st, a.loadErr = a.deps.Load(a.hash)
		}
		a.load(st)
		if a.sent != nil && a.sent.onion == nil && len(a.sent.route) > 0 {
			a.reattach(ctx)
		}
		a.reattachSendParts(ctx)
		switch {
		case st.InParts && st.Resume != nil:
			a.resumeParts(ctx, st)
		case st.Between:
			a.resumePay(ctx, st)
		}
	case *Call:
		if a.loadErr != nil {
			replyOf(0, m).give(&Answer{Err: &payment.Error{Code: -1, Message: "ledger read failed: " + a.loadErr.Error()}})
			return
		}
		a.next++
		a.replies = append(a.replies, replyOf(a.next, m))
		a.step(ctx, withReply(m.Event, a.next))
	case *messages.RouteFound:
		a.step(ctx, payment.RouteFound{Route: m.Route})
	case *messages.RouteNotFound:
		a.step(ctx, payment.RouteNotFound{Err: m.Err})
	case *messages.FeeFloorFound:
		a.step(ctx, payment.FeeFloorFound{Floor: m.Floor, Err: m.Err})
	case *messages.FlowPlanned:
		a.flowPlanned(ctx, m)
	case planAgain:
		a.step(ctx, payment.PlanAgain{})
	case *messages.Written:
		a.written(ctx, m.Err)
	case *messages.HTLCResolved:
		a.resolved(ctx, m)
	case isPaying:
		// A pay that just ended still counts until its last write is
		// durable: listpays reads the ledger again once this says no.
		m.reply <- a.core != nil && (a.core.Paying() || a.writing || len(a.queue) > 0)
	case *waitTimeout:
		delete(a.timers, m.reply)
		a.step(ctx, payment.WaitTimeout{Reply: m.reply})
	case checkIdle:
	case *actor.Stopping:
		for _, t := range a.timers {
			t.Stop()
		}
		return
	default:
		return
	}
	a.stopIfIdle(ctx)
}

// stopIfIdle stops the actor when nothing is under way, nobody waits, and
// the engine agrees that no caller can reach it any more: a finished
// payment lives on in the ledger, not in memory.
func (a *paymentActor) stopIfIdle(ctx actor.Context) {
	if a.deps.Idle == nil || a.writing || len(a.queue) > 0 || len(a.replies) > 0 || a.core == nil || !a.core.Done() {
		return
	}
	if a.deps.Idle(a.hash, ctx.Self()) {
		ctx.Stop(ctx.Self())
	}
}

func withReply(ev payment.Event, r payment.ReplyTo) payment.Event {
	switch e := ev.(type) {
	case payment.SendPay:
		e.Reply = r
		return e
	case payment.WaitSendPay:
		e.Reply = r
		return e
	case payment.DelPay:
		e.Reply = r
		return e
	case payment.Pay:
		e.Reply = r
		return e
	}
	return ev
}

// step feeds the core one event and runs the effects it returns.
func (a *paymentActor) step(ctx actor.Context, ev payment.Event) {
	effects, err := a.core.Step(a.deps.Clock(), ev)
	if err != nil {
		ctx.Logger().Error("payment: event refused", "hash", fmt.Sprintf("%x", a.hash), "err", err)
		return
	}
	a.queue = append(a.queue, effects...)
	a.run(ctx)
}

// run carries out queued effects in order until one must wait for the
// ledger.
func (a *paymentActor) run(ctx actor.Context) {
	for len(a.queue) > 0 && !a.writing {
		e := a.queue[0]
		a.queue = a.queue[1:]
		switch e := e.(type) {
		case payment.FindRoute:
			p := e.Params
			// A fuzz seed drawn for every route pay asks for, as v0.7's
			// pay calls getroute without one, from the engine's pool.
			p.FromID = a.deps.Self
			p.Seed, p.Reuse = a.deps.fuzzSeed()
			ctx.Request(a.deps.Graph, &messages.FindRoute{Params: p, Now: a.deps.Clock()})
		case payment.FindFeeFloor:
			p := e.Params
			p.FromID = a.deps.Self
			ctx.Request(a.deps.Graph, &messages.FindFeeFloor{Params: p})
		case payment.PersistAttempt:
			if e.Part != 0 {
				a.persistPartAttempt(ctx, e)
				continue
			}
			// The onion, its HTLC id and its circuit are fixed before the
			// attempt is written, so after a crash the ledger can find
			// the HTLC and read its failure.
			a.parts++
			a.deps.Metrics.Attempt()
			a.sent = &sentHTLC{id: a.deps.NextID(), part: a.parts, route: e.Route}
			att := toAttempt(&e.Record, e.Route, a.sent.id, a.sent.part)
			if a.deps.NoOnion {
				// The link builds the onion and reads the failure: there is
				// no circuit to keep.
				a.sent.secret, a.sent.total, a.sent.height = e.Secret, e.Total, a.deps.Height()
				a.writing, a.persist = true, true
				ctx.Request(a.deps.Ledger, &messages.WriteLedger{
					Payments: []messages.Payment{toPayment(&e.Record)},
					Attempts: []messages.Attempt{att},
				})
				continue
			}
			o, err := htlc.BuildOnion(htlc.OnionParams{Route: e.Route, PaymentHash: a.hash, PaymentSecret: e.Secret,
				TotalMsat: e.Total, BlockHeight: a.deps.Height()}, a.deps.Rand)
			if err == nil {
				a.sent.onion, a.sent.circuit = o, o.Circuit
				att.Circuit, _ = o.Circuit.MarshalBinary()
			} else {
				ctx.Logger().Error("payment: onion", "hash", fmt.Sprintf("%x", a.hash), "err", err)
			}
			a.writing, a.persist = true, true
			ctx.Request(a.deps.Ledger, &messages.WriteLedger{
				Payments: []messages.Payment{toPayment(&e.Record)},
				Attempts: []messages.Attempt{att},
			})
		case payment.PersistOutcome:
			if e.Part != 0 || e.PaymentOnly {
				a.persistPartOutcome(ctx, e)
				continue
			}
			a.writing = true
			var id, part uint64
			if a.sent != nil {
				id, part = a.sent.id, a.sent.part
			}
			att := toAttempt(&e.Record, a.routeOf(), id, part)
			ctx.Request(a.deps.Ledger, &messages.WriteLedger{Payments: []messages.Payment{toPayment(&e.Record)}, Attempts: []messages.Attempt{att}})
		case payment.DeleteRecord:
			a.writing, a.delete = true, true
			ctx.Request(a.deps.Ledger, &messages.DeleteLedger{PaymentHash: a.hash})
		case payment.DeleteRows:
			a.writing, a.delete = true, true
			ctx.Request(a.deps.Ledger, &messages.DeleteLedger{PaymentHash: a.hash, Rows: deleteRows(e)})
		case payment.SendHTLC:
			if e.Part != 0 {
				a.sendPart(ctx, e)
				continue
			}
			a.send(ctx, e)
		case payment.ReportFailure:
			until := a.deps.Clock().Add(a.deps.avoidFor())
			if ex, ok := avoidOf(e.Failure.Routing); ok {
				ctx.Send(a.deps.Graph, &messages.Avoid{Exclude: ex, Until: until})
			}
			for _, h := range e.Route {
				ctx.Send(a.deps.Graph, &messages.Avoid{Exclude: graph.ExcludeChannel(graph.SCIDDir{SCID: h.Channel, Dir: h.Direction}), Until: until})
			}
		case payment.Reply:
			if to, ok := a.takeReply(e.To); ok {
				if t, ok := a.timers[e.To]; ok {
					t.Stop()
					delete(a.timers, e.To)
				}
				to.give(&Answer{Record: e.Record, Message: e.Message, Err: e.Err, Records: e.Records})
			}
		case payment.WaitToPlan:
			self, root := ctx.Self(), ctx.ActorSystem().Root
			time.AfterFunc(e.After, func() { root.Send(self, planAgain{}) })
		case payment.PlanFlow:
			p := e.Params
			p.Source = a.deps.Self
			ctx.Request(a.deps.Graph, &messages.PlanFlow{Params: p, Now: a.deps.Clock(), UseAvoid: true, Reserve: true})
		case payment.StartTimer:
			self, root, r := ctx.Self(), ctx.ActorSystem().Root, e.Reply
			if a.timers == nil {
				a.timers = map[payment.ReplyTo]*time.Timer{}
			}
			a.timers[r] = time.AfterFunc(e.After, func() { root.Send(self, &waitTimeout{reply: r}) })
		}
	}
}

func (a *paymentActor) routeOf() graph.Route {
	if a.sent != nil {
		return a.sent.route
	}
	return nil
}

// written continues after a ledger write. A write that failed leaves the
// attempt unsent; the callers are told and the payment stays as it was.
func (a *paymentActor) written(ctx actor.Context, err error) {
	if !a.writing {
		return
	}
	a.writing = false
	persist, del := a.persist, a.delete
	a.persist, a.delete = false, false
	if del {
		a.step(ctx, payment.Deleted{Err: err})
		return
	}
	if err != nil {
		ctx.Logger().Error("payment: ledger write failed", "hash", fmt.Sprintf("%x", a.hash), "err", err)
		a.queue = nil
		for _, r := range a.replies {
			r.give(&Answer{Err: &payment.Error{Code: -1, Message: "ledger write failed: " + err.Error()}})
		}
		a.replies = nil
		return
	}
	if persist {
		part := a.persistPart
		a.persistPart = 0
		a.step(ctx, payment.Persisted{Part: part})
		return
	}
	a.run(ctx)
}

// send offers the attempt's HTLC to the first hop's peer actor.
func (a *paymentActor) send(ctx actor.Context, e payment.SendHTLC) {
	peer := a.deps.Peer(e.Route[0].Channel)
	if peer == nil {
		f, _ := htlc.NoFirstPeerFailure(a.deps.Self, e.Route)
		a.fail(ctx, f)
		return
	}
	if a.deps.NoOnion && a.sent != nil {
		s := a.sent
		expiry, err := htlc.AbsoluteCLTV(s.height, s.route[0].Delay)
		if err != nil {
			f, _ := htlc.LocalFailure(a.deps.Self, e.Route, lnwire.CodeTemporaryNodeFailure, err.Error())
			a.fail(ctx, f)
			return
		}
		ctx.Send(a.deps.Graph, &messages.Reserve{Route: e.Route})
		s.reserved = true
		ctx.Request(peer, &messages.OfferHTLC{ID: s.id, Amount: s.route[0].Amount, Expiry: expiry, PaymentHash: e.Hash,
			Route: s.route, BlockHeight: s.height, Secret: s.secret, Total: s.total})
		return
	}
	if a.sent == nil || a.sent.onion == nil {
		f, _ := htlc.LocalFailure(a.deps.Self, e.Route, lnwire.CodeTemporaryNodeFailure, "could not build the onion")
		a.fail(ctx, f)
		return
	}
	o := a.sent.onion
	// Held from now until the outcome, so no plan counts on it twice.
	ctx.Send(a.deps.Graph, &messages.Reserve{Route: e.Route})
	a.sent.reserved = true
	ctx.Request(peer, &messages.OfferHTLC{ID: a.sent.id, Amount: o.Amount, Expiry: o.Expiry, PaymentHash: e.Hash, Onion: o.Packet[:]})
	// The peer copies the packet; only the circuit is needed from here on,
	// and thousands of payments wait in flight.
	a.sent.onion = nil
}

// resumePay takes up a single-path pay that had no attempt out when the
// previous run ended.
func (a *paymentActor) resumePay(ctx actor.Context, st PaymentState) {
	effects, err := a.core.ResumePay(a.deps.Clock(), *st.Resume, st.Attempts)
	if err != nil {
		ctx.Logger().Error("payment: resume pay", "hash", fmt.Sprintf("%x", a.hash), "err", err)
		return
	}
	a.queue = append(a.queue, effects...)
	a.run(ctx)
}

// reattach asks the first hop's peer what became of the HTLC a previous
// run sent (restart recovery).
func (a *paymentActor) reattach(ctx actor.Context) {
	if peer := a.deps.Peer(a.sent.route[0].Channel); peer != nil {
		ctx.Send(a.deps.Graph, &messages.Reserve{Route: a.sent.route})
		a.sent.reserved = true
		ctx.Request(peer, &messages.ReattachHTLC{ID: a.sent.id, Amount: a.sent.route[0].Amount, Hash: a.hash, Route: a.sent.route})
		return
	}
	ctx.Logger().Error("payment: in flight on a channel we no longer have", "hash", fmt.Sprintf("%x", a.hash))
}

// resolved turns the HTLC's outcome into the core's Settled or Failed.
func (a *paymentActor) resolved(ctx actor.Context, m *messages.HTLCResolved) {
	sent, part := a.sentFor(m.ID)
	if sent == nil {
		return
	}
	route := sent.route
	a.release(ctx, sent)
	switch {
	case m.Preimage != nil:
		ctx.Send(a.deps.Graph, &messages.Succeeded{Route: route})
		ctx.Send(a.deps.Graph, &messages.RouteSettled{Route: route, Now: a.deps.Clock()})
		a.step(ctx, payment.Settled{Preimage: *m.Preimage, Part: part})
	case m.Reason != nil:
		if sent.unreadable {
			a.step(ctx, payment.Failed{Failure: payment.Failure{Code: payment.CodeUnparseableOnion, Message: "Malformed error reply", OnionReply: m.Reason}, Part: part})
			return
		}
		f, err := htlc.ReadFailure(a.deps.Self, route, sent.circuit, m.Reason)
		if err != nil {
			f, _ = htlc.LocalFailure(a.deps.Self, route, lnwire.CodeTemporaryNodeFailure, err.Error())
		}
		a.failPart(ctx, f, sent, part)
	case m.Malformed != nil:
		f, _ := htlc.LocalFailure(a.deps.Self, route, lnwire.FailCode(m.Malformed.Code), "first hop could not parse the onion")
		a.failPart(ctx, f, sent, part)
	case m.Sourced != nil && m.Sourced.Unreadable:
		// The link could not read the failure onion, and keeps it.
		a.step(ctx, payment.Failed{Failure: payment.Failure{Code: payment.CodeUnparseableOnion, Message: htlc.MessageMalformedReply}, Part: part})
	case m.Sourced != nil:
		f, err := htlc.SourcedFailure(a.deps.Self, route, m.Sourced.Index, m.Sourced.Message)
		if err != nil {
			f, _ = htlc.LocalFailure(a.deps.Self, route, lnwire.CodeTemporaryNodeFailure, err.Error())
		} else if m.Sourced.Index == 0 && m.Sourced.Detail != "" {
			f.Message = fmt.Sprintf("%s (%s)", f.Message, m.Sourced.Detail)
		}
		a.failPart(ctx, f, sent, part)
	default:
		f, _ := htlc.LocalFailure(a.deps.Self, route, link.LocalFailCode(m.Local), fmt.Sprint(m.Local))
		a.failPart(ctx, f, sent, part)
	}
}

// sentFor finds the attempt of an HTLC id: the single attempt (part 0)
// or a part of a pay in parts.
func (a *paymentActor) sentFor(id uint64) (*sentHTLC, uint64) {
	if a.sent != nil && a.sent.id == id {
		return a.sent, 0
	}
	for part, s := range a.flow {
		if s.id == id {
			return s, part
		}
	}
	return nil, 0
}

// release gives back what the attempt holds in the graph's knowledge.
func (a *paymentActor) release(ctx actor.Context, s *sentHTLC) {
	if s.reserved {
		ctx.Send(a.deps.Graph, &messages.Unreserve{Route: s.route})
		s.reserved = false
	}
}

func (a *paymentActor) fail(ctx actor.Context, f *htlc.Failure) { a.failPart(ctx, f, a.sent, 0) }

func (a *paymentActor) failPart(ctx actor.Context, f *htlc.Failure, sent *sentHTLC, part uint64) {
	if r := f.Routing; r != nil && sent != nil {
		if m := learnFailure(sent.route, r.ErringIndex, uint16(r.FailCode), a.deps.Clock()); m != nil {
			ctx.Send(a.deps.Graph, m)
		}
	}
	if f.Update != nil && f.Routing != nil {
		ctx.Send(a.deps.Graph, &messages.ChannelUpdate{Update: htlc.PolicyUpdate(f.Update), Signer: f.Routing.ErringNode})
	}
	a.step(ctx, payment.Failed{Failure: payment.Failure{Code: f.Code, Message: f.Message, Routing: f.Routing, OnionReply: f.OnionReply}, Part: part})
}

// avoidOf is the exclusion a failure teaches: the node for a NODE-bit
// code, else the channel direction.
func avoidOf(r *htlc.RoutingFailure) (graph.Exclusion, bool) {
	if r == nil || r.ErringIndex == 0 {
		return graph.Exclusion{}, false
	}
	if r.FailCode&lnwire.FlagNode != 0 {
		return graph.ExcludeNode(r.ErringNode), true
	}
	return graph.ExcludeChannel(graph.SCIDDir{SCID: r.ErringChannel, Dir: r.ErringDirection}), true
}

// fuzzSeed draws the fuzz seed of one route search: one of d.Seeds, to be
// reused, or a fresh one if there are none.
func (d *PaymentDeps) fuzzSeed() (graph.Seed, bool) {
	if len(d.Seeds) == 0 {
		return drawSeed(d.Rand), false
	}
	var b [1]byte
	if d.Rand != nil {
		_, _ = io.ReadFull(d.Rand, b[:]) // a failed read picks the first
	}
	return d.Seeds[int(b[0])%len(d.Seeds)], true
}
