package rpc

import (
	"encoding/json"
	"testing"

	"github.com/payengine/payengine/graph"
)

// The binder's rules (spec section 1, CLN's common/param.c), on a command
// with a required and two optional params, one with an alias.
func TestBind(t *testing.T) {
	params := []Param{
		{Name: "bolt11", Required: true, Parse: parseString},
		{Name: "amount_msat", Aliases: []string{"msatoshi"}, Parse: parseMsat},
		{Name: "retry_for", Parse: parseU32},
	}
	for i, tt := range []struct {
		params string
		err    string // "" for success
		amount graph.MilliSat
		given  string
	}{
		{`{"bolt11":"x"}`, "", 0, ""},
		{`["x"]`, "", 0, ""},
		{`["x", "5sat"]`, "", 5000, "amount_msat"},
		{`["x", null, 7]`, "", 0, ""},
		{`{"bolt11":"x","msatoshi":"1msat"}`, "", 1, "msatoshi"},
		{`{"bolt11":"x","amount_msat":null}`, "", 0, ""},
		{``, "missing required parameter: bolt11", 0, ""},
		{`[]`, "missing required parameter: bolt11", 0, ""},
		{`[null]`, "missing required parameter: bolt11", 0, ""},
		{`{}`, "missing required parameter: bolt11", 0, ""},
		{`"x"`, "Expected array or object for params", 0, ""},
		{`5`, "Expected array or object for params", 0, ""},
		{`["x",1,2,3]`, "too many parameters: got 4, expected 3", 0, ""},
		{`{"bolt11":"x","foo":1}`, "unknown parameter: foo", 0, ""},
		{`{"bolt11":"x","bolt11":"y"}`, "duplicate json names: bolt11", 0, ""},
		{`{"bolt11":"x","msatoshi":1,"amount_msat":1}`, "duplicate json names: msatoshi and amount_msat are the same parameter", 0, ""},
		{`{"bolt11":{}}`, "'bolt11' should be a string, not '{}'", 0, ""},
		{`{"bolt11":"x","msatoshi":-1}`, "'msatoshi' should be a millisatoshi amount, not '-1'", 0, ""},
		{`["x","1.5"]`, "'amount_msat' should be a millisatoshi amount, not '1.5'", 0, ""},
		{`{"bolt11":"x","retry_for":"soon"}`, "'retry_for' should be an integer, not 'soon'", 0, ""},
		{`{"bolt11":"x","retry_for":4294967296}`, "'retry_for' should be an integer, not '4294967296'", 0, ""},
		{`{"bolt11":"x","retry_for":1.5}`, "'retry_for' should be an integer, not '1.5'", 0, ""},
	} {
		a, e := bind(params, json.RawMessage(tt.params))
		switch {
		case tt.err != "" && (e == nil || e.Message != tt.err || e.Code != CodeInvalidParams):
			t.Errorf("#%d %s: %+v, want -32602 %q", i, tt.params, e, tt.err)
		case tt.err == "" && e != nil:
			t.Errorf("#%d %s: %v", i, tt.params, e)
		case tt.err == "":
			amt, _ := Arg[graph.MilliSat](a, "amount_msat")
			if amt != tt.amount || (tt.given != "" && a.Given("amount_msat") != tt.given) {
				t.Errorf("#%d %s: amount %d given as %q", i, tt.params, amt, a.Given("amount_msat"))
			}
		}
	}
}

// Keys, hashes and channel ids are checked for what they are, not only
// their length: a 33-byte key off the curve is refused.
func TestParsers(t *testing.T) {
	const good = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619"
	const offCurve = "020000000000000000000000000000000000000000000000000000000000000005"
	for i, tt := range []struct {
		parse func(string, json.RawMessage) (any, error)
		in    string
		ok    bool
	}{
		{parsePubkey, `"` + good + `"`, true},
		{parsePubkey, `"` + offCurve + `"`, false},
		{parsePubkey, `"04eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619"`, false},
		{parsePubkey, `"02eec7"`, false},
		{parsePubkey, `5`, false},
		{parseHash, `"` + good[2:] + `"`, true},
		{parseHash, `"` + good[2:65] + `"`, false},
		{parseHash, `"` + good[2:64] + `zz"`, false},
		{parseSCID, `"103x1x0"`, true},
		{parseSCID, `"103:1:0"`, true},
		{parseSCID, `"103x1"`, false},
		{parseSCID, `"16777216x1x0"`, false},
		{parseSCID, `103`, false},
		{parseExclude, `["103x1x0/1","` + good + `"]`, true},
		{parseExclude, `["103x1x0/2"]`, false},
		{parseExclude, `["garbage"]`, false},
		{parseExclude, `"103x1x0/1"`, false},
		{parsePercent, `5`, true},
		{parsePercent, `101`, false},
		{parsePositiveDouble, `0.0001`, true},
		{parsePositiveDouble, `-1`, false},
		{parsePositiveDouble, `"NaN"`, false},
		{parseMsatOrAny, `"any"`, true},
		{parseMsatOrAny, `"all"`, false},
		{parseMsatOrAny, `1`, true},
		{parseMsatOrAny, `0`, false},
		{parseMsatOrAny, `"0sat"`, false},
	} {
		_, err := tt.parse("p", json.RawMessage(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("#%d %s: %v, want ok=%v", i, tt.in, err, tt.ok)
		}
	}
}
