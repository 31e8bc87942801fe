package htlc

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/payengine/payengine/graph"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// clnTypes maps Core Lightning's schema type names to standard JSON Schema,
// as testdata/README.md (after CLN's schema README) describes. "signature"
// is CLN's hex DER signature.
var clnTypes = map[string]map[string]any{
	"msat":                 {"type": "integer", "minimum": 0},
	"u8":                   {"type": "integer", "minimum": 0, "maximum": 255},
	"u16":                  {"type": "integer", "minimum": 0, "maximum": 65535},
	"u32":                  {"type": "integer", "minimum": 0, "maximum": json.Number("4294967295")},
	"u64":                  {"type": "integer", "minimum": 0, "maximum": json.Number("18446744073709551615")},
	"number":               {"type": "number"},
	"pubkey":               {"type": "string", "pattern": "^0[23][0-9a-f]{64}$"},
	"hash":                 {"type": "string", "pattern": "^[0-9a-f]{64}$"},
	"secret":               {"type": "string", "pattern": "^[0-9a-f]{64}$"},
	"hex":                  {"type": "string", "pattern": "^([0-9a-f]{2})*$"},
	"signature":            {"type": "string", "pattern": "^([0-9a-f]{2})+$"},
	"short_channel_id":     {"type": "string", "pattern": "^[0-9]+x[0-9]+x[0-9]+$"},
	"short_channel_id_dir": {"type": "string", "pattern": "^[0-9]+x[0-9]+x[0-9]+/[01]$"},
	"outpoint":             {"type": "string"},
	"txid":                 {"type": "string"},
	"string":               {"type": "string"},
	"integer":              {"type": "integer"},
	"boolean":              {"type": "boolean"},
	"object":               {"type": "object"},
	"array":                {"type": "array"},
}

// annotations are CLN schema keys with no validation meaning.
var annotations = map[string]bool{
	"description": true, "added": true, "deprecated": true, "depecated": true,
	"randomization": true, "post_return_value_notes": true, "title": true,
}

// standardSchema rewrites a CLN schema object into standard JSON Schema. It
// fails on any keyword it does not know, so a new CLN construct cannot pass
// unchecked.
func standardSchema(t *testing.T, s any) map[string]any {
	t.Helper()
	m, ok := s.(map[string]any)
	if !ok {
		t.Fatalf("schema is %T, want object", s)
	}
	out := map[string]any{}
	for k, v := range m {
		switch {
		case annotations[k]:
		case k == "type":
			name, _ := v.(string)
			std, ok := clnTypes[name]
			if !ok {
				t.Fatalf("unknown CLN type %v", v)
			}
			for kk, vv := range std {
				out[kk] = vv
			}
		case k == "properties":
			props := map[string]any{}
			for name, sub := range v.(map[string]any) {
				props[name] = standardSchema(t, sub)
			}
			out[k] = props
		case k == "items":
			out[k] = standardSchema(t, v)
		case k == "additionalProperties":
			if sub, ok := v.(map[string]any); ok {
				out[k] = standardSchema(t, sub)
			} else {
				out[k] = v
			}
		case k == "required" || k == "enum" || k == "minLength" || k == "maxLength" ||
			k == "minimum" || k == "maximum" || k == "pattern" || k == "const":
			out[k] = v
		default:
			t.Fatalf("schema keyword %q not handled", k)
		}
	}
	return out
}

// decodePaySchema compiles the response schema of testdata/decodepay.json.
func decodePaySchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile("testdata/decodepay.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	std, err := json.Marshal(standardSchema(t, doc["response"]))
	if err != nil {
		t.Fatal(err)
	}
	sdoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(std))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem:///decodepay-response.json", sdoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("mem:///decodepay-response.json")
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
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
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
