package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Bad input through the socket (spec section 1): each request gets the
// right code, message and id, and the connection goes on serving (a good
// request right after it works), except where the stream itself cannot
// be followed (too large, unbalanced brackets): then an error and a
// closed connection, while other connections are unaffected.
func TestBadInput(t *testing.T) {
	r := sub300Rig(t)
	self := r.n.Self().String()
	offCurve := "02" + strings.Repeat("0", 63) + "5"
	hash := strings.Repeat("ab", 32)
	hop := func(k, v string) string {
		m := map[string]string{"id": `"` + self + `"`, "channel": `"1x2x3"`, "delay": "9", "msatoshi": "1000"}
		m[k] = v
		return fmt.Sprintf(`{"id":%s,"channel":%s,"delay":%s,"msatoshi":%s}`, m["id"], m["channel"], m["delay"], m["msatoshi"])
	}
	req := func(method, params string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":%q,"params":%s}`, method, params)
	}
	for i, tt := range []struct {
		send   string
		code   int
		msg    string // exact, or a prefix when it ends in "..."
		id     string
		closes bool
	}{
		// The envelope.
		{`{"id":1,"method":"getinfo",}`, CodeInvalidRequest, `Invalid token in json input: '{"id":1,"method":"getinfo",}'`, "null", false},
		{`hello`, CodeInvalidRequest, `Invalid token in json input: 'hello'`, "null", false},
		{`[1,2]`, CodeInvalidRequest, "Expected {} for json command", "null", false},
		{`"getinfo"`, CodeInvalidRequest, "Expected {} for json command", "null", false},
		{`42`, CodeInvalidRequest, "Expected {} for json command", "null", false},
		{`{"method":"getinfo","params":{}}`, CodeInvalidRequest, "No id", "null", false},
		{`{"id":{},"method":"getinfo"}`, CodeInvalidRequest, "Expected string/primitive for id", "null", false},
		{`{"id":[1],"method":"getinfo"}`, CodeInvalidRequest, "Expected string/primitive for id", "null", false},
		{`{"id":true,"method":"getinfo"}`, CodeInvalidRequest, "Expected a string, a number or null for id", "null", false},
		{`{"id":null,"method":"nosuch"}`, CodeMethodNotFound, "Unknown command 'nosuch'", "null", false},
		{`{"id":null,"method":"getinfo","params":[1]}`, CodeInvalidParams, "too many parameters: got 1, expected 0", "null", false},
		{`{"id":1,"id":2,"method":"getinfo"}`, CodeInvalidRequest, "duplicate json names: id", "null", false},
		{`{"id":"x1","params":[]}`, CodeInvalidRequest, "No method", `"x1"`, false},
		{`{"id":3,"method":5}`, CodeInvalidRequest, "Expected string for method", "3", false},
		{`{"id":4,"method":"nosuch","params":[]}`, CodeMethodNotFound, "Unknown command 'nosuch'", "4", false},
		// Params as a whole.
		{req("getinfo", `"x"`), CodeInvalidParams, "Expected array or object for params", "7", false},
		{req("getinfo", `[1]`), CodeInvalidParams, "too many parameters: got 1, expected 0", "7", false},
		{req("decodepay", `["a","b","c"]`), CodeInvalidParams, "too many parameters: got 3, expected 2", "7", false},
		{req("decodepay", `{"bolt11":"a","foo":1}`), CodeInvalidParams, "unknown parameter: foo", "7", false},
		{req("decodepay", `{"bolt11":"a","bolt11":"b"}`), CodeInvalidParams, "duplicate json names: bolt11", "7", false},
		{req("pay", `{"bolt11":"a","msatoshi":1,"amount_msat":1}`), CodeInvalidParams, "duplicate json names: msatoshi and amount_msat are the same parameter", "7", false},
		{req("waitsendpay", `{}`), CodeInvalidParams, "missing required parameter: payment_hash", "7", false},
		// Types.
		{req("decodepay", `[{}]`), CodeInvalidParams, "'bolt11' should be a string, not '{}'", "7", false},
		{req("waitsendpay", `["`+hash+`","soon"]`), CodeInvalidParams, "'timeout' should be an integer, not 'soon'", "7", false},
		{req("waitsendpay", `["`+hash+`",-1]`), CodeInvalidParams, "'timeout' should be an integer, not '-1'", "7", false},
		{req("pay", `{"bolt11":"a","riskfactor":"high"}`), CodeInvalidParams, "'riskfactor' should be a positive double, not 'high'", "7", false},
		{req("getroute", `{"id":"`+self+`","msatoshi":1,"riskfactor":1,"exclude":"1x2x3/0"}`), CodeInvalidParams, "'exclude' should be an array, not '1x2x3/0'", "7", false},
		// Keys, hashes, channel ids.
		{req("getroute", `["02zz", 1, 1]`), CodeInvalidParams, "'id' should be a pubkey, not '02zz'", "7", false},
		{req("getroute", `["`+offCurve+`", 1, 1]`), CodeInvalidParams, "'id' should be a pubkey, not '" + offCurve + "'", "7", false},
		{req("getroute", `["`+self+`", 1, 1, null, "`+self[:64]+`"]`), CodeInvalidParams, "'fromid' should be a pubkey, not '" + self[:64] + "'", "7", false},
		{req("waitsendpay", `["abc"]`), CodeInvalidParams, "'payment_hash' should be a 32 byte hex value, not 'abc'", "7", false},
		{req("waitsendpay", `["`+strings.Repeat("zz", 32)+`"]`), CodeInvalidParams, "'payment_hash' should be a 32 byte hex value, not '" + strings.Repeat("zz", 32) + "'", "7", false},
		{req("sendpay", `[[`+hop("channel", `"1x2"`)+`],"`+hash+`"]`), CodeInvalidParams, "route[0]: 'channel' should be a short channel id, not '1x2'", "7", false},
		{req("sendpay", `[[`+hop("id", `"02ab"`)+`],"`+hash+`"]`), CodeInvalidParams, "route[0]: 'id' should be a pubkey, not '02ab'", "7", false},
		{req("sendpay", `[[`+hop("delay", `-1`)+`],"`+hash+`"]`), CodeInvalidParams, "route[0]: 'delay' should be an integer, not '-1'", "7", false},
		{req("sendpay", `[[5],"`+hash+`"]`), CodeInvalidParams, "route[0]: should be an object, not '5'", "7", false},
		{req("sendpay", `[{},"`+hash+`"]`), CodeInvalidParams, "'route' should be an array, not '{}'", "7", false},
		// Amounts: negative, fractional, overflowing, malformed.
		{req("getroute", `["`+self+`", -5, 1]`), CodeInvalidParams, "'amount_msat' should be a millisatoshi amount, not '-5'", "7", false},
		{req("getroute", `{"id":"`+self+`","msatoshi":"-5sat","riskfactor":1}`), CodeInvalidParams, "'msatoshi' should be a millisatoshi amount, not '-5sat'", "7", false},
		{req("getroute", `{"id":"`+self+`","msatoshi":"1.5msat","riskfactor":1}`), CodeInvalidParams, "'msatoshi' should be a millisatoshi amount, not '1.5msat'", "7", false},
		{req("getroute", `{"id":"`+self+`","msatoshi":18446744073709551616,"riskfactor":1}`), CodeInvalidParams, "'msatoshi' should be a millisatoshi amount, not '18446744073709551616'", "7", false},
		{req("getroute", `{"id":"`+self+`","msatoshi":"18446744073709552sat","riskfactor":1}`), CodeInvalidParams, "'msatoshi' should be a millisatoshi amount, not '18446744073709552sat'", "7", false},
		{req("getroute", `{"id":"`+self+`","msatoshi":"0.000000000001btc","riskfactor":1}`), CodeInvalidParams, "'msatoshi' should be a millisatoshi amount, not '0.000000000001btc'", "7", false},
		{req("getroute", `{"id":"`+self+`","msatoshi":1e3,"riskfactor":1}`), CodeInvalidParams, "'msatoshi' should be a millisatoshi amount, not '1e3'", "7", false},
		{req("pay", `{"bolt11":"a","exemptfee":"5 sat"}`), CodeInvalidParams, "'exemptfee' should be a millisatoshi amount, not '5 sat'", "7", false},
		{req("sendpay", `[[`+hop("msatoshi", `"1.5sat"`)+`],"`+hash+`"]`), CodeInvalidParams, "route[0]: 'msatoshi' should be a millisatoshi amount, not '1.5sat'", "7", false},
		// A part of a multi-part sendpay without its total.
		{req("sendpay", `{"route":[`+hop("id", `"`+self+`"`)+`],"payment_hash":"`+hash+`","partid":2}`), CodeInvalidParams, "Must specify msatoshi with partid", "7", false},
		// Params the schemas list that the engine cannot honour.
		{req("pay", `{"bolt11":"a","exclude":["1x2x3/0"]}`), CodeInvalidParams, "'exclude' is not supported...", "7", false},
		// The stream itself: too large, or unbalanced.
		{`{"id":1,"method":"decodepay","params":["` + strings.Repeat("x", DefaultMaxRequestBytes) + `"]}`, CodeInvalidRequest, "Request too large...", "null", true},
		{`{"id":1,"method":"getinfo","params":[}`, CodeInvalidRequest, "Invalid token in json input...", "null", true},
		{`}`, CodeInvalidRequest, "Invalid token in json input: '}'", "null", true},
	} {
		c := r.raw(t)
		c.send(t, tt.send)
		resp := c.recv(t)
		msg := ""
		if resp.Error != nil {
			msg = resp.Error.Message
		}
		okMsg := msg == tt.msg || (strings.HasSuffix(tt.msg, "...") && strings.HasPrefix(msg, strings.TrimSuffix(tt.msg, "...")))
		if resp.Error == nil || resp.Error.Code != tt.code || !okMsg || string(resp.ID) != tt.id || resp.JSONRPC != "2.0" {
			t.Errorf("#%d %.80s: got id %s %+v, want id %s code %d %q", i, tt.send, resp.ID, resp.Error, tt.id, tt.code, tt.msg)
			continue
		}
		if tt.closes {
			if !c.closed(t) {
				t.Errorf("#%d: the connection is still open", i)
			}
		} else {
			c.send(t, `{"id":"next","method":"getinfo"}`)
			if next := c.recv(t); next.Error != nil || string(next.ID) != `"next"` || len(next.Result) == 0 {
				t.Errorf("#%d: the request after it got %s %+v", i, next.ID, next.Error)
			}
		}
	}
	// The rig's own client connection was never disturbed.
	r.ok(t, "getinfo", nil, nil)
}

