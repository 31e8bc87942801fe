package rpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/simnet"
)

// getinfo and help through the socket.
func TestGetinfoHelp(t *testing.T) {
	r := sub300Rig(t)
	var info getinfoJSON
	r.ok(t, "getinfo", nil, &info)
	if info.ID != r.n.Self().String() || info.Alias != simnet.DefaultLocalAlias || info.Network != "regtest" ||
		info.NumActiveChannels != len(r.n.LocalChannels()) || info.NumPeers == 0 || info.NumPeers > info.NumActiveChannels ||
		info.Blockheight != r.n.Height() || info.Version != "test" {
		t.Fatalf("getinfo: %+v", info)
	}
	r.fails(t, "getinfo", []any{1}, CodeInvalidParams)

	var help struct {
		Help []helpEntry `json:"help"`
	}
	r.ok(t, "help", nil, &help)
	var names []string
	for _, h := range help.Help {
		names = append(names, strings.Fields(h.Command)[0])
	}
	want := "askrene-age askrene-inform-channel askrene-listlayers askrene-listreservations askrene-remove-layer askrene-reserve askrene-unreserve decodepay delpay getinfo getroute getroutes help listpayments listpays listsendpays pay paystatus sendpay waitsendpay"
	if strings.Join(names, " ") != want {
		t.Fatalf("help lists %v", names)
	}
	r.ok(t, "help", []any{"pay"}, &help)
	if len(help.Help) != 1 || !strings.HasPrefix(help.Help[0].Command, "pay bolt11 [amount_msat] [label]") ||
		!strings.Contains(help.Help[0].Verbose, "amount_msat may also be given as msatoshi") {
		t.Fatalf("help pay: %+v", help.Help)
	}
	if e := r.fails(t, "help", map[string]any{"command": "nosuch"}, CodeMethodNotFound); e.Message != "Unknown command 'nosuch'" {
		t.Fatal(e.Message)
	}
}

// decodepay reads invoices back, with and without amount; its failure
// and missing params. (simnetrpc's tests check simnet-invoice itself.)
func TestDecodepay(t *testing.T) {
	r := sub300Rig(t)
	dest := r.payable(t, 1, 10_000, 0)[0]
	inv := r.invoice(t, dest, "10sat", map[string]any{"expiry": 600})
	anyInv := r.invoice(t, dest, "any", nil)

	var d map[string]any
	r.ok(t, "decodepay", []any{inv.Bolt11}, &d)
	if d["payee"] != dest || d["payment_hash"] != inv.PaymentHash || d["amount_msat"] != 10_000.0 ||
		d["description"] != "rpc test" || d["currency"] != "bcrt" || d["expiry"] != 600.0 {
		t.Fatalf("decodepay: %v", d)
	}
	d = nil
	r.ok(t, "decodepay", map[string]any{"bolt11": anyInv.Bolt11}, &d)
	if _, has := d["amount_msat"]; has {
		t.Fatalf("an 'any' invoice decodes with an amount: %v", d)
	}
	// decodepay's failure is -1 "Invalid bolt11: ..." (spec section 11).
	if e := r.fails(t, "decodepay", []any{"lnbcrt1garbage"}, CodeLightningd); !strings.HasPrefix(e.Message, "Invalid bolt11: ") {
		t.Fatal(e.Message)
	}
	r.fails(t, "decodepay", []any{}, CodeInvalidParams)
}

