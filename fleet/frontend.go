package fleet

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/payengine/payengine/claims"
	"github.com/payengine/payengine/clusterprovider"
	"github.com/payengine/payengine/htlc"
	"github.com/payengine/payengine/rpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// StatusTimeout bounds asking a member for its status; a member that does
// not answer in time is not picked.
const StatusTimeout = time.Second

// statusTTL is how long a member's status is reused.
const statusTTL = time.Second

// FrontendOptions configure a front-end: no node and no ledger, the claims
// store and the cluster as a client.
type FrontendOptions struct {
	Store   *claims.Store
	Network htlc.Network // invoices pay must accept
	Cluster clusterprovider.Options
}

// Frontend serves Core Lightning's payment commands for a fleet: pay reads
// the hash's claim (complete: the preimage; pending: 200) and otherwise
// forwards to the member with the most spendable outbound; listings fan
// out to every member and merge.
type Frontend struct {
	o  FrontendOptions
	cl *clusterprovider.Client

	mu       sync.Mutex
	statuses map[string]cachedStatus
}

type cachedStatus struct {
	st  Status
	at  time.Time
	err error
}

// StartFrontend joins the cluster as a client.
func StartFrontend(ctx context.Context, o FrontendOptions) (*Frontend, error) {
	cl, err := clusterprovider.StartClient(ctx, o.Cluster)
	if err != nil {
		return nil, fmt.Errorf("fleet: front-end: %w", err)
	}
	return &Frontend{o: o, cl: cl, statuses: map[string]cachedStatus{}}, nil
}

// Close leaves the cluster.
func (f *Frontend) Close() error { return f.cl.Close() }

// raw keeps a param's JSON as given, for forwarding.
func raw(names ...string) []rpc.Param {
	ps := make([]rpc.Param, len(names))
	for i, n := range names {
		ps[i] = rpc.Param{Name: n}
	}
	return ps
}

// payParams are pay's params in Core Lightning's positional order (as
// rpc's pay has them); msatoshi is amount_msat's alias.
var payParams = func() []rpc.Param {
	ps := raw("bolt11", "amount_msat", "label", "riskfactor", "maxfeepercent", "retry_for", "maxdelay", "exemptfee",
		"localinvreqid", "exclude", "maxfee", "description", "partial_msat", "maxparts")
	ps[0].Required = true
	ps[1].Aliases = []string{"msatoshi"}
	return ps
}()

var listParams = raw("bolt11", "payment_hash", "status", "index", "start", "limit")

// Commands are the front-end's JSON-RPC commands, for rpc.NewBare.
func (f *Frontend) Commands() []rpc.Command {
	return []rpc.Command{
		{Name: "pay", Category: "payment", Params: payParams, Handler: f.pay,
			Description: "Pay a BOLT 11 invoice through the fleet: the stored preimage if a member paid it, 200 while one pays it, else forwarded to the member with the most spendable outbound."},
		{Name: "listpays", Category: "payment", Params: listParams, Handler: f.lister("listpays", "pays"),
			Description: "listpays of every member, merged."},
		{Name: "listsendpays", Category: "payment", Params: listParams, Handler: f.lister("listsendpays", "payments"),
			Description: "listsendpays of every member, merged."},
		{Name: "getinfo", Category: "utility", Handler: f.getinfo,
			Description: "The front-end: its role and the fleet's members."},
	}
}

// named rebuilds the given params as a named object, for forwarding.
func named(args *rpc.Args, ps []rpc.Param) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, p := range ps {
		if v, ok := rpc.Arg[json.RawMessage](args, p.Name); ok {
			out[p.Name] = v
		}
	}
	return out
}

// refused is the error of a call the front-end cannot serve because the
// claims store is away: fail closed.
func refused(err error) *rpc.Error {
	return &rpc.Error{Code: rpc.CodeLightningd,
		Message: "payment refused, nothing sent: the fleet's claim store (etcd) cannot be reached: " + err.Error()}
}

