package rpc

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/payengine/payengine/clnschema"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaFiles names the schema of each command whose responses must
// validate; listpayments answers as listsendpays.
var schemaFiles = map[string]string{
	"pay": "pay", "sendpay": "sendpay", "waitsendpay": "waitsendpay", "getroute": "getroute",
	"listsendpays": "listsendpays", "listpayments": "listsendpays", "listpays": "listpays", "decodepay": "decodepay",
	"getroutes": "getroutes", "askrene-listlayers": "askrene-listlayers", "askrene-inform-channel": "askrene-inform-channel",
	"askrene-age": "askrene-age", "askrene-reserve": "askrene-reserve", "askrene-unreserve": "askrene-unreserve",
	"askrene-listreservations": "askrene-listreservations", "askrene-remove-layer": "askrene-remove-layer",
	"delpay": "delpay",
}

// responseSchemas compiles the response schema of every command that has
// one.
func responseSchemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	out := map[string]*jsonschema.Schema{}
	for method, file := range schemaFiles {
		s, err := clnschema.Response(file)
		if err != nil {
			t.Fatalf("schemas: %v", err)
		}
		out[method] = s
	}
	return out
}

// checkSchema validates a result of method against its CLN schema; methods
// without one pass.
func checkSchema(t testing.TB, method string, result []byte) error {
	t.Helper()
	sch, ok := responseSchemas(t)[method]
	if !ok {
		return nil
	}
	return clnschema.Validate(sch, result)
}

// seenStatuses records which result variants the tests validated, so
// TestSchemas can show every branch of the schemas' allOf was exercised.
var (
	seenMu       sync.Mutex
	seenStatuses = map[string]bool{}
)

func noteStatuses(method string, result []byte) {
	var one struct {
		Status   string `json:"status"`
		Payments []struct {
			Status string `json:"status"`
		} `json:"payments"`
		Pays []struct {
			Status string `json:"status"`
		} `json:"pays"`
	}
	if json.Unmarshal(result, &one) != nil {
		return
	}
	seenMu.Lock()
	defer seenMu.Unlock()
	seenStatuses[method] = true
	if one.Status != "" {
		seenStatuses[method+":"+one.Status] = true
	}
	for _, p := range one.Payments {
		seenStatuses[method+":"+p.Status] = true
	}
	for _, p := range one.Pays {
		seenStatuses[method+":"+p.Status] = true
	}
}