// getroute: a route in the schema's shape ending at the destination with
// its amount and CLTV; 205 when there is none; exclusions; bad params.
func TestGetroute(t *testing.T) {
	r := sub300Rig(t)
	dest := r.payable(t, 1, 50_000, 0)[0]
	var fixed struct {
		Route []hopJSON `json:"route"`
	}
	r.ok(t, "getroute", map[string]any{"id": dest, "amount_msat": 50_000, "riskfactor": 1, "cltv": simnet.DefaultMinFinalCLTV, "seed": "t"}, &fixed)
	route := fixed.Route
	last := route[len(route)-1]
	if last.ID != dest || last.Amount != 50_000 || last.Delay != simnet.DefaultMinFinalCLTV || last.Style != "tlv" || route[0].Amount < 50_000 {
		t.Fatalf("route %+v", route)
	}
	// msatoshi is getroute's v0.7 name; positional form too.
	var res struct {
		Route []hopJSON `json:"route"`
	}
	r.ok(t, "getroute", []any{dest, "50sat", 1, simnet.DefaultMinFinalCLTV, nil, nil, nil, nil, "t"}, &res)
	if len(res.Route) != len(route) || res.Route[0] != route[0] {
		t.Fatalf("positional: %+v, want %+v", res.Route, route)
	}
	r.ok(t, "getroute", map[string]any{"id": dest, "msatoshi": 50_000, "riskfactor": 1, "fuzzpercent": 0, "maxhops": 20}, &res)
	// Excluding the first channel's direction gives a route without it,
	// or 205.
	ex := route[0].Channel + "/" + string(rune('0'+route[0].Direction))
	res.Route = nil
	if _, e := r.call(t, "getroute", map[string]any{"id": dest, "msatoshi": 50_000, "riskfactor": 1, "exclude": []string{ex}}); e != nil && e.Code != 205 {
		t.Fatalf("exclude: %+v", e)
	}
	r.ok(t, "getroute", map[string]any{"id": dest, "msatoshi": 50_000, "riskfactor": 1, "exclude": []string{"1x2x3/0"}}, &res)
	// Spec 8.2: no route is 205; a garbage exclusion is -32602.
	if e := r.fails(t, "getroute", map[string]any{"id": dest, "msatoshi": "1btc" + "", "riskfactor": 1}, CodeInvalidParams); !strings.Contains(e.Message, "'msatoshi'") {
		t.Fatal(e.Message)
	}
	if e := r.fails(t, "getroute", map[string]any{"id": dest, "msatoshi": "10.0btc", "riskfactor": 1}, 205); e.Message != "Could not find a route" {
		t.Fatal(e.Message)
	}
	r.fails(t, "getroute", map[string]any{"id": dest, "msatoshi": 1, "riskfactor": 1, "maxhops": 0}, 205)
	if e := r.fails(t, "getroute", map[string]any{"id": dest, "msatoshi": 1, "riskfactor": 1, "exclude": []string{"garbage"}}, CodeInvalidParams); e.Message != "garbage is not a valid short_channel_id/node_id" {
		t.Fatal(e.Message)
	}
	r.fails(t, "getroute", map[string]any{"id": dest, "riskfactor": 1}, CodeInvalidParams)
	r.fails(t, "getroute", map[string]any{"id": dest, "msatoshi": 1, "riskfactor": -1}, CodeInvalidParams)
}

type payResult struct {
	Preimage       string `json:"payment_preimage"`
	Destination    string `json:"destination"`
	PaymentHash    string `json:"payment_hash"`
	Parts          int    `json:"parts"`
	AmountMsat     uint64 `json:"amount_msat"`
	AmountSentMsat uint64 `json:"amount_sent_msat"`
	Status         string `json:"status"`
}

// checkPreimage fails unless preimage hashes to hash.
func checkPreimage(t *testing.T, preimage, hash string) {
	t.Helper()
	b, err := hex.DecodeString(preimage)
	sum := sha256.Sum256(b)
	if err != nil || hex.EncodeToString(sum[:]) != hash {
		t.Fatalf("preimage %q does not hash to %s", preimage, hash)
	}
}

