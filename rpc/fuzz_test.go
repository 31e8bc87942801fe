package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/internal/fuzzcorpus"
	"github.com/payengine/payengine/payment"
)

// The fuzz targets of this file run their seed corpus (testdata/fuzz) in
// every go test. To fuzz, one target at a time:
//
//	go test ./rpc -run '^$' -fuzz '^FuzzRequest$' -fuzztime 10m
//	go test ./rpc -run '^$' -fuzz '^FuzzParseAmount$' -fuzztime 10m
//
// The generated seeds are rewritten with
//
//	go test ./rpc -run TestFuzzCorpus -rewrite

var rewrite = flag.Bool("rewrite", false, "rewrite the generated seed corpora in testdata/fuzz")

// fuzzMaxBytes is the request size limit of the fuzzed server: small, so
// that "Request too large" is within the fuzzer's reach.
const fuzzMaxBytes = 2048

// fuzzParams is the test-only command fuzz-params: one param per parser
// the real commands use, none required, so every parser is reachable by
// name or position.
var fuzzParams = []Param{
	{Name: "string", Parse: parseString},
	{Name: "msat", Aliases: []string{"msatoshi"}, Parse: parseMsat},
	{Name: "msat_or_any", Parse: parseMsatOrAny},
	{Name: "u32", Parse: parseU32},
	{Name: "u64", Parse: parseU64},
	{Name: "double", Parse: parsePositiveDouble},
	{Name: "percent", Parse: parsePercent},
	{Name: "hash", Parse: parseHash},
	{Name: "hex", Parse: parseHex},
	{Name: "pubkey", Parse: parsePubkey},
	{Name: "scid", Parse: parseSCID},
	{Name: "exclude", Parse: parseExclude},
	{Name: "route", Parse: parseRoute},
	{Name: "status", Parse: parseStatus},
	{Name: "raw"},
	{Name: "bool", Parse: parseBool},
}

// newFuzzServer is a server with every real command's params and no
// engine: help is the real one, the other handlers check the bound args
// (an inconsistency is answered -1, which FuzzRequest fails on) and echo
// them. A backend's own commands, built from the same parsers, are fuzzed
// in their package (simnet/simnetrpc's FuzzParams). It runs one request of a connection at a time, so answers come in
// order.
func newFuzzServer() *Server {
	s := newServer(config{maxBytes: fuzzMaxBytes, maxInFlight: 1, writeTimeout: time.Second,
		log: slog.New(slog.DiscardHandler)})
	h := &handlers{s: s}
	cmds := append(h.commands(), Command{Name: "fuzz-params", Category: "developer", Params: fuzzParams})
	for _, c := range cmds {
		if c.Name != "help" {
			c.Handler = echoArgs(c.Params)
		}
		if err := s.Register(c); err != nil {
			panic(err) // the command table itself is wrong
		}
	}
	return s
}

