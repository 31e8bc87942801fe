package target

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrRPCUnavailable is returned by DialRPC until package rpc's client
// lands.
var ErrRPCUnavailable = errors.New("target: --rpc needs package rpc's client, which is not in this build yet")

// SocketPath turns --rpc's argument into the daemon's socket: a data
// directory holds it as lightning-rpc (Core Lightning's name); anything
// else is taken as the socket itself.
func SocketPath(arg string) (string, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return "", fmt.Errorf("target: --rpc %s: %w", arg, err)
	}
	if st.IsDir() {
		return filepath.Join(arg, "lightning-rpc"), nil
	}
	return arg, nil
}

// DialRPC will connect to a running payd. The implementation goes in this
// file once package rpc exists, over its client only (rpc.Dial(socket),
// then (*rpc.Client).Call(ctx, method, params, result)):
//
//   - Nodes: simnet-listnodes → {nodes: [{id, alias, num_channels}]};
//     capacities are unknown there, so --dest capacity and SimLN's spread
//     need a capacity per node (listchannels, or a capacity field added to
//     simnet-listnodes).
//   - Invoice: simnet-invoice {node, amount_msat, label, description,
//     expiry} → {bolt11, payment_hash, ...}.
//   - Pay: pay {bolt11, label, riskfactor, maxfeepercent, exemptfee,
//     retry_for, maxdelay}; a JSON-RPC error carries Core Lightning's code
//     and data (failcode for 203/204, attempts for 210), read as outcomeOf
//     reads *payment.Error.
//   - Oracle: nil, since simnet's balances live in the daemon's process;
//     the report then shows feasibility as n/a.
//   - Info: Mode "rpc", Self from getinfo.
func DialRPC(socket string) (Target, error) {
	return nil, fmt.Errorf("%w (socket %s)", ErrRPCUnavailable, socket)
}
