package fleet

import (
	"encoding/json"
	"fmt"

	"github.com/payengine/payengine/rpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// What crosses processes between a front-end and a member's grain is a
// protobuf message, as protoactor's remote requires: a BytesValue (in the
// global registry already) holding a JSON-RPC call or its answer. The
// member's own JSON-RPC server gives the answer, so a forwarded call is
// answered exactly as on the member's socket.

// KindPrefix starts the grain kind of a member: KindPrefix + its node id
// in hex.
const KindPrefix = "pay."

// StatusIdentity is the grain identity a front-end asks for a member's
// status (its spendable outbound); payment grains are named by hash.
const StatusIdentity = "status"

// StatusMethod is the method a status request carries.
const StatusMethod = "fleet-status"

// ListIdentity is the grain identity of listing calls (listpays,
// listsendpays without one hash).
const ListIdentity = "list"

// request is a JSON-RPC call as it crosses to a member.
type request struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// answer is its answer: Result, or Error.
type answer struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *rpc.Error      `json:"error,omitempty"`
}

// Status is a member's answer to StatusMethod.
type Status struct {
	// Node is the member's node id in hex.
	Node string `json:"node"`
	// SpendableMsat is what its channels can send now, summed.
	SpendableMsat uint64 `json:"spendable_msat"`
}

func encodeRequest(method string, params any) (*wrapperspb.BytesValue, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("fleet: encode %s params: %w", method, err)
	}
	b, err := json.Marshal(request{Method: method, Params: raw})
	if err != nil {
		return nil, fmt.Errorf("fleet: encode %s: %w", method, err)
	}
	return wrapperspb.Bytes(b), nil
}

func encodeAnswer(a answer) *wrapperspb.BytesValue {
	b, err := json.Marshal(a)
	if err != nil {
		b, _ = json.Marshal(answer{Error: &rpc.Error{Code: -1, Message: "fleet: encode answer: " + err.Error()}})
	}
	return wrapperspb.Bytes(b)
}