// echoArgs is a handler that checks each bound arg is what its parser
// promises, and answers them as text.
func echoArgs(params []Param) func(context.Context, *Args) (any, error) {
	return func(_ context.Context, a *Args) (any, error) {
		out := map[string]string{}
		for _, p := range params {
			v, ok := a.vals[p.Name]
			if !ok {
				continue
			}
			if given := a.Given(p.Name); given != p.Name && !contains(p.Aliases, given) {
				return nil, fmt.Errorf("echo: %s given as %q", p.Name, given)
			}
			if err := checkArg(v); err != nil {
				return nil, fmt.Errorf("echo: %s = %#v: %v", p.Name, v, err)
			}
			out[p.Name] = fmt.Sprint(v)
		}
		return out, nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkArg checks a parsed value: amounts, channel ids and keys print back
// to themselves, numbers are in range.
func checkArg(v any) error {
	switch v := v.(type) {
	case string, uint64, [32]byte, []byte, json.RawMessage, bool:
	case graph.MilliSat:
		if back, ok := ParseAmount(v.String()); !ok || back != v {
			return fmt.Errorf("%s reads back as %d, %v", v, back, ok)
		}
	case *graph.MilliSat:
		if v != nil {
			return checkArg(*v)
		}
	case float64:
		if v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return errors.New("not a positive finite double")
		}
	case graph.NodeID:
		if _, err := btcec.ParsePubKey(v[:]); err != nil {
			return err
		}
	case graph.SCID:
		if back, err := graph.ParseSCID(v.String()); err != nil || back != v {
			return fmt.Errorf("%s reads back as %s, %v", v, back, err)
		}
	case []graph.Exclusion: // exclude
		for _, x := range v {
			if back, err := graph.ParseExclusion(x.String()); err != nil || back != x {
				return fmt.Errorf("exclude entry %s reads back as %s, %v", x, back, err)
			}
		}
	case []graph.Hop:
		for _, h := range v {
			if err := checkArg(h.ID); err != nil {
				return err
			}
			if err := checkArg(h.Channel); err != nil {
				return err
			}
			if err := checkArg(h.Amount); err != nil {
				return err
			}
		}
	case payment.Status:
		if v != payment.StatusPending && v != payment.StatusComplete && v != payment.StatusFailed {
			return errors.New("unknown status")
		}
	default:
		return fmt.Errorf("unexpected type %T", v)
	}
	return nil
}

// FuzzRequest feeds arbitrary bytes as one connection's stream to the
// server's own connection loop (framing, envelope, params, dispatch and
// response encoding) with the real commands' params. It must never panic;
// every value the frame reader cuts is answered, in order, plus one answer
// for a stream that cannot be followed or ends inside a value (which may
// overtake the answer to the last request); each answer is one JSON-RPC 2.0
// response followed by a blank line, with the request's id or null, a
// result (with id null only if the request's id is null) or an error with
// a documented code (-1 never: handlers here do not fail unless a bound arg
// is wrong).
func FuzzRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		out := serveStream(t, stream)
		frames, tail := frameStream(stream)
		answers := strings.Split(string(out), "\n\n")
		if answers[len(answers)-1] != "" {
			t.Fatalf("output does not end with a blank line: %q", out)
		}
		answers = answers[:len(answers)-1]
		n := len(answers)
		if want := len(frames) + tail; n != want {
			t.Fatalf("%d answers for %d values (+%d for the stream):\n%s", n, len(frames), tail, out)
		}
		if tail == 1 && n >= 2 &&
			(checkResponse(answers[n-2], frames[n-2]) != nil || checkResponse(answers[n-1], nil) != nil) {
			// The stream's answer is written while the last request
			// still runs, so either may come first.
			answers[n-2], answers[n-1] = answers[n-1], answers[n-2]
		}
		for i, a := range answers {
			var frame []byte
			if i < len(frames) {
				frame = frames[i]
			}
			if err := checkResponse(a, frame); err != nil {
				t.Fatalf("answer %d to %q: %v\n%s", i, frame, err, a)
			}
		}
	})
}

