package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/claims"
	"github.com/payengine/payengine/rpc"
)

// The store's refusals that no retry changes are final to the engine's
// outbox; etcd being away is not.
func TestFinal(t *testing.T) {
	for _, err := range []error{claims.ErrNotHolder, claims.ErrComplete, claims.ErrNotClaimed} {
		if !errors.Is(final(fmt.Errorf("x: %w", err)), actors.ErrClaimFinal) {
			t.Errorf("%v not final", err)
		}
	}
	if err := final(fmt.Errorf("x: %w", claims.ErrUnavailable)); errors.Is(err, actors.ErrClaimFinal) {
		t.Errorf("%v final", err)
	}
	if final(nil) != nil {
		t.Error("nil not nil")
	}
}

// A call crosses as JSON in a BytesValue, and a member's error keeps its
// code, message and data.
func TestWire(t *testing.T) {
	m, err := encodeRequest("pay", map[string]json.RawMessage{"bolt11": json.RawMessage(`"lnbcrt1"`)})
	if err != nil {
		t.Fatal(err)
	}
	var req request
	if err := json.Unmarshal(m.Value, &req); err != nil || req.Method != "pay" || string(req.Params) != `{"bolt11":"lnbcrt1"}` {
		t.Fatalf("%+v %v", req, err)
	}
	a := encodeAnswer(answer{Error: &rpc.Error{Code: 200, Message: "Payment is still in progress", Data: map[string]any{"k": 1.0}}})
	var back answer
	if err := json.Unmarshal(a.Value, &back); err != nil || back.Error == nil || back.Error.Code != 200 ||
		back.Error.Message != "Payment is still in progress" || fmt.Sprintf("%s", back.Error.Data) != `{"k":1}` {
		t.Fatalf("%+v %v", back, err)
	}
	// A bad request is an error answer, not a panic.
	g := &grain{o: &MemberOptions{Node: "n", Socket: "/nonexistent/socket"}}
	if ans := g.serve([]byte("{")); ans.Error == nil || ans.Error.Code != rpc.CodeLightningd {
		t.Fatalf("bad request: %+v", ans)
	}
	if ans := g.serve([]byte(`{"method":"listpays"}`)); ans.Error == nil {
		t.Fatalf("no socket: %+v", ans)
	}
	st := g.serve([]byte(`{"method":"` + StatusMethod + `"}`))
	var s Status
	if st.Error != nil || json.Unmarshal(st.Result, &s) != nil || s.Node != "n" {
		t.Fatalf("status: %+v", st)
	}
}
