package actors

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/metrics"
	"github.com/payengine/payengine/payment"
)

// GraphOptions configure the graph actor. The zero value means defaults.
type GraphOptions struct {
	// Workers is how many route searches run at once; default GOMAXPROCS.
	Workers int
	// UpdateDelay gathers channel_updates for this long before a new
	// snapshot is built with them (a rebuild re-sorts every edge, so one
	// per update would be waste under a burst of failures). Default
	// DefaultUpdateDelay.
	UpdateDelay time.Duration
	// Metrics receives each search's duration (nil: none).
	Metrics *metrics.Engine
	// Knowledge is the liquidity knowledge shared by every payment: the
	// graph actor writes what outcomes teach into it and plans read it
	// (nil: a new one with graph.DefaultHalfLife).
	Knowledge *graph.Knowledge
	// Ledger, when set, is the ledger actor the knowledge is written
	// through every SaveEvery (default DefaultSaveEvery).
	Ledger    *actor.PID
	SaveEvery time.Duration
}

// DefaultSaveEvery is GraphOptions.SaveEvery's default.
const DefaultSaveEvery = time.Minute

// DefaultUpdateDelay is GraphOptions.UpdateDelay's default.
const DefaultUpdateDelay = 200 * time.Millisecond

// GraphProps returns the props of a graph actor over snapshot g. It owns
// the current snapshot and the failure memory; each FindRoute is handed,
// with the snapshot, to one of its route workers (round robin), which
// answers the sender directly: path-finding never queues in the graph
// actor's mailbox.
func GraphProps(g *graph.Graph, opts GraphOptions) *actor.Props {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.UpdateDelay <= 0 {
		opts.UpdateDelay = DefaultUpdateDelay
	}
	if opts.Knowledge == nil {
		opts.Knowledge = graph.NewKnowledge(0)
	}
	if opts.SaveEvery <= 0 {
		opts.SaveEvery = DefaultSaveEvery
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &graphActor{g: g, opts: opts, avoidCh: map[graph.SCIDDir]time.Time{}, avoidNode: map[graph.NodeID]time.Time{}}
	})
}

type graphActor struct {
	g       *graph.Graph
	opts    GraphOptions
	workers []*actor.PID
	next    int
	// What failures taught, until when: channel directions and nodes,
	// parsed once when they arrive.
	avoidCh   map[graph.SCIDDir]time.Time
	avoidNode map[graph.NodeID]time.Time
	set       *graph.AvoidSet      // both, for the searches; nil: to rebuild
	expiry    time.Time            // when the first of them runs out
	updates   []graph.PolicyUpdate // checked, waiting for the next rebuild
	saver     *time.Ticker         // writes the knowledge to the ledger
	saverDone chan struct{}
	planBusy  bool         // a reserving plan is with a worker
	planQueue []queuedPlan // reserving plans waiting for it
}

// rebuild tells the graph actor to apply the updates it gathered.
type rebuild struct{}

// routeJob is a search for one worker: the snapshot travels with it, so a
// new snapshot never races a search under way.
type routeJob struct {
	g      *graph.Graph
	params graph.GetRouteParams
	floor  bool // FeeFloor, not GetRoute
}

// hand gives a search to the next worker, round robin; the worker answers
// sender.
func (a *graphActor) hand(ctx actor.Context, job any, sender *actor.PID) {
	w := a.workers[a.next%len(a.workers)]
	a.next++
	ctx.RequestWithCustomSender(w, job, sender)
}

func (a *graphActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		for i := 0; i < a.opts.Workers; i++ {
			a.workers = append(a.workers, ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return routeWorker{m: a.opts.Metrics} })))
		}
		a.startSaver(ctx)
	case *actor.Stopping:
		a.stopSaver()
	case *messages.FindRoute:
		p := m.Params
		p.Avoid = a.avoidSet(m.Now)
		a.hand(ctx, &routeJob{g: a.g, params: p}, ctx.Sender())
	case *messages.FindFeeFloor:
		a.hand(ctx, &routeJob{g: a.g, params: m.Params, floor: true}, ctx.Sender())
	case *messages.Avoid:
		a.remember(m)
	case *messages.ChannelUpdate:
		a.channelUpdate(ctx, m)
	case rebuild:
		a.g, _ = a.g.WithPolicies(a.updates) // same layout: the set still serves
		a.updates = nil
	case *messages.Succeeded:
		forgot := false
		for i, h := range m.Route {
			d := graph.SCIDDir{SCID: h.Channel, Dir: h.Direction}
			if _, ok := a.avoidCh[d]; ok {
				delete(a.avoidCh, d)
				forgot = true
			}
			if _, ok := a.avoidNode[h.ID]; ok && i < len(m.Route)-1 {
				delete(a.avoidNode, h.ID)
				forgot = true
			}
		}
		if forgot {
			a.set = nil // rebuilt on the next search
		}
	case *messages.NewSnapshot:
		a.g, a.set = m.Graph, nil
	default:
		a.receiveLiquidity(ctx)
	}
}

