// Package clnschema holds Core Lightning's JSON schemas of the payment
// commands (schemas/, with their origin and licence) and compiles their
// response schemas into standard JSON Schema, mapping CLN's own type names
// (msat, u32, pubkey, short_channel_id, ...) first: the oracle the tests of
// htlc and rpc check every response against.
package clnschema

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schemas/*.json
var files embed.FS

var (
	mu       sync.Mutex
	compiled = map[string]*jsonschema.Schema{}
)

// Response returns the compiled response schema of a command ("pay",
// "decodepay", ...); it fails for a command without a schema here, or on
// a schema construct the mapping does not know, so nothing passes
// unchecked.
func Response(command string) (*jsonschema.Schema, error) {
	mu.Lock()
	defer mu.Unlock()
	if s, ok := compiled[command]; ok {
		return s, nil
	}
	raw, err := Raw(command)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("clnschema: %s: %w", command, err)
	}
	std, err := standardSchema(doc["response"])
	if err != nil {
		return nil, fmt.Errorf("clnschema: %s: %w", command, err)
	}
	b, err := json.Marshal(std)
	if err != nil {
		return nil, fmt.Errorf("clnschema: %s: %w", command, err)
	}
	sdoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("clnschema: %s: %w", command, err)
	}
	c := jsonschema.NewCompiler()
	url := "mem:///" + command + ".json"
	if err := c.AddResource(url, sdoc); err != nil {
		return nil, fmt.Errorf("clnschema: %s: %w", command, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("clnschema: %s: %w", command, err)
	}
	compiled[command] = s
	return s, nil
}

// Raw returns a command's schema file as Core Lightning wrote it, request
// schema included.
func Raw(command string) ([]byte, error) {
	b, err := files.ReadFile("schemas/" + command + ".json")
	if err != nil {
		return nil, fmt.Errorf("clnschema: %w", err)
	}
	return b, nil
}

// Validate checks a JSON document (a response's result) against s.
func Validate(s *jsonschema.Schema, result []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(result))
	if err != nil {
		return fmt.Errorf("clnschema: %w", err)
	}
	return s.Validate(inst)
}

// clnTypes maps Core Lightning's schema type names to standard JSON
// Schema, as schemas/README.md says. "signature" is CLN's hex DER
// signature.
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
	"description": true, "added": true, "deprecated": true, "depecated": true, "randomization": true,
	"post_return_value_notes": true, "pre_return_value_notes": true, "title": true, "default": true,
}

// standardSchema rewrites a CLN schema object into standard JSON Schema. It
// fails on a keyword it does not know, so a new CLN construct cannot pass
// unchecked.
func standardSchema(s any) (map[string]any, error) {
	m, ok := s.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema is %T, want object", s)
	}
	out := map[string]any{}
	for k, v := range m {
		switch {
		case annotations[k]:
		case k == "type":
			name, _ := v.(string)
			std, ok := clnTypes[name]
			if !ok {
				return nil, fmt.Errorf("unknown CLN type %v", v)
			}
			for kk, vv := range std {
				out[kk] = vv
			}
		case k == "properties":
			props := map[string]any{}
			for name, sub := range v.(map[string]any) {
				std, err := standardSchema(sub)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				props[name] = std
			}
			out[k] = props
		case k == "items" || k == "if" || k == "then":
			std, err := standardSchema(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = std
		case k == "allOf" || k == "oneOf":
			var list []any
			for _, sub := range v.([]any) {
				std, err := standardSchema(sub)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				list = append(list, std)
			}
			out[k] = list
		case k == "additionalProperties":
			if sub, ok := v.(map[string]any); ok {
				std, err := standardSchema(sub)
				if err != nil {
					return nil, err
				}
				out[k] = std
			} else {
				out[k] = v
			}
		case k == "required" || k == "enum" || k == "minLength" || k == "maxLength" ||
			k == "minimum" || k == "maximum" || k == "pattern" || k == "const":
			out[k] = v
		default:
			return nil, fmt.Errorf("schema keyword %q not handled", k)
		}
	}
	return out, nil
}
