// Package actors holds payengine's actors, each a thin shell over a pure
// core: the graph actor (route workers over immutable snapshots, failure
// memory) and the peer actors (one per channel of ours, over a link.Link).
// The payment actor, the ledger actor and the engine that wires them join
// them next. No actor blocks on another's future.
package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// NewSystem returns an actor system that logs through logger (protoactor
// logs to stdout by default; the daemon's logger and level should rule).
func NewSystem(logger *slog.Logger) *actor.ActorSystem {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
}
