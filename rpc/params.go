package rpc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/payengine/payengine/graph"
)

// Param describes one parameter of a Command: its name, the legacy names
// it is also accepted under (msatoshi for amount_msat), whether it is
// required, and how its JSON value becomes a Go value. Positional params
// come in the order of Command.Params.
type Param struct {
	Name     string
	Aliases  []string
	Required bool
	// Parse turns the JSON value into the value handlers read with Arg,
	// or returns an *Error naming the param as the caller spelled it.
	// Nil keeps the json.RawMessage.
	Parse func(name string, raw json.RawMessage) (any, error)
}

// Args are a request's bound params, parsed, by canonical name. A param
// that was absent, or null, is not there.
type Args struct {
	vals  map[string]any
	given map[string]string
}

// Has reports whether the param was given.
func (a *Args) Has(name string) bool { _, ok := a.vals[name]; return ok }

// Given returns the name the caller used for the param (an alias, or the
// name itself), for messages about it.
func (a *Args) Given(name string) string {
	if g, ok := a.given[name]; ok {
		return g
	}
	return name
}

// Arg returns a param's parsed value and whether it was given; a value of
// another type than T counts as absent (a handler bug, not a caller's).
func Arg[T any](a *Args, name string) (T, bool) {
	v, ok := a.vals[name].(T)
	return v, ok
}

// member is one name and value of a JSON object, in order.
type member struct {
	key string
	val json.RawMessage
}

// objectMembers walks a JSON object's members at the token level, so that
// duplicate names, which encoding/json would silently merge, are seen. It
// returns the members in order and the first name that repeats ("" if
// none). raw must be valid JSON.
func objectMembers(raw []byte) ([]member, string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, "", fmt.Errorf("rpc: not an object")
	}
	var out []member
	seen := map[string]bool{}
	dup := ""
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, "", fmt.Errorf("rpc: object key: %w", err)
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, "", fmt.Errorf("rpc: object member %q: %w", key, err)
		}
		if seen[key] && dup == "" {
			dup = key
		}
		seen[key] = true
		out = append(out, member{key, v})
	}
	return out, dup, nil
}