// remember adds what a failure taught to the failure memory: the set the
// next searches get grows by one, copied, as searches under way share the
// old one.
func (a *graphActor) remember(m *messages.Avoid) {
	if x := m.Exclude; !x.IsNode {
		d := x.Channel
		if a.avoidCh[d].Before(m.Until) {
			a.avoidCh[d] = m.Until
			if a.set != nil {
				a.set = a.set.With(a.g, &d, nil)
			}
		}
	} else {
		n := x.Node
		if a.avoidNode[n].Before(m.Until) {
			a.avoidNode[n] = m.Until
			if a.set != nil {
				a.set = a.set.With(a.g, nil, &n)
			}
		}
	}
	if m.Until.Before(a.expiry) || a.expiry.IsZero() {
		a.expiry = m.Until
	}
}

// avoidSet is the failure memory as of now, rebuilt only when something in
// it ran out (or a success or a new layout dropped it).
func (a *graphActor) avoidSet(now time.Time) *graph.AvoidSet {
	if a.set != nil && now.Before(a.expiry) {
		return a.set
	}
	var chans []graph.SCIDDir
	var nodes []graph.NodeID
	a.expiry = time.Time{}
	for d, until := range a.avoidCh {
		if !now.Before(until) {
			delete(a.avoidCh, d)
			continue
		}
		chans = append(chans, d)
		if a.expiry.IsZero() || until.Before(a.expiry) {
			a.expiry = until
		}
	}
	for n, until := range a.avoidNode {
		if !now.Before(until) {
			delete(a.avoidNode, n)
			continue
		}
		nodes = append(nodes, n)
		if a.expiry.IsZero() || until.Before(a.expiry) {
			a.expiry = until
		}
	}
	if a.expiry.IsZero() {
		a.expiry = now.Add(time.Hour) // nothing to run out
	}
	a.set = a.g.NewAvoidSet(chans, nodes)
	return a.set
}

// channelUpdate keeps an update for the next rebuild if its signer owns the
// direction it updates: a node may only speak for its own side of a
// channel.
func (a *graphActor) channelUpdate(ctx actor.Context, m *messages.ChannelUpdate) {
	c, ok := a.g.Channel(m.Update.SCID)
	if !ok || m.Update.Dir > 1 || [2]graph.NodeID{c.Node1, c.Node2}[m.Update.Dir] != m.Signer {
		return
	}
	if len(a.updates) == 0 {
		self, root := ctx.Self(), ctx.ActorSystem().Root
		time.AfterFunc(a.opts.UpdateDelay, func() { root.Send(self, rebuild{}) })
	}
	a.updates = append(a.updates, m.Update)
}

// routeWorker runs one search at a time and answers the requester.
type routeWorker struct{ m *metrics.Engine }

func (w routeWorker) Receive(ctx actor.Context) {
	if job, ok := ctx.Message().(*flowJob); ok {
		start := time.Now()
		f, err := job.g.PlanFlow(job.params)
		if err != nil && job.reserve != nil && errors.Is(err, graph.ErrNoRoute) && heldOnly(job.g, job.params) {
			err = fmt.Errorf("%w: %w: %w", graph.ErrNoRoute, payment.ErrLiquidityHeld, err)
		}
		w.m.RouteSearch(time.Since(start))
		if job.reserve != nil && err == nil {
			for _, part := range f.Parts {
				job.reserve.Reserve(part.Route)
			}
		}
		ctx.Respond(&messages.FlowPlanned{Flow: f, Err: err})
		if job.done != nil {
			ctx.Send(job.done, planDone{})
		}
		return
	}
	job, ok := ctx.Message().(*routeJob)
	if !ok {
		return
	}
	start := time.Now()
	if job.floor {
		f, err := job.g.FeeFloor(job.params)
		w.m.RouteSearch(time.Since(start))
		ctx.Respond(&messages.FeeFloorFound{Floor: f, Err: err})
		return
	}
	r, err := job.g.GetRoute(job.params)
	w.m.RouteSearch(time.Since(start))
	if err != nil {
		ctx.Respond(&messages.RouteNotFound{Err: err})
		return
	}
	ctx.Respond(&messages.RouteFound{Route: r})
}
