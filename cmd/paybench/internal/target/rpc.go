package target

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/payengine/payengine/cmd/internal/node"
	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/rpc"
)

// SocketPath turns --rpc's argument into the daemon's socket: a data
// directory holds it as lightning-rpc (Core Lightning's name); anything
// else is taken as the socket itself.
func SocketPath(arg string) (string, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return "", fmt.Errorf("target: --rpc %s: %w", arg, err)
	}
	if st.IsDir() {
		return filepath.Join(arg, rpc.SocketName), nil
	}
	return arg, nil
}

// SimnetSocketPath turns --simnet-rpc's argument into simnetd's control
// socket: its --dir holds it as simnet-rpc; anything else is taken as the
// socket itself.
func SimnetSocketPath(arg string) (string, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return "", fmt.Errorf("target: --simnet-rpc %s: %w", arg, err)
	}
	if st.IsDir() {
		return filepath.Join(arg, node.SimnetRPCName), nil
	}
	return arg, nil
}

// RPC drives a running payd through its JSON-RPC socket, with package
// rpc's client only: the commands a Core Lightning client would use plus
// simnet-invoice and simnet-listnodes, asked of payd's own socket (a payd
// with the embedded network) or of simnetd's control socket (a payd over
// simnetd, or a fleet's front-end, whose members pay over simnetd).
//
// The payer is getinfo's id, or, for a front-end (getinfo's role
// "frontend"), its members: each payment is paid by the member the
// front-end picks, so no node of ours is a destination and our capacity
// (for lognormal amounts) is the smallest member's.
//
// What it can and cannot see, compared with Embedded:
//   - Outcome.Code, Message and FailCode come from pay's JSON-RPC error:
//     the failcode of 203/204's data, or of the last attempt in 210's
//     data.attempts. 205, 206 and the rest carry none, as in Embedded.
//   - Outcome.AmountSent is pay's amount_sent_msat, so the report's fee is
//     amount_sent_msat - amount_msat, the invoice's amount.
//   - Outcome.Attempts is exact only where the daemon says it: error
//     210's data.attempts, and 0 when listsendpays holds no row for the
//     hash (pay wrote nothing: no route, too expensive before trying, a
//     refused invoice). A success or another failure made at least one
//     attempt, but neither pay nor listsendpays (one row per payment hash)
//     serves the count, so it is -1; the run's attempt figures are then
//     n/a rather than an average over the failures alone.
//   - Oracle is nil: simnet's balances live in another process (payd's or
//     simnetd's, which serves no max-flow); and through a front-end the
//     node that pays is only known to the front-end, so an oracle asked
//     from one node of ours would be the wrong ceiling anyway.
//
// Labels get a suffix unique to the dial ("paybench-7@<tag>"), because
// payd refuses a simnet-invoice label it has issued before, and a second
// run against the same daemon would otherwise reuse every one.
type RPC struct {
	c     *rpc.Client
	sim   *rpc.Client // simnet-* commands: c, or simnetd's socket
	info  Info
	nodes []workload.Node
	tag   string
}

// dialTimeout bounds what DialRPC asks before the run: getinfo and
// simnet-listnodes answer in well under a second, even on mainnet's graph.
const dialTimeout = 30 * time.Second