// arrayElements returns a JSON array's elements. raw must be valid JSON.
func arrayElements(raw []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, fmt.Errorf("rpc: not an array")
	}
	var out []json.RawMessage
	for dec.More() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("rpc: array element: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// firstByte is the first non-space byte of a JSON text (0 if none).
func firstByte(raw []byte) byte {
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 {
		return t[0]
	}
	return 0
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// bind fills Args from params by Core Lightning's rules (common/param.c):
// an array is positional, null skipping an optional param; an object is by
// name (or alias); anything else, unknown or duplicate names, too many
// positions and missing required params are -32602 with CLN's messages.
// Then each given param is parsed, in order; the first failure is returned.
func bind(params []Param, raw json.RawMessage) (*Args, *Error) {
	a := &Args{vals: map[string]any{}, given: map[string]string{}}
	got := map[string]json.RawMessage{}
	switch firstByte(raw) {
	case 0:
	case '[':
		elems, err := arrayElements(raw)
		if err != nil {
			return nil, invalidParams("Expected array or object for params")
		}
		if len(elems) > len(params) {
			return nil, invalidParams("too many parameters: got %d, expected %d", len(elems), len(params))
		}
		for i, v := range elems {
			if !isNull(v) {
				got[params[i].Name] = v
				a.given[params[i].Name] = params[i].Name
			}
		}
	case '{':
		members, dup, err := objectMembers(raw)
		if err != nil {
			return nil, invalidParams("Expected array or object for params")
		}
		if dup != "" {
			return nil, invalidParams("duplicate json names: %s", dup)
		}
		for _, m := range members {
			p := lookup(params, m.key)
			if p == nil {
				return nil, invalidParams("unknown parameter: %s", m.key)
			}
			if prev, ok := a.given[p.Name]; ok {
				return nil, invalidParams("duplicate json names: %s and %s are the same parameter", prev, m.key)
			}
			a.given[p.Name] = m.key
			if !isNull(m.val) {
				got[p.Name] = m.val
			}
		}
	default:
		return nil, invalidParams("Expected array or object for params")
	}
	for _, p := range params {
		if _, ok := got[p.Name]; p.Required && !ok {
			return nil, invalidParams("missing required parameter: %s", p.Name)
		}
	}
	for _, p := range params {
		v, ok := got[p.Name]
		if !ok {
			continue
		}
		if p.Parse == nil {
			a.vals[p.Name] = v
			continue
		}
		x, err := p.Parse(a.Given(p.Name), v)
		if err != nil {
			return nil, asError(err)
		}
		a.vals[p.Name] = x
	}
	return a, nil
}

func lookup(params []Param, key string) *Param {
	for i := range params {
		if params[i].Name == key {
			return &params[i]
		}
		for _, al := range params[i].Aliases {
			if al == key {
				return &params[i]
			}
		}
	}
	return nil
}

// text returns a JSON value as CLN's param callbacks read a token: a
// string without its quotes (str true), anything else as written.
func text(raw json.RawMessage) (s string, str bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err == nil {
			return s, true
		}
	}
	return string(raw), false
}

// primitive reports whether a JSON value is a string or a number: the
// tokens CLN reads numbers, hashes and keys from.
func primitive(raw json.RawMessage) (string, bool) {
	s, str := text(raw)
	if str {
		return s, true
	}
	if s == "" || s == "true" || s == "false" || s == "null" || s[0] == '{' || s[0] == '[' {
		return s, false
	}
	return s, true
}

// bad is CLN's "'name' should be <what>, not '<value>'" (long values cut).
func bad(name, what string, raw json.RawMessage) *Error {
	s, _ := text(raw)
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return invalidParams("'%s' should be %s, not '%s'", name, what, s)
}

// parseString takes a string, or a number as its text (CLN's param_string
// reads any token; a command line passes 123 as a number).
func parseString(name string, raw json.RawMessage) (any, error) {
	s, ok := primitive(raw)
	if !ok {
		return nil, bad(name, "a string", raw)
	}
	return s, nil
}

// parseMsat is CLN's param_msat: a number or a string in ParseAmount's
// forms.
func parseMsat(name string, raw json.RawMessage) (any, error) {
	s, ok := primitive(raw)
	if !ok {
		return nil, bad(name, "a millisatoshi amount", raw)
	}
	v, ok := ParseAmount(s)
	if !ok {
		return nil, bad(name, "a millisatoshi amount", raw)
	}
	return v, nil
}

// parseMsatOrAny is CLN invoice's amount (param_positive_msat_or_any): a
// positive msat amount, or "any" (nil) for an invoice without one. Zero is
// refused: it is not how an amountless invoice is asked for.
func parseMsatOrAny(name string, raw json.RawMessage) (any, error) {
	if s, str := text(raw); str && s == "any" {
		return (*graph.MilliSat)(nil), nil
	}
	v, err := parseMsat(name, raw)
	if err != nil {
		return nil, bad(name, `a positive millisatoshi amount or "any"`, raw)
	}
	m := v.(graph.MilliSat)
	if m == 0 {
		e := bad(name, `a positive millisatoshi amount or "any"`, raw)
		e.Message += `: "any" makes an invoice without an amount`
		return nil, e
	}
	return &m, nil
}

// parseUint returns a parser of a non-negative integer of the given bits,
// as CLN's param_number and param_u64 (a JSON number or a string of
// digits).
func parseUint(bitSize int) func(string, json.RawMessage) (any, error) {
	return func(name string, raw json.RawMessage) (any, error) {
		s, ok := primitive(raw)
		if !ok {
			return nil, bad(name, "an integer", raw)
		}
		v, err := strconv.ParseUint(s, 10, bitSize)
		if err != nil {
			return nil, bad(name, "an integer", raw)
		}
		return v, nil
	}
}

var (
	parseU32 = parseUint(32)
	parseU64 = parseUint(64)
)

// parseBool is CLN's param_bool: true or false, bare or as a string.
func parseBool(name string, raw json.RawMessage) (any, error) {
	switch s, _ := text(raw); s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return nil, bad(name, "a boolean", raw)
}

// parsePositiveDouble is CLN's param_percent shape: a finite number >= 0.
func parsePositiveDouble(name string, raw json.RawMessage) (any, error) {
	s, ok := primitive(raw)
	if !ok {
		return nil, bad(name, "a positive double", raw)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, bad(name, "a positive double", raw)
	}
	return v, nil
}

// parsePercent is a positive double of at most 100.
func parsePercent(name string, raw json.RawMessage) (any, error) {
	v, err := parsePositiveDouble(name, raw)
	if err != nil || v.(float64) > 100 {
		return nil, bad(name, "a percentage from 0 to 100", raw)
	}
	return v, nil
}

// parseHash is CLN's param_sha256: 32 bytes of hex.
func parseHash(name string, raw json.RawMessage) (any, error) {
	s, ok := primitive(raw)
	var h [32]byte
	if !ok || len(s) != 64 {
		return nil, bad(name, "a 32 byte hex value", raw)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return nil, bad(name, "a 32 byte hex value", raw)
	}
	return h, nil
}

// parseHex takes an even-length hex string.
func parseHex(name string, raw json.RawMessage) (any, error) {
	s, ok := text(raw)
	b, err := hex.DecodeString(s)
	if !ok || err != nil {
		return nil, bad(name, "a hex value", raw)
	}
	return b, nil
}

// parsePubkey is CLN's param_node_id: a compressed public key that is a
// point of the curve, not just 33 bytes of hex.
func parsePubkey(name string, raw json.RawMessage) (any, error) {
	s, ok := primitive(raw)
	if !ok {
		return nil, bad(name, "a pubkey", raw)
	}
	id, err := parseNodeID(s)
	if err != nil {
		return nil, bad(name, "a pubkey", raw)
	}
	return id, nil
}

func parseNodeID(s string) (graph.NodeID, error) {
	id, err := graph.ParseNodeID(strings.ToLower(s))
	if err != nil {
		return id, err
	}
	if _, err := btcec.ParsePubKey(id[:]); err != nil {
		return id, fmt.Errorf("rpc: %s is not a point of secp256k1: %w", s, err)
	}
	return id, nil
}

// parseSCID is CLN's param_short_channel_id (BLOCKxTXxOUT, or the older
// BLOCK:TX:OUT).
func parseSCID(name string, raw json.RawMessage) (any, error) {
	s, ok := text(raw)
	if !ok {
		return nil, bad(name, "a short channel id", raw)
	}
	v, err := graph.ParseSCID(s)
	if err != nil {
		return nil, bad(name, "a short channel id", raw)
	}
	return v, nil
}

// parseExclude is getroute's exclude: an array of "scid/dir" or node ids;
// anything else is -32602 "X is not a valid short_channel_id/node_id".
func parseExclude(name string, raw json.RawMessage) (any, error) {
	if firstByte(raw) != '[' {
		return nil, bad(name, "an array", raw)
	}
	elems, err := arrayElements(raw)
	if err != nil {
		return nil, bad(name, "an array", raw)
	}
	out := make([]graph.Exclusion, 0, len(elems))
	for _, e := range elems {
		s, _ := text(e)
		if d, err := graph.ParseSCIDDir(s); err == nil {
			out = append(out, graph.ExcludeChannel(d))
			continue
		}
		if id, err := parseNodeID(s); err == nil {
			out = append(out, graph.ExcludeNode(id))
			continue
		}
		return nil, invalidParams("%s is not a valid short_channel_id/node_id", s)
	}
	return out, nil
}