func (f *Frontend) pay(ctx context.Context, args *rpc.Args) (any, error) {
	params := named(args, payParams)
	var bolt11 string
	if err := json.Unmarshal(params["bolt11"], &bolt11); err != nil {
		return nil, &rpc.Error{Code: rpc.CodeInvalidParams, Message: "bolt11: should be a string"}
	}
	var desc *string
	if d, ok := params["description"]; ok {
		var s string
		if json.Unmarshal(d, &s) == nil {
			desc = &s
		}
	}
	inv, err := htlc.Decode(bolt11, htlc.DecodeOptions{Network: f.o.Network, Description: desc})
	if err != nil {
		return nil, &rpc.Error{Code: rpc.CodeInvalidParams, Message: "Invalid bolt11: " + strings.TrimPrefix(err.Error(), "htlc: ")}
	}
	hash := inv.PaymentHash
	cl, found, err := f.o.Store.Get(ctx, hash)
	if err != nil {
		return nil, refused(err)
	}
	if found {
		switch cl.State {
		case claims.StateComplete:
			// The holder's full answer; its claim's preimage if it is down.
			if res, err := f.forward(ctx, cl.Member, hex.EncodeToString(hash[:]), "pay", params, StatusTimeout*2); err == nil {
				return res, nil
			}
			return completed(inv, cl), nil
		case claims.StatePending:
			return nil, &rpc.Error{Code: 200, Message: fmt.Sprintf("Payment is still in progress (on fleet member %s)", cl.Member)}
		}
	}
	// A member that does not answer (gone, or its registration not yet
	// expired) is passed over: its claim, if it made one, now stands, so
	// the claim is read again before the next member is asked.
	var skip []string
	for {
		node, err := f.pick(skip...)
		if err != nil {
			return nil, err
		}
		res, err := f.forward(ctx, node, hex.EncodeToString(hash[:]), "pay", params, CallTimeout)
		var un *unreachable
		if !errors.As(err, &un) || ctx.Err() != nil {
			return res, err
		}
		skip = append(skip, node)
		f.forget(node)
		cl, found, gerr := f.o.Store.Get(ctx, hash)
		if gerr != nil {
			return nil, refused(gerr)
		}
		if found && cl.State == claims.StatePending {
			return nil, &rpc.Error{Code: 200, Message: fmt.Sprintf("Payment is still in progress (on fleet member %s)", cl.Member)}
		}
		if found && cl.State == claims.StateComplete {
			return completed(inv, cl), nil
		}
	}
}

// unreachable is a forward that got no answer from the member (as opposed
// to the member's own JSON-RPC error).
type unreachable struct{ err *rpc.Error }

func (u *unreachable) Error() string { return u.err.Error() }

// Unwrap gives the JSON-RPC error the caller sees.
func (u *unreachable) Unwrap() error { return u.err }

// forget drops a member's cached status.
func (f *Frontend) forget(node string) {
	f.mu.Lock()
	delete(f.statuses, node)
	f.mu.Unlock()
}

// completed is pay's answer from a complete claim alone.
func completed(inv *htlc.Invoice, cl claims.Claim) map[string]any {
	res := map[string]any{
		"payment_hash":     hex.EncodeToString(cl.Hash[:]),
		"payment_preimage": hex.EncodeToString(cl.Preimage[:]),
		"destination":      hex.EncodeToString(inv.Payee[:]),
		"status":           "complete",
		"parts":            1,
	}
	if inv.Amount != nil {
		res["amount_msat"] = uint64(*inv.Amount)
		res["msatoshi"] = uint64(*inv.Amount)
	}
	return res
}

