package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
	"github.com/payengine/payengine/messages"
)

// PeerOptions configure the peer actor of one channel of ours.
type PeerOptions struct {
	Channel   graph.SCID
	Spendable graph.MilliSat // what our side can send now
	MaxHTLCs  int            // HTLC slots of our side; default 483
	Link      link.Link
	// Graph, when set, is told our side's balance (as OwnBalance on
	// direction Dir, at Clock's time) whenever a settled HTLC changes it.
	Graph *actor.PID
	Dir   graph.SCIDDir
	Clock func() time.Time
}

// PeerProps returns the props of the peer actor of one channel. It owns the
// channel's spendable balance and HTLC slots as we see them: an OfferHTLC
// that does not fit is refused locally (HTLCResolved.Local) without
// reaching the network; one that fits is added through the link, and its
// outcome goes back to the sender. A settled HTLC's amount is spent; a
// failed one's returns.
func PeerProps(opts PeerOptions) *actor.Props {
	if opts.MaxHTLCs <= 0 {
		opts.MaxHTLCs = 483
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &peerActor{opts: opts, spendable: opts.Spendable, inflight: map[uint64]offered{}, wantsOnion: link.WantsOnion(opts.Link)}
	})
}

type peerActor struct {
	opts       PeerOptions
	spendable  graph.MilliSat
	inflight   map[uint64]offered
	wantsOnion bool // the link carries our onion (not lnd, which builds its own)
}

type offered struct {
	amount graph.MilliSat
	reply  *actor.PID
}

// SetSpendable tells a peer actor what its channel can send now, as the
// backend reports it (lnd's balance, which moves with payments received
// too); HTLCs offered since are the backend's to count.
type SetSpendable struct{ Amount graph.MilliSat }

// linkDone carries a link's result into the actor's mailbox: the link calls
// back on its own goroutine.
type linkDone struct{ res link.Result }

// spendableQuery asks a peer actor what its channel can send now; it
// answers a graph.MilliSat.
type spendableQuery struct{}

func (a *peerActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *SetSpendable:
		a.spendable = m.Amount
		a.reportBalance(ctx)
	case spendableQuery:
		ctx.Respond(a.spendable)
	case *messages.OfferHTLC:
		if err := a.offer(ctx, m); err != nil {
			ctx.Respond(&messages.HTLCResolved{ID: m.ID, Local: err})
		}
	case *messages.ReattachHTLC:
		self, root := ctx.Self(), ctx.ActorSystem().Root
		req := link.AddHTLC{ID: m.ID, Channel: a.opts.Channel, Amount: m.Amount, PaymentHash: m.Hash, Route: m.Route}
		err := a.opts.Link.Reattach(context.Background(), req, func(res link.Result) { root.Send(self, &linkDone{res: res}) })
		if err != nil {
			ctx.Respond(&messages.HTLCResolved{ID: m.ID, Local: err})
			return
		}
		// Our balance as the network reports it at start already leaves
		// this HTLC out; a failure gives it back.
		a.inflight[m.ID] = offered{amount: m.Amount, reply: ctx.Sender()}
	case *linkDone:
		o, ok := a.inflight[m.res.ID]
		if !ok {
			return
		}
		delete(a.inflight, m.res.ID)
		if m.res.Preimage == nil {
			a.spendable += o.amount
		} else {
			a.reportBalance(ctx)
		}
		out := &messages.HTLCResolved{ID: m.res.ID, Preimage: m.res.Preimage, Reason: m.res.Reason, Local: m.res.Local}
		if mal := m.res.Malformed; mal != nil {
			out.Malformed = &messages.Malformed{Code: uint16(mal.Code), OnionHash: mal.OnionHash}
		}
		if s := m.res.Sourced; s != nil {
			out.Sourced = &messages.Sourced{Index: s.Index, Message: s.Message, Unreadable: s.Unreadable, Detail: s.Detail}
		}
		ctx.Send(o.reply, out)
	}
}

func (a *peerActor) offer(ctx actor.Context, m *messages.OfferHTLC) error {
	switch {
	case len(m.Onion) != link.OnionSize && a.wantsOnion:
		return fmt.Errorf("actors: onion of %d bytes, want %d", len(m.Onion), link.OnionSize)
	case len(a.inflight) >= a.opts.MaxHTLCs:
		return fmt.Errorf("%w: %s has %d", link.ErrTooManyHTLCs, a.opts.Channel, len(a.inflight))
	case m.Amount > a.spendable:
		return fmt.Errorf("%w: %s can send %s, not %s", link.ErrInsufficientBalance, a.opts.Channel, a.spendable, m.Amount)
	}
	if _, dup := a.inflight[m.ID]; dup {
		return fmt.Errorf("%w: %d", link.ErrDuplicateID, m.ID)
	}
	req := link.AddHTLC{ID: m.ID, Channel: a.opts.Channel, Amount: m.Amount, Expiry: m.Expiry, PaymentHash: m.PaymentHash,
		Route: m.Route, BlockHeight: m.BlockHeight, PaymentSecret: m.Secret, Total: m.Total}
	copy(req.Onion[:], m.Onion)
	self, root := ctx.Self(), ctx.ActorSystem().Root
	err := a.opts.Link.AddHTLC(context.Background(), req, func(res link.Result) { root.Send(self, &linkDone{res: res}) })
	if err != nil {
		return err
	}
	a.spendable -= m.Amount
	a.inflight[m.ID] = offered{amount: m.Amount, reply: ctx.Sender()}
	return nil
}

// reportBalance tells the graph what our side holds: what it can spend
// plus the HTLCs still out, which their payments keep reserved.
func (a *peerActor) reportBalance(ctx actor.Context) {
	if a.opts.Graph == nil || a.opts.Clock == nil {
		return
	}
	bal := a.spendable
	for _, o := range a.inflight {
		bal += o.amount
	}
	ctx.Send(a.opts.Graph, &messages.OwnBalance{Dir: a.opts.Dir, Balance: bal, Now: a.opts.Clock()})
}