// serveStream serves, with a new fuzz server, one connection whose peer
// sends stream and then half-closes, and returns what the server wrote
// before closing it.
func serveStream(t *testing.T, stream []byte) []byte {
	s := newFuzzServer()
	fc := &fuzzConn{r: bytes.NewReader(stream), closed: make(chan struct{})}
	l := &fuzzListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.conns <- fc
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	select {
	case <-fc.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the server did not close the connection after %d bytes", len(stream))
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("serve: %v", err)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return bytes.Clone(fc.w.Bytes())
}

// frameStream cuts the stream as serveConn does: the values it answers
// one by one, and 1 if it then answers the stream itself (too large,
// unframeable, or ending inside a value), 0 if it just stops.
func frameStream(stream []byte) ([][]byte, int) {
	fr := newFrameReader(bytes.NewReader(stream), fuzzMaxBytes)
	var frames [][]byte
	for {
		raw, err := fr.next()
		switch {
		case errors.Is(err, errTooLarge), errors.Is(err, errFraming), errors.Is(err, io.ErrUnexpectedEOF):
			return frames, 1
		case err != nil:
			return frames, 0
		}
		frames = append(frames, bytes.Clone(raw))
	}
}

// checkResponse checks one answer to frame (nil for the stream's own).
func checkResponse(a string, frame []byte) error {
	if strings.Contains(a, "\n") || !json.Valid([]byte(a)) {
		return errors.New("not one line of JSON")
	}
	var r map[string]json.RawMessage
	if err := json.Unmarshal([]byte(a), &r); err != nil {
		return fmt.Errorf("not an object: %v", err)
	}
	_, hasResult := r["result"]
	_, hasError := r["error"]
	if string(r["jsonrpc"]) != `"2.0"` || r["id"] == nil || hasResult == hasError || len(r) != 3 {
		return errors.New("not a JSON-RPC 2.0 response")
	}
	id := string(r["id"])
	if id != "null" {
		want, ok := requestID(frame)
		if !ok || id != want {
			return fmt.Errorf("id %s, request's %q", id, want)
		}
	}
	if hasResult {
		if want, ok := requestID(frame); id == "null" && (!ok || want != "null") {
			return fmt.Errorf("a result with id null, request's %q", want)
		}
		return nil
	}
	var e struct {
		Code    *int    `json:"code"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(r["error"], &e); err != nil || e.Code == nil || e.Message == nil || *e.Message == "" {
		return fmt.Errorf("error object %s", r["error"])
	}
	switch *e.Code {
	case CodeInvalidRequest, CodeMethodNotFound, CodeInvalidParams:
		return nil
	}
	return fmt.Errorf("error code %d: %s", *e.Code, *e.Message)
}

// requestID is the id member of a request, compacted, if frame is an
// object that has one.
func requestID(frame []byte) (string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(frame, &m) != nil || m["id"] == nil {
		return "", false
	}
	var b bytes.Buffer
	if json.Compact(&b, m["id"]) != nil {
		return "", false
	}
	return b.String(), true
}

// fuzzListener hands out its connections, then waits to be closed.
type fuzzListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *fuzzListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *fuzzListener) Close() error   { l.closeOnce.Do(func() { close(l.closed) }); return nil }
func (l *fuzzListener) Addr() net.Addr { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }

// fuzzConn is the server's side of a connection whose peer has sent r and
// half-closed; it keeps what the server writes, and closed says the server
// closed it.
type fuzzConn struct {
	r         *bytes.Reader
	mu        sync.Mutex
	w         bytes.Buffer
	closed    chan struct{}
	closeOnce sync.Once
}

func (c *fuzzConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r.Read(b)
}

func (c *fuzzConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Write(b)
}

func (c *fuzzConn) Close() error                     { c.closeOnce.Do(func() { close(c.closed) }); return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// amountForm is every form ParseAmount takes: digits with msat, sat or
// nothing, or digits, a point and 1 to 11 decimals with btc.
var amountForm = regexp.MustCompile(`^(?:([0-9]+)(msat|sat)?|([0-9]+)\.([0-9]{1,11})btc)$`)

// FuzzParseAmount: ParseAmount never panics, agrees with an exact
// big-integer reading of its forms (so it accepts no overflow and no
// fraction of a msat), and what it accepts prints in every form that can
// hold it (msat, bare, sat when whole, btc) and reads back the same.
func FuzzParseAmount(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseAmount(s)
		want, wantOK := exactAmount(s)
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("ParseAmount(%q) = %d, %v; exactly, %d, %v", s, got, ok, want, wantOK)
		}
		if !ok {
			return
		}
		forms := []string{got.String(), strconv.FormatUint(uint64(got), 10),
			fmt.Sprintf("%d.%011dbtc", got/msatPerBTC, got%msatPerBTC)}
		if got%1000 == 0 {
			forms = append(forms, fmt.Sprintf("%dsat", got/1000))
		}
		for _, form := range forms {
			if back, ok := ParseAmount(form); !ok || back != got {
				t.Fatalf("%q (from %q) reads back as %d, %v", form, s, back, ok)
			}
		}
		raw, _ := json.Marshal(s)
		if v, err := parseMsat("amount_msat", raw); err != nil || v != got {
			t.Fatalf("parseMsat(%s) = %v, %v", raw, v, err)
		}
	})
}

// exactAmount reads an amount with big integers.
func exactAmount(s string) (graph.MilliSat, bool) {
	m := amountForm.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	v := new(big.Int)
	switch {
	case m[3] != "": // btc
		w, _ := new(big.Int).SetString(m[3], 10)
		f, _ := new(big.Int).SetString(m[4]+strings.Repeat("0", 11-len(m[4])), 10)
		v.Mul(w, big.NewInt(msatPerBTC)).Add(v, f)
	case m[2] == "sat":
		v.SetString(m[1], 10)
		v.Mul(v, big.NewInt(1000))
	default:
		v.SetString(m[1], 10)
	}
	if !v.IsUint64() {
		return 0, false
	}
	return graph.MilliSat(v.Uint64()), true
}

// requestSeeds are FuzzRequest's generated seeds: a request for every
// command, by name and by position, with aliases; fuzz-params with every
// parser's valid and invalid values; several requests in one stream; and
// the envelope and stream errors the server answers.
func requestSeeds() map[string][]byte {
	id := "03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f"
	id2 := "0217890e3aad8d35bc054f43acc00084b25229ecff0ab68debd82883ad65ee8266"
	offCurve := "02" + strings.Repeat("0", 63) + "5"
	hash := strings.Repeat("ab", 32)
	bolt11 := "lnbcrt1230n1p5qfuzzpp5"
	hop := `{"id":"` + id + `","channel":"700000x12x1","direction":1,"msatoshi":1000,"amount_msat":"1000msat","delay":9,"style":"tlv"}`
	req := func(rid, method, params string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":%s}`, rid, method, params)
	}
	seeds := map[string]string{
		"getinfo":             `{"jsonrpc":"2.0","id":1,"method":"getinfo"}`,
		"help":                req(`"h"`, "help", `[]`),
		"help-command":        req(`"h"`, "help", `{"command":"getroute"}`),
		"help-unknown":        req(`"h"`, "help", `["nosuch"]`),
		"decodepay":           req("2", "decodepay", `{"bolt11":"`+bolt11+`","description":"x"}`),
		"getroute-named":      req("3", "getroute", `{"id":"`+id+`","msatoshi":"1000msat","riskfactor":1.5,"cltv":9,"fromid":"`+id2+`","fuzzpercent":5,"exclude":["1x2x3/0","`+id2+`"],"maxhops":20}`),
		"getroute-positional": req("3", "getroute", `["`+id+`",1000,1,null,null,0]`),
		"sendpay":             req(`"sp"`, "sendpay", `{"route":[`+hop+`,`+hop+`],"payment_hash":"`+hash+`","label":"l","msatoshi":"0.00000001btc","bolt11":"`+bolt11+`","payment_secret":"`+hash+`","partid":0,"groupid":1,"payment_metadata":"0102"}`),
		"sendpay-positional":  req(`"sp"`, "sendpay", `[[`+hop+`],"`+hash+`",null,"1sat"]`),
		"waitsendpay":         req("5", "waitsendpay", `["`+hash+`",60,0,0]`),
		"pay":                 req("6", "pay", `{"bolt11":"`+bolt11+`","amount_msat":"1sat","riskfactor":10,"maxfeepercent":0.5,"retry_for":60,"maxdelay":2016,"exemptfee":5000,"maxfee":"10sat","description":"d"}`),
		"listsendpays":        req("7", "listsendpays", `{"payment_hash":"`+hash+`","status":"complete","index":"created","start":1,"limit":10}`),
		"listpays":            req("8", "listpays", `["`+bolt11+`"]`),
		"listpayments":        req("9", "listpayments", `{}`),
		"fuzz-params-valid": req("-12", "fuzz-params", `{"string":"s","msatoshi":"184467440.73709551615btc","msat_or_any":"5sat","u32":4294967295,"u64":"18446744073709551615",`+
			`"double":"1e300","percent":100,"hash":"`+hash+`","hex":"","pubkey":"`+strings.ToUpper(id)+`","scid":"1:2:3","exclude":[],"route":[],"status":"pending","raw":{"a":[1]}}`),
		"fuzz-params-invalid":  req("1.5e3", "fuzz-params", `["",-1,"anyway",4294967296,-0,"NaN",100.0001,"`+hash[:63]+`","0x","`+offCurve+`","1x2","nope",[{}],"done"]`),
		"fuzz-params-bool":     req("13", "fuzz-params", `{"msat_or_any":"any","bool":"true"}`),
		"fuzz-params-nulls":    req(`"\u0041"`, "fuzz-params", `[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null]`),
		"stream-three":         `{"id":1,"method":"getinfo"}{"id":2,"method":"help"}` + "\n\n " + `{"id":3,"method":"nosuch"}`,
		"stream-scalars":       `1 true "s" null`,
		"stream-split-string":  `{"id":"a}b\"{","method":"getinfo"}`,
		"envelope-trailing":    `{"id":1,"method":"getinfo",}`,
		"envelope-no-id":       `{"method":"getinfo","params":{}}`,
		"envelope-object-id":   `{"id":{},"method":"getinfo"}`,
		"envelope-null-id":     `{"jsonrpc":"2.0","id":null,"method":"getinfo"}{"id":null,"method":"nosuch"}`,
		"envelope-bool-id":     `{"id":true,"method":"getinfo"}`,
		"envelope-dup-id":      `{"id":1,"id":2,"method":"getinfo"}`,
		"envelope-no-method":   `{"id":"x1","params":[]}`,
		"envelope-method-num":  `{"id":3,"method":5}`,
		"envelope-array":       `[{"id":1,"method":"getinfo"}]`,
		"params-dup-alias":     req("7", "pay", `{"bolt11":"a","msatoshi":1,"amount_msat":1}`),
		"params-too-many":      req("7", "getinfo", `[1]`),
		"params-string":        req("7", "getinfo", `"x"`),
		"route-bad-hop":        req("7", "sendpay", `[[5,{"id":"`+id+`","channel":"1x2x3","delay":-1,"msatoshi":1}],"`+hash+`"]`),
		"route-amounts-differ": req("7", "sendpay", `[[{"id":"`+id+`","channel":"1x2x3","delay":1,"msatoshi":1,"amount_msat":2}],"`+hash+`"]`),
		"stream-too-large":     `{"id":1,"method":"decodepay","params":["` + strings.Repeat("x", fuzzMaxBytes) + `"]}`,
		"stream-unbalanced":    `{"id":1,"method":"getinfo","params":[}`,
		"stream-close":         `}`,
		"stream-cut":           `{"id":1,"method":"get`,
		"stream-deep":          strings.Repeat("[", 600) + strings.Repeat("]", 600),
		"stream-too-deep":      `{"id":null,"method":"getinfo","params":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`,
		"stream-cut-after-one": `{"id":null,"method":"getinfo"}{"id":2,"method":"getinfo","params":[`,
	}
	out := make(map[string][]byte, len(seeds))
	for name, s := range seeds {
		out[name] = []byte(s)
	}
	return out
}

