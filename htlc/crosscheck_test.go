package htlc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
)

// bolt11NPMVersion pins the npm package the cross-check runs against.
const bolt11NPMVersion = "bolt11@1.4.1"

// npmBolt11 returns a directory whose node_modules holds the npm package
// bolt11, installing it once into os.TempDir()/payengine-npm-cache. It skips
// the test only when npm is not on PATH.
func npmBolt11(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skipf("npm is not on PATH (%v): cannot cross-check invoices against the npm package bolt11", err)
	}
	cache := filepath.Join(os.TempDir(), "payengine-npm-cache")
	marker := filepath.Join(cache, "node_modules", "bolt11", "payreq.js")
	if _, err := os.Stat(marker); err == nil {
		return cache
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "payengine-npm-install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", tmp, "--no-audit", "--no-fund", bolt11NPMVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s: %v\n%s", bolt11NPMVersion, err, out)
	}
	// Move the finished install into place; if another run got there
	// first, use its copy.
	_ = os.RemoveAll(cache)
	if err := os.Rename(tmp, cache); err != nil {
		if _, statErr := os.Stat(marker); statErr != nil {
			t.Fatalf("install bolt11 into %s: %v", cache, err)
		}
	}
	return cache
}

// jsDecoded is what testdata/bolt11-decode.js prints for one invoice.
type jsDecoded struct {
	Payee         string  `json:"payee"`
	AmountMsat    *string `json:"amount_msat"`
	PaymentHash   string  `json:"payment_hash"`
	Expiry        *uint64 `json:"expiry"`
	MinFinalCLTV  *uint64 `json:"min_final_cltv"`
	Timestamp     int64   `json:"timestamp"`
	PaymentSecret *string `json:"payment_secret"`
	Description   *string `json:"description"`
	Error         *string `json:"error"`
}

// TestInvoicesAgainstNPMBolt11 decodes invoices made by EncodeInvoice, and the
// BOLT 11 vectors, with the npm package bolt11 (an independent
// implementation) and with zpay32, and checks both read the same payee,
// amount, payment hash, expiry, min_final_cltv, timestamp and secret.
func TestInvoicesAgainstNPMBolt11(t *testing.T) {
	start := time.Now()
	dir := npmBolt11(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("npm is on PATH but node is not: %v", err)
	}

	type item struct {
		s    string
		net  Network
		desc *string
	}
	var items []item
	key := newNode(t, seeded(21))
	hdesc := "a long description, hashed"
	for i, amt := range []graph.MilliSat{0, 1, 1000, 123_456_789, 250_000_000, 2_100_000_000_000_000} {
		p := testInvoiceParams(amt)
		p.PaymentHash = sha256.Sum256([]byte{byte(i)})
		p.MinFinalCLTVExpiry = uint32(9 + 30*i)
		p.Expiry = time.Duration(60*(i+1)) * time.Second
		if i%2 == 1 {
			h := sha256.Sum256([]byte(hdesc))
			p.DescriptionHash = &h
		}
		s, err := EncodeInvoice(p, key.key)
		if err != nil {
			t.Fatal(err)
		}
		it := item{s: s, net: Regtest}
		if i%2 == 1 {
			it.desc = &hdesc
		}
		items = append(items, it)
	}
	for _, v := range loadVectors(t) {
		items = append(items, item{s: v.Invoice, net: v.Network, desc: v.Description})
	}

	in, _ := json.Marshal(func() []string {
		var ss []string
		for _, it := range items {
			ss = append(ss, it.s)
		}
		return ss
	}())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	script, _ := filepath.Abs("testdata/bolt11-decode.js")
	cmd := exec.CommandContext(ctx, node, script, dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var js []jsDecoded
	if err := json.Unmarshal(out, &js); err != nil || len(js) != len(items) {
		t.Fatalf("node output (%v): %s", err, out)
	}
	for i, it := range items {
		j := js[i]
		if j.Error != nil {
			t.Errorf("#%d %s: npm bolt11 refused it: %s", i, it.s, *j.Error)
			continue
		}
		inv, err := Decode(it.s, DecodeOptions{Network: it.net, Description: it.desc})
		if err != nil {
			t.Errorf("#%d: %v", i, err)
			continue
		}
		var ourAmt *string
		if inv.Amount != nil {
			a := strconv.FormatUint(uint64(*inv.Amount), 10)
			ourAmt = &a
		}
		check := func(what string, ours, theirs any) {
			if !equalJSON(ours, theirs) {
				t.Errorf("#%d %s: ours %s, npm bolt11 %s", i, what, jsonString(ours), jsonString(theirs))
			}
		}
		check("payee", inv.Payee.String(), j.Payee)
		check("amount_msat", ourAmt, j.AmountMsat)
		check("payment_hash", hex.EncodeToString(inv.PaymentHash[:]), j.PaymentHash)
		check("timestamp", inv.CreatedAt.Unix(), j.Timestamp)
		if j.Expiry != nil {
			check("expiry", uint64(inv.Expiry/time.Second), *j.Expiry)
		} else if inv.Expiry != DefaultInvoiceExpiry {
			t.Errorf("#%d: no x field but expiry %v", i, inv.Expiry)
		}
		if j.MinFinalCLTV != nil {
			check("min_final_cltv", uint64(inv.MinFinalCLTVExpiry), *j.MinFinalCLTV)
		} else if inv.MinFinalCLTVExpiry != DefaultMinFinalCLTVExpiry {
			t.Errorf("#%d: no c field but min_final_cltv %d", i, inv.MinFinalCLTVExpiry)
		}
		if inv.PaymentSecret != nil || j.PaymentSecret != nil {
			if inv.PaymentSecret == nil || j.PaymentSecret == nil {
				t.Errorf("#%d: payment secret ours %v npm %v", i, inv.PaymentSecret, j.PaymentSecret)
			} else {
				check("payment_secret", hex.EncodeToString(inv.PaymentSecret[:]), *j.PaymentSecret)
			}
		}
		if inv.Description != nil {
			check("description", *inv.Description, j.Description)
		}
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("cross-check took %v, budget 60 s", d)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
