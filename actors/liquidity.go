package actors

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/messages"
)

// flowJob is a plan for one worker, with the snapshot it runs on.
type flowJob struct {
	g      *graph.Graph
	params graph.FlowParams
	// reserve, when set, holds the plan's parts in it before answering,
	// and the worker then tells done that the next reserving plan may run.
	reserve *graph.Knowledge
	done    *actor.PID
}

// planDone tells the graph actor a reserving plan has been answered.
type planDone struct{}

// queuedPlan is a reserving plan waiting for the one before it.
type queuedPlan struct {
	m      *messages.PlanFlow
	sender *actor.PID
}

// saveKnowledge tells the graph actor to write its knowledge to the ledger.
type saveKnowledge struct{}

// receiveLiquidity handles the graph actor's liquidity messages: what
// outcomes teach, reservations of HTLCs in flight, our own balances, and
// plans (handed to a worker with the knowledge as it stands, so planning
// never queues in the mailbox).
func (a *graphActor) receiveLiquidity(ctx actor.Context) {
	k := a.opts.Knowledge
	switch m := ctx.Message().(type) {
	case *messages.PlanFlow:
		if m.Reserve && a.planBusy {
			a.planQueue = append(a.planQueue, queuedPlan{m: m, sender: ctx.Sender()})
			return
		}
		a.dispatchPlan(ctx, m, ctx.Sender())
	case planDone:
		a.planBusy = false
		if len(a.planQueue) > 0 {
			q := a.planQueue[0]
			a.planQueue = a.planQueue[1:]
			a.dispatchPlan(ctx, q.m, q.sender)
		}
	case *messages.Reserve:
		k.Reserve(m.Route)
	case *messages.Unreserve:
		if err := k.Unreserve(m.Route); err != nil {
			ctx.Logger().Error("graph: unreserve", "err", err)
		}
	case *messages.RouteFailed:
		if !m.Liquidity {
			// Only the channels before the failing one are known to
			// have carried their amounts.
			_ = k.Failed(a.g, m.Route[:m.At], m.At, m.Now)
		} else if err := k.Failed(a.g, m.Route, m.At, m.Now); err != nil {
			ctx.Logger().Error("graph: learn failure", "err", err)
		}
	case *messages.RouteSettled:
		_ = k.Succeeded(a.g, m.Route, m.Now)
	case *messages.OwnBalance:
		k.SetExact(m.Dir, m.Balance, m.Now)
	case saveKnowledge:
		if data, err := k.MarshalBinary(); err == nil && a.opts.Ledger != nil {
			ctx.Send(a.opts.Ledger, &messages.WriteKnowledge{Data: data})
		}
	}
}

