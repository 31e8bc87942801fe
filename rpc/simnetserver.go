package rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/payengine/payengine/simnet"
)

// SimnetPrefix starts the name of every command over the simulated
// network (simnet-invoice, simnet-fault, ...).
const SimnetPrefix = "simnet-"

// NewSimnet returns a server that carries only the simnet-* commands over
// n: the control socket of a simulated network that runs in its own
// process (cmd/simnetd), whose payer reaches it over wirelink. Of opts it
// reads MaxRequestBytes, MaxInFlight, WriteTimeout and Logger, with New's
// defaults; the rest is not used. The caller's options are not changed.
func NewSimnet(n *simnet.Net, opts Options) (*Server, error) {
	if n == nil {
		return nil, errors.New("rpc: options: the simulated network is required")
	}
	opts.EnsureDefaults()
	if opts.MaxRequestBytes < 0 || opts.MaxInFlight < 0 || opts.WriteTimeout < 0 {
		return nil, errors.New("rpc: options: MaxRequestBytes, MaxInFlight and WriteTimeout must not be negative")
	}
	s := newServer(config{maxBytes: opts.MaxRequestBytes, maxInFlight: opts.MaxInFlight,
		writeTimeout: opts.WriteTimeout, log: opts.Logger})
	for _, c := range SimnetCommands(n) {
		if err := s.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// RedirectSimnet makes every simnet-* command of s answer an error that
// sends the caller to the control socket at addr: for a daemon whose
// network runs elsewhere, whose local copy of it (its graph) would issue
// invoices the real network does not know. Call it before Serve.
func (s *Server) RedirectSimnet(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.cmds {
		if !strings.HasPrefix(name, SimnetPrefix) {
			continue
		}
		msg := fmt.Sprintf("%s: the simulated network runs in simnetd, not in this daemon; send simnet-* commands to simnetd's control socket %s", name, addr)
		c.Handler = func(context.Context, *Args) (any, error) {
			return nil, &Error{Code: CodeLightningd, Message: msg}
		}
	}
}