// amountSeeds are FuzzParseAmount's generated seeds: every form at its
// limits, and what is refused.
func amountSeeds() map[string][]byte {
	out := map[string][]byte{}
	for i, s := range []string{
		"0", "007", "123msat", "5sat", "18446744073709551615", "18446744073709551615msat", "18446744073709551sat",
		"0.001btc", "0.00000000001btc", "184467440.73709551615btc",
		"18446744073709551616", "18446744073709552sat", "184467440.73709551616btc", "184467441.0btc",
		"1btc", ".5btc", "0.000000000001btc", "1.5sat", "-5", "+5", "1e3", "", "msat", "5 sat", "5SAT", "0x10",
	} {
		out[fmt.Sprintf("amount-%02d", i)] = []byte(s)
	}
	return out
}

// TestFuzzCorpus: the generated seeds on disk are what requestSeeds and
// amountSeeds make (go test ./rpc -run TestFuzzCorpus -rewrite writes them
// again; crash files the fuzzer added are left alone).
func TestFuzzCorpus(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzRequest", asSeeds(requestSeeds(), func(b []byte) any { return b }), *rewrite)
	fuzzcorpus.Check(t, "FuzzParseAmount", asSeeds(amountSeeds(), func(b []byte) any { return string(b) }), *rewrite)
}

// asSeeds makes one-argument seeds of the target's type.
func asSeeds(in map[string][]byte, arg func([]byte) any) map[string][]any {
	out := make(map[string][]any, len(in))
	for name, b := range in {
		out[name] = []any{arg(b)}
	}
	return out
}