// members lists the node ids of the members seen, sorted.
func (f *Frontend) members() []string {
	var out []string
	for _, m := range f.cl.Members() {
		for _, k := range m.Kinds {
			if node, ok := strings.CutPrefix(k, KindPrefix); ok {
				out = append(out, node)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// pick chooses the member with the most spendable outbound among those
// that answer their status.
func (f *Frontend) pick(skip ...string) (string, error) {
	nodes := slices.DeleteFunc(f.members(), func(n string) bool { return slices.Contains(skip, n) })
	if len(nodes) == 0 {
		return "", &rpc.Error{Code: rpc.CodeLightningd, Message: "fleet: no member to pay through"}
	}
	sts := make([]cachedStatus, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); sts[i] = f.status(n) }()
	}
	wg.Wait()
	best, most := "", uint64(0)
	var errs []error
	for i, st := range sts {
		if st.err != nil {
			errs = append(errs, st.err)
			continue
		}
		if best == "" || st.st.SpendableMsat > most {
			best, most = nodes[i], st.st.SpendableMsat
		}
	}
	if best == "" {
		return "", &rpc.Error{Code: rpc.CodeLightningd, Message: "fleet: no member answers: " + errors.Join(errs...).Error()}
	}
	return best, nil
}

// status is a member's status, cached for statusTTL.
func (f *Frontend) status(node string) cachedStatus {
	f.mu.Lock()
	c, ok := f.statuses[node]
	f.mu.Unlock()
	if ok && time.Since(c.at) < statusTTL {
		return c
	}
	c = cachedStatus{at: time.Now()}
	res, err := f.forward(context.Background(), node, StatusIdentity, StatusMethod, nil, StatusTimeout)
	if err == nil {
		err = json.Unmarshal(res, &c.st)
	}
	c.err = err
	f.mu.Lock()
	f.statuses[node] = c
	f.mu.Unlock()
	return c
}

// forward calls method on member node's grain identity and returns its
// result as it gave it, or its error.
func (f *Frontend) forward(ctx context.Context, node, identity, method string, params any, timeout time.Duration) (json.RawMessage, error) {
	msg, err := encodeRequest(method, params)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	// One try: a retried pay would reach the member again, which answers
	// it (200), but the caller should see the first answer.
	r, err := f.cl.Cluster().Request(identity, KindPrefix+node, msg, cluster.WithTimeout(timeout), cluster.WithRetryCount(1))
	if err != nil {
		return nil, &unreachable{&rpc.Error{Code: rpc.CodeLightningd, Message: fmt.Sprintf("fleet: member %s did not answer %s: %v", node, method, err)}}
	}
	b, ok := r.(*wrapperspb.BytesValue)
	if !ok {
		return nil, &rpc.Error{Code: rpc.CodeLightningd, Message: fmt.Sprintf("fleet: member %s answered %s with %T", node, method, r)}
	}
	var a answer
	if err := json.Unmarshal(b.Value, &a); err != nil {
		return nil, &rpc.Error{Code: rpc.CodeLightningd, Message: fmt.Sprintf("fleet: member %s's answer to %s: %v", node, method, err)}
	}
	if a.Error != nil {
		return nil, a.Error
	}
	return a.Result, nil
}

// lister fans method out to every member and merges the arrays under key.
func (f *Frontend) lister(method, key string) func(context.Context, *rpc.Args) (any, error) {
	return func(ctx context.Context, args *rpc.Args) (any, error) {
		params := named(args, listParams)
		identity := ListIdentity
		if h, ok := params["payment_hash"]; ok {
			var s string
			if json.Unmarshal(h, &s) == nil && len(s) == 64 {
				identity = strings.ToLower(s)
			}
		}
		nodes := f.members()
		results := make([]json.RawMessage, len(nodes))
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = f.forward(ctx, n, identity, method, params, 30*time.Second)
			}()
		}
		wg.Wait()
		merged := []json.RawMessage{}
		for i := range nodes {
			if errs[i] != nil {
				return nil, errs[i]
			}
			var part map[string][]json.RawMessage
			if err := json.Unmarshal(results[i], &part); err != nil {
				return nil, &rpc.Error{Code: rpc.CodeLightningd, Message: fmt.Sprintf("fleet: member %s's %s: %v", nodes[i], method, err)}
			}
			merged = append(merged, part[key]...)
		}
		return map[string]any{key: merged}, nil
	}
}

func (f *Frontend) getinfo(ctx context.Context, args *rpc.Args) (any, error) {
	return map[string]any{"role": "frontend", "alias": "payengine-frontend", "members": f.members()}, nil
}
