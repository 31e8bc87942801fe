package htlc

import (
	"encoding/json"
	"testing"

	"github.com/payengine/payengine/clnschema"
	"github.com/payengine/payengine/graph"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// decodePaySchema compiles Core Lightning's decodepay response schema.
func decodePaySchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sch, err := clnschema.Response("decodepay")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validate(sch *jsonschema.Schema, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return clnschema.Validate(sch, b)
}

// TestDecodePaySchema: every DecodePayResult (BOLT 11 vectors with route
// hints, fallbacks, features, metadata, description hashes; invoices made by
// EncodeInvoice with and without amount) validates against Core Lightning's
// decodepay response schema; a broken one does not.
func TestDecodePaySchema(t *testing.T) {
	sch := decodePaySchema(t)
	var results []DecodePayResult
	for _, v := range loadVectors(t) {
		inv, err := Decode(v.Invoice, DecodeOptions{Network: v.Network, Description: v.Description})
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		results = append(results, inv.DecodePayResult())
	}
	key := newNode(t, seeded(31))
	for _, amt := range []graph.MilliSat{0, 42} {
		s, err := EncodeInvoice(testInvoiceParams(amt), key.key)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := Decode(s, DecodeOptions{Network: Regtest})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, inv.DecodePayResult())
	}
	for i, r := range results {
		if err := validate(sch, r); err != nil {
			t.Errorf("#%d (%s): %v", i, jsonString(r), err)
		}
	}
	// The validator has teeth: these break the schema.
	bad := results[0]
	bad.PaymentHash = "xyz"
	if validate(sch, bad) == nil {
		t.Error("bad payment_hash validated")
	}
	var extra map[string]any
	b, _ := json.Marshal(results[0])
	_ = json.Unmarshal(b, &extra)
	extra["msatoshi"] = 1
	if validate(sch, extra) == nil {
		t.Error("unknown field validated (additionalProperties is false)")
	}
	delete(extra, "msatoshi")
	delete(extra, "payee")
	if validate(sch, extra) == nil {
		t.Error("missing payee validated")
	}
}