// DialRPC connects to payd's socket, and to simnetd's control socket
// simnet if not empty (the simnet-* commands go there then), and reads
// what a run needs before its first payment: our node or nodes (getinfo)
// and the network's nodes with their capacity (simnet-listnodes). ctx
// bounds those calls, not the target's life; Close ends it.
func DialRPC(ctx context.Context, socket, simnet string) (*RPC, error) {
	c, err := rpc.Dial(socket)
	if err != nil {
		return nil, fmt.Errorf("target: is payd running? %w", err)
	}
	r := &RPC{c: c, sim: c, tag: strconv.FormatInt(time.Now().UnixNano(), 36)}
	if simnet != "" {
		if r.sim, err = rpc.Dial(simnet); err != nil {
			c.Close()
			return nil, fmt.Errorf("target: is simnetd running? %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := r.load(ctx); err != nil {
		r.Close()
		return nil, err
	}
	if simnet != "" {
		r.info.Simnet = simnet
	}
	return r, nil
}

// getinfoJSON is what load reads of getinfo: a node's id, or a
// front-end's role and members (their node ids).
type getinfoJSON struct {
	ID      string   `json:"id"`
	Role    string   `json:"role"`
	Members []string `json:"members"`
}

// payers reads getinfo's answer: the node that pays (self), or, for a
// front-end, the members it sees, any of which may pay.
func payers(gi getinfoJSON) (self graph.NodeID, members []graph.NodeID, err error) {
	if gi.Role != "frontend" {
		self, err = graph.ParseNodeID(gi.ID)
		if err != nil {
			return self, nil, fmt.Errorf("target: getinfo's id: %w", err)
		}
		return self, nil, nil
	}
	if len(gi.Members) == 0 {
		return self, nil, errors.New("target: the front-end sees no member yet: start the members, or wait for them to join")
	}
	for _, m := range gi.Members {
		id, err := graph.ParseNodeID(m)
		if err != nil {
			return self, nil, fmt.Errorf("target: the front-end's member %q: %w", m, err)
		}
		members = append(members, id)
	}
	return self, members, nil
}

// listNodesJSON is simnet-listnodes' result. CapacitySat is a pointer so
// that a payd that predates the field reads as "unknown", not as zero.
type listNodesJSON struct {
	Nodes []struct {
		ID          string  `json:"id"`
		NumChannels int     `json:"num_channels"`
		CapacitySat *uint64 `json:"capacity_sat"`
	} `json:"nodes"`
}

// load fills info and nodes. Destinations are the nodes with a channel,
// ours left out, in the daemon's order (the graph's load order), with
// their channels' total capacity: the list Embedded.Nodes gives for the
// same graph, so the same --seed draws the same payments in both modes.
func (r *RPC) load(ctx context.Context) error {
	var gi getinfoJSON
	if err := r.c.Call(ctx, "getinfo", nil, &gi); err != nil {
		return fmt.Errorf("target: getinfo: %w", err)
	}
	self, members, err := payers(gi)
	if err != nil {
		return err
	}
	var ln listNodesJSON
	if err := r.sim.Call(ctx, "simnet-listnodes", nil, &ln); err != nil {
		var re *rpc.Error
		if r.sim == r.c && errors.As(err, &re) {
			return fmt.Errorf("target: the daemon serves no simnet-listnodes (a payd over simnetd, or a front-end: give simnetd's socket as --simnet-rpc): %w", err)
		}
		return fmt.Errorf("target: simnet-listnodes: %w", err)
	}
	r.info = Info{Mode: "rpc", Self: self, Members: members, Nodes: len(ln.Nodes), Labels: "paybench-<seq>@" + r.tag}
	r.nodes, r.info.SourceCapacity, err = destinations(ln, self, members)
	return err
}

// destinations are the nodes of ln with a channel, in ln's order, every
// node of ours (self, or a front-end's members) left out, and our
// capacity: self's, or the smallest member's (a simnetd's nodes of ours
// all have the same channels).
func destinations(ln listNodesJSON, self graph.NodeID, members []graph.NodeID) ([]workload.Node, uint64, error) {
	ours := map[graph.NodeID]bool{}
	if members == nil {
		ours[self] = true
	}
	for _, m := range members {
		ours[m] = true
	}
	var nodes []workload.Node
	var source uint64
	found := 0
	for _, n := range ln.Nodes {
		id, err := graph.ParseNodeID(n.ID)
		if err != nil {
			return nil, 0, fmt.Errorf("target: simnet-listnodes: %w", err)
		}
		var capacity uint64
		if n.CapacitySat != nil {
			capacity = *n.CapacitySat
		}
		switch {
		case ours[id]:
			if found == 0 || capacity < source {
				source = capacity
			}
			found++
		case n.CapacitySat != nil && capacity > 0, n.CapacitySat == nil && n.NumChannels > 0:
			nodes = append(nodes, workload.Node{ID: id, Capacity: capacity})
		}
	}
	if found < len(ours) {
		return nil, 0, fmt.Errorf("target: %d of our %d nodes are not in the network's simnet-listnodes (another network's simnetd?)", len(ours)-found, len(ours))
	}
	return nodes, source, nil
}

// Info implements Target. Graph and Channels are left empty: the daemon
// serves neither.
func (r *RPC) Info() Info { return r.info }

// Nodes implements Target: the list read at dial time (simnet's graph
// does not change while payd runs).
func (r *RPC) Nodes(context.Context) ([]workload.Node, error) {
	return append([]workload.Node(nil), r.nodes...), nil
}

// label is the driver's label made unique to this target.
func (r *RPC) label(l string) string { return l + "@" + r.tag }

// Invoice implements Target with simnet-invoice: dest issues it, for the
// default expiry, with the label as its description (as Embedded does).
func (r *RPC) Invoice(ctx context.Context, dest graph.NodeID, amount graph.MilliSat, label string) (Invoice, error) {
	l := r.label(label)
	var res struct {
		Bolt11      string `json:"bolt11"`
		PaymentHash string `json:"payment_hash"`
		Destination string `json:"destination"`
	}
	err := r.sim.Call(ctx, "simnet-invoice", map[string]any{"node": dest.String(), "amount_msat": uint64(amount),
		"label": l, "description": l}, &res)
	if err != nil {
		return Invoice{}, fmt.Errorf("target: simnet-invoice: %w", err)
	}
	if res.Destination != dest.String() {
		return Invoice{}, fmt.Errorf("target: simnet-invoice for %s returned an invoice of %s", dest, res.Destination)
	}
	inv := Invoice{Bolt11: res.Bolt11}
	b, err := hex.DecodeString(res.PaymentHash)
	if err != nil || len(b) != len(inv.Hash) {
		return Invoice{}, fmt.Errorf("target: simnet-invoice's payment_hash %q is not 32 bytes of hex", res.PaymentHash)
	}
	copy(inv.Hash[:], b)
	return inv, nil
}

// payParamsJSON is pay's named parameters, in Core Lightning's names.
type payParamsJSON struct {
	Bolt11        string  `json:"bolt11"`
	Label         string  `json:"label"`
	RiskFactor    float64 `json:"riskfactor"`
	MaxFeePercent float64 `json:"maxfeepercent"`
	RetryFor      uint32  `json:"retry_for"`
	MaxDelay      uint32  `json:"maxdelay"`
	ExemptFee     uint64  `json:"exemptfee"`
}

// payParams is pay's parameters for params. retry_for is whole seconds
// there, so a fraction is rounded up: pay never gets less time than asked.
func payParams(bolt11, label string, p payment.PayParams) payParamsJSON {
	secs := (p.RetryFor + time.Second - 1) / time.Second
	return payParamsJSON{Bolt11: bolt11, Label: label, RiskFactor: p.RiskFactor, MaxFeePercent: p.MaxFeePercent,
		RetryFor: uint32(min(secs, 1<<32-1)), MaxDelay: p.MaxDelay, ExemptFee: uint64(p.ExemptFee)}
}

// payResultJSON is the part of pay's result the report needs.
type payResultJSON struct {
	Status         string `json:"status"`
	AmountMsat     uint64 `json:"amount_msat"`
	AmountSentMsat uint64 `json:"amount_sent_msat"`
}

// Pay implements Target with pay, then, for a failure whose data does not
// count the attempts, listsendpays to tell "none" from "some" (if that call
// fails, the count stays unknown).
func (r *RPC) Pay(ctx context.Context, inv Invoice, label string, params payment.PayParams) Outcome {
	var res payResultJSON
	err := r.c.Call(ctx, "pay", payParams(inv.Bolt11, r.label(label), params), &res)
	out := outcomeOfRPC(res, err)
	if out.Complete || out.Attempts >= 0 || !isRPCError(err) {
		// A success's count is not served; 210 gave its own; a call that
		// got no answer (or a malformed one) says nothing of the payment.
		return out
	}
	var sp struct {
		Payments []json.RawMessage `json:"payments"`
	}
	if err := r.c.Call(ctx, "listsendpays", map[string]any{"payment_hash": hex.EncodeToString(inv.Hash[:])}, &sp); err == nil &&
		len(sp.Payments) == 0 {
		out.Attempts = 0
	}
	return out
}

// isRPCError reports whether err is the daemon's answer, not a failure to
// get one.
func isRPCError(err error) bool {
	var re *rpc.Error
	return errors.As(err, &re)
}

// failureDataJSON is what the report reads of a pay error's data: the
// routing failure's failcode (203, 204: the failure object flattened with
// the payment's fields), or the attempts (210), each failure an error
// object whose data is the routing failure.
type failureDataJSON struct {
	FailCode *uint16 `json:"failcode"`
	Attempts []struct {
		Failure *struct {
			Data struct {
				FailCode *uint16 `json:"failcode"`
			} `json:"data"`
		} `json:"failure"`
	} `json:"attempts"`
}

// outcomeOfRPC reads pay's answer as outcomeOf reads the engine's:
// Attempts is -1 (unknown) unless error 210 listed them.
func outcomeOfRPC(res payResultJSON, err error) Outcome {
	if err == nil {
		if res.Status != string(payment.StatusComplete) {
			return Outcome{Code: -1, Message: fmt.Sprintf("pay answered status %q without an error", res.Status), Attempts: -1}
		}
		return Outcome{Complete: true, AmountSent: graph.MilliSat(res.AmountSentMsat), Attempts: -1}
	}
	var re *rpc.Error
	if !errors.As(err, &re) {
		return Outcome{Code: -1, Message: err.Error(), Attempts: -1}
	}
	out := Outcome{Code: re.Code, Message: re.Message, Attempts: -1}
	raw, _ := re.Data.(json.RawMessage)
	var d failureDataJSON
	if len(raw) == 0 || json.Unmarshal(raw, &d) != nil {
		return out // no data, or data of another shape: nothing to read
	}
	if d.FailCode != nil {
		out.FailCode = *d.FailCode
	}
	if re.Code == payment.CodeStoppedRetrying && d.Attempts != nil {
		out.Attempts = len(d.Attempts)
		if k := len(d.Attempts); k > 0 {
			if f := d.Attempts[k-1].Failure; f != nil && f.Data.FailCode != nil {
				out.FailCode = *f.Data.FailCode
			}
		}
	}
	return out
}

// Oracle implements Target: nil, since the network's balances are in the
// daemon's process; the report shows feasibility as n/a.
func (r *RPC) Oracle() Oracle { return nil }

// Close closes the connections; payd, simnetd and the payments are not
// touched.
func (r *RPC) Close() error {
	err := r.c.Close()
	if r.sim != r.c {
		err = errors.Join(err, r.sim.Close())
	}
	return err
}
