package simnetrpc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/payengine/payengine/rpc"
	"github.com/payengine/payengine/simnet"
)

// Prefix starts the name of every command over the simulated network
// (simnet-invoice, simnet-fault, ...).
const Prefix = "simnet-"

// NewServer returns a server that carries only the simnet-* commands over
// n: the control socket of a simulated network that runs in its own
// process (cmd/simnetd), whose payer reaches it over wirelink. Of opts it
// reads what rpc.NewBare reads; the caller's options are not changed.
func NewServer(n *simnet.Net, opts rpc.Options) (*rpc.Server, error) {
	if n == nil {
		return nil, errors.New("simnetrpc: options: the simulated network is required")
	}
	return rpc.NewBare(opts, Commands(n)...)
}

// Redirect returns cmds with every simnet-* command answering an error
// that sends the caller to the control socket at addr, the others as they
// are: for a daemon whose network runs elsewhere, whose local copy of it
// (its graph) would issue invoices the real network does not know.
func Redirect(cmds []rpc.Command, addr string) []rpc.Command {
	out := make([]rpc.Command, len(cmds))
	for i, c := range cmds {
		if strings.HasPrefix(c.Name, Prefix) {
			msg := fmt.Sprintf("%s: the simulated network runs in simnetd, not in this daemon; send simnet-* commands to simnetd's control socket %s", c.Name, addr)
			c.Handler = func(context.Context, *rpc.Args) (any, error) {
				return nil, &rpc.Error{Code: rpc.CodeLightningd, Message: msg}
			}
		}
		out[i] = c
	}
	return out
}
