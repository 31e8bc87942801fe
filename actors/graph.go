package actors

import (
	"runtime"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/metrics"
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
}

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
	return actor.PropsFromProducer(func() actor.Actor {
		return &graphActor{g: g, opts: opts, avoid: map[string]time.Time{}}
	})
}

type graphActor struct {
	g       *graph.Graph
	opts    GraphOptions
	workers []*actor.PID
	next    int
	avoid   map[string]time.Time // exclusion -> until
	updates []graph.PolicyUpdate // checked, waiting for the next rebuild
}

// rebuild tells the graph actor to apply the updates it gathered.
type rebuild struct{}

// routeJob is a search for one worker: the snapshot travels with it, so a
// new snapshot never races a search under way.
type routeJob struct {
	g      *graph.Graph
	params graph.GetRouteParams
}

func (a *graphActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		for i := 0; i < a.opts.Workers; i++ {
			a.workers = append(a.workers, ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return routeWorker{m: a.opts.Metrics} })))
		}
	case *messages.FindRoute:
		p := m.Params
		p.Exclude = append([]string(nil), p.Exclude...)
		for ex, until := range a.avoid {
			if m.Now.Before(until) {
				p.Exclude = append(p.Exclude, ex)
			} else {
				delete(a.avoid, ex)
			}
		}
		w := a.workers[a.next%len(a.workers)]
		a.next++
		ctx.RequestWithCustomSender(w, &routeJob{g: a.g, params: p}, ctx.Sender())
	case *messages.Avoid:
		if a.avoid[m.Exclude].Before(m.Until) {
			a.avoid[m.Exclude] = m.Until
		}
	case *messages.ChannelUpdate:
		a.channelUpdate(ctx, m)
	case rebuild:
		a.g, _ = a.g.WithPolicies(a.updates)
		a.updates = nil
	case *messages.Succeeded:
		for i, h := range m.Route {
			delete(a.avoid, graph.SCIDDir{SCID: h.Channel, Dir: h.Direction}.String())
			if i < len(m.Route)-1 {
				delete(a.avoid, h.ID.String())
			}
		}
	case *messages.NewSnapshot:
		a.g = m.Graph
	}
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
	job, ok := ctx.Message().(*routeJob)
	if !ok {
		return
	}
	start := time.Now()
	r, err := job.g.GetRoute(job.params)
	w.m.RouteSearch(time.Since(start))
	if err != nil {
		ctx.Respond(&messages.RouteNotFound{Err: err})
		return
	}
	ctx.Respond(&messages.RouteFound{Route: r})
}