// Several requests in one write, with and without whitespace between them,
// and one split across writes, are all answered.
func TestFraming(t *testing.T) {
	r := sub300Rig(t)
	c := r.raw(t)
	c.send(t, `{"id":1,"method":"getinfo"}{"id":2,"method":"getinfo"}`+"\n\n"+`  {"id":3,"method":"getinfo"}`)
	c.send(t, `{"id":4,"meth`)
	c.send(t, `od":"getinfo","params":[]}`)
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		resp := c.recv(t)
		if resp.Error != nil {
			t.Fatalf("%s: %+v", resp.ID, resp.Error)
		}
		seen[string(resp.ID)] = true
	}
	if len(seen) != 4 {
		t.Fatalf("answered %v", seen)
	}
}

// An id of null is an id (JSON-RPC 2.0; Core Lightning takes any string or
// primitive): the request is run and answered with id null, over the
// socket as over HTTP.
func TestNullID(t *testing.T) {
	r := sub300Rig(t)
	c := r.raw(t)
	c.send(t, `{"jsonrpc":"2.0","id":null,"method":"getinfo","params":{}} {"id" : null , "method":"getinfo"}`)
	for i := 0; i < 2; i++ {
		resp := c.recv(t)
		if resp.Error != nil || string(resp.ID) != "null" || !strings.Contains(string(resp.Result), r.n.Self().String()) {
			t.Fatalf("answer %d: id %s, %+v, %s", i, resp.ID, resp.Error, resp.Result)
		}
	}
	const token = "tok"
	srv := httptest.NewServer(r.s.HTTPHandler(token, nil))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(`{"jsonrpc":"2.0","id":null,"method":"getinfo"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got rawResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.Error != nil || string(got.ID) != "null" || len(got.Result) == 0 {
		t.Fatalf("HTTP: %v, id %s, %+v", err, got.ID, got.Error)
	}
}

// A request nested deeper than maxDepth is refused as too deep, however
// deep (encoding/json gives up at 10000 levels, which read as "Invalid
// token"), and the connection goes on; one at the limit is read as usual.
func TestDeepRequest(t *testing.T) {
	r := sub300Rig(t)
	nested := func(levels int) string { // levels in all, the request object included
		n := levels - 2
		return `{"id":1,"method":"getinfo","params":{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`
	}
	c := r.raw(t)
	tooDeep := fmt.Sprintf("request nested too deeply (more than %d levels)", maxDepth)
	for _, tt := range []struct {
		levels int
		code   int
		msg    string
	}{
		{20_000, CodeInvalidRequest, tooDeep},
		{maxDepth + 1, CodeInvalidRequest, tooDeep},
		{maxDepth, CodeInvalidParams, "unknown parameter: x"},
	} {
		c.send(t, nested(tt.levels))
		resp := c.recv(t)
		if resp.Error == nil || resp.Error.Code != tt.code || resp.Error.Message != tt.msg {
			t.Errorf("%d levels: %+v, want %d %q", tt.levels, resp.Error, tt.code, tt.msg)
		}
	}
	c.send(t, `{"id":"next","method":"getinfo"}`)
	if next := c.recv(t); next.Error != nil || string(next.ID) != `"next"` {
		t.Errorf("the request after them: %s %+v", next.ID, next.Error)
	}
}

// A request cut short by the end of the client's stream (it half-closes
// inside a value) is answered -32600 before the server closes the
// connection; the whole requests before it are answered too.
func TestCutShortRequest(t *testing.T) {
	r := sub300Rig(t)
	for _, tt := range []struct {
		send  string
		whole int // requests before the cut one
		cut   string
	}{
		{`{"id":1,"method":"getinfo","params":[`, 0, `{"id":1,"method":"getinfo","params":[`},
		{`{"id":1,"method":"getinfo"}  {"id":2,"meth`, 1, `{"id":2,"meth`},
		{`{"id":1,"method":"getinfo"}"half a str`, 1, `"half a str`},
	} {
		c := r.raw(t)
		c.send(t, tt.send)
		if err := c.c.(*net.UnixConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		var answers []rawResponse
		var err error
		for err == nil {
			var resp rawResponse
			if err = c.dec.Decode(&resp); err == nil {
				answers = append(answers, resp)
			}
		}
		if !errors.Is(err, io.EOF) {
			t.Errorf("%s: the connection was not closed: %v", tt.send, err)
		}
		want := fmt.Sprintf("Request cut short: the stream ended inside a JSON value: '%s'", tt.cut)
		// The answer to the stream may overtake the one to the request
		// before it, still running: they are told apart by id.
		whole, cut := 0, 0
		for _, a := range answers {
			switch {
			case string(a.ID) == "1" && a.Error == nil:
				whole++
			case string(a.ID) == "null" && a.Error != nil && a.Error.Code == CodeInvalidRequest && a.Error.Message == want:
				cut++
			default:
				t.Errorf("%s: answer id %s %+v %s", tt.send, a.ID, a.Error, a.Result)
			}
		}
		if whole != tt.whole || cut != 1 {
			t.Errorf("%s: %d answers to whole requests and %d to the cut one, want %d and 1 (%q)", tt.send, whole, cut, tt.whole, want)
		}
	}
}