// startSaver writes the knowledge through the ledger actor every
// SaveEvery, until the graph actor stops.
func (a *graphActor) startSaver(ctx actor.Context) {
	if a.opts.Ledger == nil {
		return
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.saver, a.saverDone = time.NewTicker(a.opts.SaveEvery), make(chan struct{})
	go func(t *time.Ticker, done chan struct{}) {
		for {
			select {
			case <-t.C:
				root.Send(self, saveKnowledge{})
			case <-done:
				return
			}
		}
	}(a.saver, a.saverDone)
}

func (a *graphActor) stopSaver() {
	if a.saver != nil {
		a.saver.Stop()
		close(a.saverDone)
		a.saver = nil
	}
}

// learnFailure is what a failed HTLC over route teaches, as a message for
// the graph actor: erring index e (0: our own node, whose channels are
// known exactly; k+1: route node k, whose outgoing channel is hop k+1)
// blames hop e; only a temporary_channel_failure says it lacked liquidity.
func learnFailure(route graph.Route, erringIndex int, failCode uint16, now time.Time) *messages.RouteFailed {
	e := erringIndex
	if e == 0 || e > len(route) {
		return nil
	}
	const temporaryChannelFailure = 0x1007
	return &messages.RouteFailed{Route: route, At: e, Liquidity: e < len(route) && failCode == temporaryChannelFailure, Now: now}
}

// ownDir is the direction of our channel scid in which we send: 0 when we
// are its first node.
func ownDir(g *graph.Graph, self graph.NodeID, scid graph.SCID) graph.SCIDDir {
	d := graph.SCIDDir{SCID: scid}
	if c, ok := g.Channel(scid); ok && c.Node2 == self {
		d.Dir = 1
	}
	return d
}

// loadKnowledge reads the liquidity knowledge the ledger kept from the last
// run; knowledge it cannot read is dropped (it is only a guide) with a log
// line, but a ledger it cannot read is an error.
func loadKnowledge(opts Options) (*graph.Knowledge, error) {
	k := graph.NewKnowledge(opts.HalfLife)
	data, err := opts.Ledger.Knowledge()
	if err != nil {
		return nil, fmt.Errorf("actors: %w", err)
	}
	if data != nil {
		if err := k.UnmarshalBinary(data); err != nil && opts.Logger != nil {
			opts.Logger.Warn("liquidity knowledge dropped", "err", err)
		}
	}
	return k, nil
}

// saveKnowledge writes the knowledge to the ledger once the actors are
// stopped (the caller closes the ledger after Stop).
func (e *Engine) saveKnowledge() {
	data, err := e.knowledge.MarshalBinary()
	if err == nil {
		err = e.opts.Ledger.WriteKnowledge(context.Background(), data)
	}
	if err != nil && e.opts.Logger != nil {
		e.opts.Logger.Error("liquidity knowledge not saved", "err", err)
	}
}

// Knowledge returns the engine's liquidity knowledge, shared by every
// payment: what getroutes and the askrene-* commands show and change.
func (e *Engine) Knowledge() *graph.Knowledge { return e.knowledge }

// PlanFlow asks the graph actor's workers for a multi-part plan from us
// (Params.Source, when zero, is our node). With Params.Liquidity nil the
// engine's knowledge is used; useAvoid also leaves out what failures
// taught.
func (e *Engine) PlanFlow(ctx context.Context, p graph.FlowParams, useAvoid bool) (*graph.Flow, error) {
	if p.Source == (graph.NodeID{}) {
		p.Source = e.opts.Self
	}
	res := e.askGraph(ctx, &messages.PlanFlow{Params: p, Now: e.opts.Clock(), UseAvoid: useAvoid})
	switch r := res.(type) {
	case *messages.FlowPlanned:
		return r.Flow, r.Err
	case error:
		return nil, fmt.Errorf("actors: plan: %w", r)
	}
	return nil, fmt.Errorf("actors: plan: unexpected %T", res)
}

// Self is our node's id.
func (e *Engine) Self() graph.NodeID { return e.opts.Self }

// Graph is the graph snapshot the engine started with.
func (e *Engine) Graph() *graph.Graph { return e.opts.Graph }

// Channels are our channels as the engine started with them.
func (e *Engine) Channels() []Channel { return e.opts.Channels }

// dispatchPlan hands a plan to a worker with the knowledge as it stands
// now; a reserving plan holds the planner until its parts are reserved.
func (a *graphActor) dispatchPlan(ctx actor.Context, m *messages.PlanFlow, sender *actor.PID) {
	p := m.Params
	if p.Liquidity == nil {
		p.Liquidity = a.opts.Knowledge.At(m.Now)
	}
	if m.UseAvoid {
		p.Avoid = a.avoidSet(m.Now)
	}
	job := &flowJob{g: a.g, params: p}
	if m.Reserve {
		job.reserve, job.done, a.planBusy = a.opts.Knowledge, ctx.Self(), true
	}
	a.hand(ctx, job, sender)
}

// unreserved is a Liquidity with every reservation left out.
type unreserved struct{ graph.Liquidity }

func (u unreserved) EachBound(fn func(d graph.SCIDDir, lo, hi, reserved graph.MilliSat)) {
	u.Liquidity.EachBound(func(d graph.SCIDDir, lo, hi, _ graph.MilliSat) {
		if lo != 0 || hi != math.MaxUint64 {
			fn(d, lo, hi, 0)
		}
	})
}

// heldOnly reports whether a plan that failed would have been found
// without the reservations of HTLCs in flight: then the payment waits for
// them instead of failing.
func heldOnly(g *graph.Graph, p graph.FlowParams) bool {
	if p.Liquidity == nil {
		return false
	}
	held := false
	p.Liquidity.EachBound(func(_ graph.SCIDDir, _, _, reserved graph.MilliSat) { held = held || reserved > 0 })
	if !held {
		return false
	}
	p.Liquidity = unreserved{p.Liquidity}
	_, err := g.PlanFlow(p)
	return err == nil
}