// pay, then listsendpays and listpays show it; every form of filter.
func TestPayAndLists(t *testing.T) {
	r := sub300Rig(t)
	dests := r.payable(t, 3, 20_000, 0)
	var hashes []string
	var bolts []string
	for i, d := range dests {
		inv := r.invoice(t, d, 20_000, nil)
		var p payResult
		r.ok(t, "pay", map[string]any{"bolt11": inv.Bolt11, "label": "l" + string(rune('0'+i))}, &p)
		if p.Status != "complete" || p.Destination != d || p.PaymentHash != inv.PaymentHash || p.Parts != 1 ||
			p.AmountMsat != 20_000 || p.AmountSentMsat < 20_000 {
			t.Fatalf("pay: %+v", p)
		}
		checkPreimage(t, p.Preimage, inv.PaymentHash)
		hashes, bolts = append(hashes, inv.PaymentHash), append(bolts, inv.Bolt11)
	}
	// Paying again succeeds at once with the same preimage.
	var again payResult
	r.ok(t, "pay", []any{bolts[0]}, &again)
	checkPreimage(t, again.Preimage, hashes[0])

	var ls struct {
		Payments []paymentJSON `json:"payments"`
	}
	r.ok(t, "listsendpays", nil, &ls)
	if len(ls.Payments) != 3 {
		t.Fatalf("listsendpays: %+v", ls)
	}
	for i, p := range ls.Payments {
		if p.PaymentHash != hashes[i] || p.Status != "complete" || p.ID != uint64(i+1) || p.CreatedIndex != p.ID ||
			p.Bolt11 != bolts[i] || p.AmountMsat != 20_000 || p.Label != "l"+string(rune('0'+i)) || p.CompletedAt == nil {
			t.Errorf("row %d: %+v", i, p)
		}
		checkPreimage(t, p.Preimage, p.PaymentHash)
	}
	r.ok(t, "listsendpays", map[string]any{"payment_hash": hashes[1]}, &ls)
	if len(ls.Payments) != 1 || ls.Payments[0].PaymentHash != hashes[1] {
		t.Fatalf("by hash: %+v", ls)
	}
	r.ok(t, "listsendpays", []any{bolts[2]}, &ls)
	if len(ls.Payments) != 1 || ls.Payments[0].PaymentHash != hashes[2] {
		t.Fatalf("by bolt11: %+v", ls)
	}
	r.ok(t, "listsendpays", map[string]any{"index": "created", "start": 2, "limit": 1}, &ls)
	if len(ls.Payments) != 1 || ls.Payments[0].ID != 2 {
		t.Fatalf("page: %+v", ls)
	}
	r.ok(t, "listsendpays", map[string]any{"status": "failed"}, &ls)
	if len(ls.Payments) != 0 {
		t.Fatalf("failed ones: %+v", ls)
	}
	// listpayments is the deprecated alias.
	r.ok(t, "listpayments", nil, &ls)
	if len(ls.Payments) != 3 {
		t.Fatalf("listpayments: %+v", ls)
	}
	if e := r.fails(t, "listsendpays", map[string]any{"bolt11": bolts[0], "payment_hash": hashes[0]}, CodeInvalidParams); e.Message != "Can only specify one of {bolt11} or {payment_hash}" {
		t.Fatal(e.Message)
	}
	r.fails(t, "listsendpays", []any{"lnbcrt1nope"}, CodeInvalidParams)
	r.fails(t, "listsendpays", map[string]any{"status": "done"}, CodeInvalidParams)
	r.fails(t, "listsendpays", map[string]any{"limit": 1}, CodeInvalidParams)
	r.fails(t, "listsendpays", map[string]any{"index": "updated", "start": 0}, CodeInvalidParams)

	var lp struct {
		Pays []listPayJSON `json:"pays"`
	}
	r.ok(t, "listpays", nil, &lp)
	if len(lp.Pays) != 3 {
		t.Fatalf("listpays: %+v", lp)
	}
	for i, p := range lp.Pays {
		if p.PaymentHash != hashes[i] || p.Status != "complete" || p.Bolt11 != bolts[i] || p.CreatedIndex != uint64(i+1) || p.AmountSentMsat < 20_000 {
			t.Errorf("pays row %d: %+v", i, p)
		}
		checkPreimage(t, p.Preimage, p.PaymentHash)
	}
	r.ok(t, "listpays", []any{bolts[1]}, &lp)
	if len(lp.Pays) != 1 || lp.Pays[0].PaymentHash != hashes[1] {
		t.Fatalf("listpays bolt11: %+v", lp)
	}
	r.ok(t, "listpays", map[string]any{"payment_hash": hashes[2]}, &lp)
	if len(lp.Pays) != 1 || lp.Pays[0].Bolt11 != bolts[2] {
		t.Fatalf("listpays hash: %+v", lp)
	}
	r.ok(t, "listpays", map[string]any{"payment_hash": strings.Repeat("00", 32)}, &lp)
	if len(lp.Pays) != 0 {
		t.Fatalf("listpays unknown hash: %+v", lp)
	}
	r.fails(t, "listpays", map[string]any{"bolt11": bolts[0], "payment_hash": hashes[0]}, CodeInvalidParams)
}

// With DenyDeprecated, listpayments is -32601, as CLN without
// allow-deprecated-apis.
func TestDeprecated(t *testing.T) {
	r := newRig(t, "sub300", simnet.Options{Seed: 5}, func(o *Options) { o.DenyDeprecated = true })
	if e := r.fails(t, "listpayments", nil, CodeMethodNotFound); e.Message != "Command 'listpayments' is deprecated" {
		t.Fatal(e.Message)
	}
	r.ok(t, "listsendpays", nil, nil)
}

// A backend's own commands (Options.Commands) are served beside CLN's and
// listed by help; a name that is already taken is refused.
func TestBackendCommands(t *testing.T) {
	echo := Command{Name: "backend-echo", Category: "developer", Description: "Echo x.",
		Params: []Param{{Name: "x", Required: true, Parse: ParseU32}, {Name: "on", Parse: ParseBool}},
		Handler: func(_ context.Context, a *Args) (any, error) {
			x, _ := Arg[uint64](a, "x")
			on, _ := Arg[bool](a, "on")
			return map[string]any{"x": x, "on": on}, nil
		}}
	r := newRig(t, graphdata.Sub300, simnet.Options{Seed: 5}, func(o *Options) { o.Commands = []Command{echo} })
	var got struct {
		X  uint64 `json:"x"`
		On bool   `json:"on"`
	}
	r.ok(t, "backend-echo", []any{7, "true"}, &got)
	if got.X != 7 || !got.On {
		t.Fatalf("backend-echo: %+v", got)
	}
	r.fails(t, "backend-echo", map[string]any{"x": 1, "on": "maybe"}, CodeInvalidParams)
	var help struct {
		Help []helpEntry `json:"help"`
	}
	r.ok(t, "help", []any{"backend-echo"}, &help)
	if len(help.Help) != 1 || help.Help[0].Command != "backend-echo x [on]" {
		t.Fatalf("help backend-echo: %+v", help.Help)
	}
	taken := echo
	taken.Name = "pay"
	if _, err := New(Options{Engine: r.e, Node: simnetNode{r.n}, Ledger: r.l, Commands: []Command{taken}}); err == nil {
		t.Fatal("New took a backend command named pay")
	}
}
