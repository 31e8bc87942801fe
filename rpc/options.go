package rpc

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/messages"
)

// Defaults of Options.
const (
	DefaultMaxRequestBytes = 1 << 20
	DefaultMaxInFlight     = 1024
	DefaultWriteTimeout    = 30 * time.Second
)

// Ledger is what the server reads from the payment ledger itself: a
// payment's row, for the id, created_index and groupid fields that Core
// Lightning's schemas require and the engine's records do not carry.
// *persistence.Ledger implements it.
type Ledger interface {
	Payment(hash [32]byte, group uint64) (messages.Payment, error)
}

// NodeInfo is what the server reads of the node the engine pays from (the
// backend: simnet, simnetd, lnd), for getinfo and sendpay.
type NodeInfo interface {
	// Self is our node's id.
	Self() graph.NodeID
	// Summary is getinfo's view of the node now.
	Summary() NodeSummary
}

// NodeSummary is getinfo's view of our node.
type NodeSummary struct {
	Alias    string
	Peers    int
	Channels int
	Height   uint32
	// Network is the name Core Lightning's clients know the invoices'
	// network by ("regtest", "bitcoin", ...).
	Network string
}

// Options configure New. Engine, Node and Ledger are required; every other
// zero field means its default.
type Options struct {
	Engine *actors.Engine
	// Node is the backend's node: our id, channels and block height.
	Node   NodeInfo
	Ledger Ledger
	// Commands are the backend's own commands, served beside Core
	// Lightning's (the simnet-* commands of the simulated network, from
	// package simnetrpc); a backend without any leaves it empty, and those
	// names are unknown commands (-32601).
	Commands []Command
	// Version is getinfo's version. Default: the module version the
	// binary was built from.
	Version string
	// MaxRequestBytes caps one request on the socket and one HTTP body.
	// Default DefaultMaxRequestBytes (1 MiB).
	MaxRequestBytes int64
	// MaxInFlight is how many requests of one connection run at once;
	// beyond it the server stops reading that connection until one ends.
	// Default DefaultMaxInFlight.
	MaxInFlight int
	// WriteTimeout bounds writing one response, on the socket and over
	// HTTP; a client that does not read is disconnected. It does not bound
	// how long a command runs. Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// IdleTimeout closes a socket connection that has sent no byte and
	// been sent no answer for this long, with no request in flight: a
	// client that opens connections and leaves them, or sends half a
	// request and stalls. The default, 0, is no limit, as on Core
	// Lightning's socket, whose clients may keep a connection for the
	// daemon's life. HTTP connections are the http.Server's to time out.
	IdleTimeout time.Duration
	// DenyDeprecated answers deprecated commands (listpayments) with
	// -32601, as Core Lightning does without allow-deprecated-apis. The
	// default serves them, as v0.7's default does.
	DenyDeprecated bool
	// Logger receives failed commands and panics (nil: discard).
	Logger *slog.Logger
}

// EnsureDefaults fills the zero fields that have defaults.
func (o *Options) EnsureDefaults() {
	if o.Version == "" {
		o.Version = "payengine"
		if bi, ok := debug.ReadBuildInfo(); ok {
			o.Version = "payengine " + bi.Main.Version
		}
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem in one error.
func (o *Options) Validate() error {
	var errs []error
	if o.Engine == nil || o.Node == nil || o.Ledger == nil {
		errs = append(errs, errors.New("the Engine, Node and Ledger options are required"))
	}
	if o.MaxRequestBytes < 0 || o.MaxInFlight < 0 || o.WriteTimeout < 0 || o.IdleTimeout < 0 {
		errs = append(errs, errors.New("MaxRequestBytes, MaxInFlight, WriteTimeout and IdleTimeout must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rpc: options: %w", err)
	}
	return nil
}

// New returns a server with Core Lightning's payment commands over the
// engine, and the backend's own commands (Options.Commands). The caller's
// options are copied, not changed.
func New(opts Options) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := newServer(config{maxBytes: opts.MaxRequestBytes, maxInFlight: opts.MaxInFlight,
		writeTimeout: opts.WriteTimeout, idleTimeout: opts.IdleTimeout, denyDeprecated: opts.DenyDeprecated, log: opts.Logger})
	h := &handlers{s: s, e: opts.Engine, node: opts.Node, ledger: opts.Ledger, version: opts.Version, log: opts.Logger}
	for _, c := range append(append(h.commands(), h.askreneCommands()...), opts.Commands...) {
		if err := s.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}