// Every response of the seven commands in one session validates against
// Core Lightning's schema, in each of its shapes (sendpay pending and
// complete; listsendpays and listpays rows pending, complete and failed;
// decodepay with and without amount); and the validator has teeth: a
// response with a field removed, added or mistyped is caught. (Every other
// test's responses are validated too, in rig.call.)
func TestSchemas(t *testing.T) {
	r := sub300Rig(t)
	inv, route := r.feeRoute(t, 100_000, 0)
	// decodepay, with and without amount; getroute.
	r.ok(t, "decodepay", []any{inv.Bolt11}, nil)
	r.ok(t, "decodepay", []any{r.invoice(t, inv.Destination, "any", nil).Bolt11}, nil)
	r.ok(t, "getroute", []any{inv.Destination, 100_000, 10}, nil)
	// A failed row: the wrong secret.
	failed := r.invoice(t, inv.Destination, 100_000, nil)
	r.ok(t, "sendpay", map[string]any{"route": route, "payment_hash": failed.PaymentHash, "payment_secret": strings.Repeat("22", 32)}, nil)
	r.fails(t, "waitsendpay", []any{failed.PaymentHash}, 203)
	// A pending row: held at the destination.
	held := r.invoice(t, inv.Destination, 100_000, nil)
	if err := r.n.Hold(mustNode(t, inv.Destination)); err != nil {
		t.Fatal(err)
	}
	r.ok(t, "sendpay", []any{route, held.PaymentHash, "held", nil, held.Bolt11}, nil)
	// A complete one by pay (through another node's invoice: ours is
	// held), and sendpay's complete answer.
	other := r.payable(t, 5, 100_000, 0)
	for _, d := range other {
		if d == inv.Destination {
			continue
		}
		paid := r.invoice(t, d, 100_000, nil)
		r.ok(t, "pay", []any{paid.Bolt11}, nil)
		var row struct {
			Payments []paymentJSON `json:"payments"`
		}
		r.ok(t, "listsendpays", []any{nil, paid.PaymentHash}, &row)
		r.ok(t, "waitsendpay", []any{paid.PaymentHash}, nil)
		break
	}
	r.ok(t, "listsendpays", nil, nil)
	r.ok(t, "listpayments", nil, nil)
	r.ok(t, "listpays", nil, nil)
	r.n.Release(mustNode(t, inv.Destination))
	r.ok(t, "waitsendpay", []any{held.PaymentHash}, nil)
	r.ok(t, "sendpay", []any{route, held.PaymentHash}, nil) // complete at once

	for _, k := range []string{"pay:complete", "sendpay:pending", "sendpay:complete", "waitsendpay:complete", "getroute", "decodepay",
		"listsendpays:pending", "listsendpays:complete", "listsendpays:failed", "listpays:pending", "listpays:complete", "listpays:failed", "listpayments"} {
		seenMu.Lock()
		seen := seenStatuses[k]
		seenMu.Unlock()
		if !seen {
			t.Errorf("no %s response was validated", k)
		}
	}

	// Teeth: each broken response must fail its schema.
	res, _ := r.call(t, "listsendpays", nil)
	for i, tt := range []struct {
		method string
		raw    []byte
		edit   func(m map[string]any)
	}{
		{"listsendpays", res, func(m map[string]any) { m["payments"].([]any)[0].(map[string]any)["bogus"] = 1 }},
		{"listsendpays", res, func(m map[string]any) { delete(m["payments"].([]any)[0].(map[string]any), "id") }},
		{"listsendpays", res, func(m map[string]any) { m["payments"].([]any)[0].(map[string]any)["amount_msat"] = "100000msat" }},
		{"listsendpays", res, func(m map[string]any) { m["payments"].([]any)[0].(map[string]any)["status"] = "done" }},
	} {
		var m map[string]any
		if err := json.Unmarshal(tt.raw, &m); err != nil {
			t.Fatal(err)
		}
		tt.edit(m)
		b, _ := json.Marshal(m)
		if checkSchema(t, tt.method, b) == nil {
			t.Errorf("#%d: broken %s validated: %s", i, tt.method, b)
		}
	}
	for i, tt := range []struct{ method, raw string }{
		{"pay", `{"payment_preimage":"00","payment_hash":"` + inv.PaymentHash + `","created_at":1,"parts":1,"amount_msat":1,"amount_sent_msat":1,"status":"complete"}`},
		{"pay", `{"payment_hash":"` + inv.PaymentHash + `","created_at":1,"parts":1,"amount_msat":1,"amount_sent_msat":1,"status":"complete"}`},
		{"sendpay", `{"id":1,"created_index":1,"payment_hash":"` + inv.PaymentHash + `","status":"pending","created_at":1,"amount_sent_msat":1}`},
		{"sendpay", `{"id":1,"created_index":1,"payment_hash":"` + inv.PaymentHash + `","status":"complete","created_at":1,"amount_sent_msat":1,"message":"x"}`},
		{"waitsendpay", `{"id":1,"created_index":1,"payment_hash":"` + inv.PaymentHash + `","status":"pending","created_at":1,"amount_sent_msat":1}`},
		{"getroute", `{"route":[{"id":"` + inv.Destination + `","channel":"1x1x1","direction":0,"amount_msat":1,"delay":9}]}`},
		{"listpays", `{"pays":[{"payment_hash":"` + inv.PaymentHash + `","status":"failed","created_at":1,"created_index":1,"amount_sent_msat":1,"amount_msat":1}]}`},
		{"decodepay", `{"currency":"bcrt","created_at":1,"expiry":1,"payee":"` + inv.Destination + `","min_final_cltv_expiry":18,"payment_hash":"` + inv.PaymentHash + `"}`},
	} {
		if checkSchema(t, tt.method, []byte(tt.raw)) == nil {
			t.Errorf("#%d: broken %s validated: %s", i, tt.method, tt.raw)
		}
	}
}

// The schemas' README: every request a schema accepts must be accepted.
// Each property of a command's request schema is one of its params (by
// name or alias), and the schema's required ones are required here.
func TestSchemaRequestParams(t *testing.T) {
	r := sub300Rig(t)
	for method, file := range schemaFiles {
		raw, err := clnschema.Raw(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Request struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"request"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		c := r.s.command(method)
		if c == nil {
			t.Fatalf("no command %s", method)
		}
		for name := range doc.Request.Properties {
			if name == "dev_legacy_hop" {
				continue // hidden, developer-only
			}
			if lookup(c.Params, name) == nil {
				t.Errorf("%s: the schema's param %s is not accepted", method, name)
			}
		}
		for _, name := range doc.Request.Required {
			if p := lookup(c.Params, name); p == nil || !p.Required {
				t.Errorf("%s: the schema's required param %s is not required", method, name)
			}
		}
	}
}
