package actors

import (
	"context"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/metrics"
	"github.com/payengine/payengine/persistence"
)

// LedgerProps returns the props of the ledger actor over l. Each
// WriteLedger runs on a goroutine of the actor's, so writes from many
// payments meet in the ledger's group commit (one batch and one sync for
// all that arrive together) instead of queueing in the mailbox; the sender
// gets Written after the sync. The actor waits for its writes when it
// stops.
// m (nil: none) receives each write's time to durability.
func LedgerProps(l *persistence.Ledger, m *metrics.Engine) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &ledgerActor{l: l, m: m} })
}

type ledgerActor struct {
	l  *persistence.Ledger
	m  *metrics.Engine
	wg sync.WaitGroup
}

func (a *ledgerActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.WriteLedger:
		sender, root := ctx.Sender(), ctx.ActorSystem().Root
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			start := time.Now()
			err := a.l.Write(context.Background(), &persistence.Batch{Payments: m.Payments, Attempts: m.Attempts})
			a.m.LedgerCommit(time.Since(start))
			if sender != nil {
				root.Send(sender, &messages.Written{Err: err})
			}
		}()
	case *messages.WriteKnowledge:
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := a.l.WriteKnowledge(context.Background(), m.Data); err != nil {
				ctx.Logger().Error("ledger: liquidity knowledge", "err", err)
			}
		}()
	case *messages.DeleteLedger:
		sender, root := ctx.Sender(), ctx.ActorSystem().Root
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			var err error
			if m.Rows != nil {
				err = a.l.DeleteRows(context.Background(), m.PaymentHash, m.Rows)
			} else {
				err = a.l.DeletePayment(context.Background(), m.PaymentHash, m.GroupID)
			}
			if sender != nil {
				root.Send(sender, &messages.Written{Err: err})
			}
		}()
	case *actor.Stopping:
		a.wg.Wait()
	}
}
