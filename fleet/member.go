package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/payengine/payengine/clusterprovider"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/rpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// CallTimeout bounds one call a grain makes on its member's socket: pay
// retries for up to retry_for (60 s by default).
const CallTimeout = 3 * time.Minute

// MemberOptions describe a member: its node, its own JSON-RPC socket, its
// liquidity, and its place in the cluster (Cluster.Kinds is set here).
type MemberOptions struct {
	// Node is the member's node id in hex: its kind is KindPrefix + Node.
	Node string
	// Socket is the member's JSON-RPC socket, where its grains hand calls
	// to the engine.
	Socket string
	// Spendable reports the member's outbound liquidity.
	Spendable func() graph.MilliSat
	// Cluster is where the member joins.
	Cluster clusterprovider.Options
}

// JoinMember joins the cluster as a member hosting the kind pay.<node>,
// whose grains (identity: a payment hash in hex, or StatusIdentity, or
// ListIdentity) answer calls forwarded by front-ends.
func JoinMember(ctx context.Context, o MemberOptions) (*clusterprovider.Member, error) {
	props := actor.PropsFromProducer(func() actor.Actor { return &grain{o: &o} })
	o.Cluster.Kinds = []*cluster.Kind{cluster.NewKind(KindPrefix+o.Node, props)}
	return clusterprovider.StartMember(ctx, o.Cluster)
}

// grain hands each call to the member's socket on a goroutine of its own,
// so a long pay does not hold up the next call for the same hash (which
// the engine answers: 200 while the first is under way).
type grain struct{ o *MemberOptions }

func (g *grain) Receive(ctx actor.Context) {
	m, ok := ctx.Message().(*wrapperspb.BytesValue)
	if !ok {
		return
	}
	sender, root := ctx.Sender(), ctx.ActorSystem().Root
	if sender == nil {
		return
	}
	go func() { root.Send(sender, encodeAnswer(g.serve(m.Value))) }()
}

// serve answers one call.
func (g *grain) serve(b []byte) answer {
	var req request
	if err := json.Unmarshal(b, &req); err != nil {
		return answer{Error: &rpc.Error{Code: rpc.CodeLightningd, Message: "fleet: bad request: " + err.Error()}}
	}
	if req.Method == StatusMethod {
		var sp graph.MilliSat
		if g.o.Spendable != nil {
			sp = g.o.Spendable()
		}
		raw, _ := json.Marshal(Status{Node: g.o.Node, SpendableMsat: uint64(sp)})
		return answer{Result: raw}
	}
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	c, err := rpc.Dial(g.o.Socket)
	if err != nil {
		return answer{Error: &rpc.Error{Code: rpc.CodeLightningd, Message: "fleet: member's socket: " + err.Error()}}
	}
	defer c.Close()
	var params any
	if len(req.Params) > 0 {
		params = req.Params
	}
	var res json.RawMessage
	if err := c.Call(ctx, req.Method, params, &res); err != nil {
		var e *rpc.Error
		if errors.As(err, &e) {
			return answer{Error: e}
		}
		return answer{Error: &rpc.Error{Code: rpc.CodeLightningd, Message: "fleet: " + req.Method + " on member " + g.o.Node + ": " + err.Error()}}
	}
	return answer{Result: res}
}
