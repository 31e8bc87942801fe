package htlc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/txscript"
	"github.com/payengine/payengine/graph"
)

// bolt11Vector is one entry of testdata/bolt11-vectors.json.
type bolt11Vector struct {
	Name        string         `json:"name"`
	Source      string         `json:"source"`
	Network     Network        `json:"network"`
	Invoice     string         `json:"invoice"`
	Description *string        `json:"description"`
	Want        map[string]any `json:"want"`
}

func loadVectors(t *testing.T) []bolt11Vector {
	t.Helper()
	raw, err := os.ReadFile("testdata/bolt11-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []bolt11Vector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vectors) < 10 {
		t.Fatalf("only %d vectors", len(doc.Vectors))
	}
	return doc.Vectors
}

// subset reports where want is not contained in got (maps: every key of want
// present and contained; arrays: same length, element-wise; else equal).
func subset(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path + ": not an object"}
		}
		var out []string
		for k, v := range w {
			out = append(out, subset(path+"."+k, v, g[k])...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{path + ": array length differs"}
		}
		var out []string
		for i := range w {
			out = append(out, subset(path, w[i], g[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(want, got) {
		return []string{path + ": got " + jsonString(got) + ", want " + jsonString(want)}
	}
	return nil
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestDecodeBOLT11Vectors decodes the BOLT 11 examples (testdata, see its
// README) and checks the decodepay fields the spec states for each.
func TestDecodeBOLT11Vectors(t *testing.T) {
	specKey, _ := hex.DecodeString("e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734")
	priv, _ := btcec.PrivKeyFromBytes(specKey)
	for i, v := range loadVectors(t) {
		inv, err := Decode(v.Invoice, DecodeOptions{Network: v.Network, Description: v.Description})
		if err != nil {
			t.Errorf("#%d %s: %v", i, v.Name, err)
			continue
		}
		js, _ := json.Marshal(inv.DecodePayResult())
		var got map[string]any
		_ = json.Unmarshal(js, &got)
		for _, d := range subset("", v.Want, got) {
			t.Errorf("#%d %s: %s", i, v.Name, d)
		}
		if _, ok := v.Want["amount_msat"]; !ok && got["amount_msat"] != nil {
			t.Errorf("#%d %s: amount_msat present on an any-amount invoice", i, v.Name)
		}
		if inv.Payee != pubID(priv.PubKey()) {
			t.Errorf("#%d %s: payee is not the BOLT 11 example key", i, v.Name)
		}
		// Fallback scripts, computed from the spec's address strings.
		for _, fb := range inv.Fallbacks {
			params, _ := v.Network.Params()
			addr, err := btcutil.DecodeAddress(fb.Address, params)
			if err != nil {
				t.Fatalf("#%d: %v", i, err)
			}
			script, _ := txscript.PayToAddrScript(addr)
			if hex.EncodeToString(script) != hex.EncodeToString(fb.Script) {
				t.Errorf("#%d %s: fallback script %x, want %x", i, v.Name, fb.Script, script)
			}
		}
		// The DER signature verifies against the payee over the data BOLT 11
		// says is signed: SHA-256 of the hrp and the data part in bytes.
		if err := verifyDER(v.Invoice, inv.Signature, priv.PubKey()); err != nil {
			t.Errorf("#%d %s: signature %x: %v", i, v.Name, inv.Signature, err)
		}
	}
}

func verifyDER(invoice string, der []byte, pub *btcec.PublicKey) error {
	sig, err := ecdsa.ParseDERSignature(der)
	if err != nil {
		return err
	}
	hrp, data, err := bech32.DecodeNoLimit(invoice)
	if err != nil {
		return err
	}
	signed, err := bech32.ConvertBits(data[:len(data)-104], 5, 8, true)
	if err != nil {
		return err
	}
	h := sha256.Sum256(append([]byte(hrp), signed...))
	if !sig.Verify(h[:], pub) {
		return errors.New("does not verify")
	}
	return nil
}

func pubID(p *btcec.PublicKey) graph.NodeID {
	var id graph.NodeID
	copy(id[:], p.SerializeCompressed())
	return id
}

// TestDescriptionHash: BOLT 11 "h": the reader MUST check the description
// the caller supplies hashes to it (CLN: "h: does not match description",
// "h: no description to check").
func TestDescriptionHash(t *testing.T) {
	var hashed bolt11Vector
	for _, v := range loadVectors(t) {
		if v.Name == "$24 for an entire list of things (hashed)" {
			hashed = v
		}
	}
	if _, err := Decode(hashed.Invoice, DecodeOptions{Network: Mainnet}); !errors.Is(err, ErrNoDescription) || !errors.Is(err, ErrInvalidInvoice) {
		t.Errorf("no description: %v", err)
	}
	wrong := "one piece of cake"
	_, err := Decode(hashed.Invoice, DecodeOptions{Network: Mainnet, Description: &wrong})
	if !errors.Is(err, ErrDescriptionMismatch) || err.Error() != "htlc: invalid bolt11: h: does not match description" {
		t.Errorf("wrong description: %v", err)
	}
	var ie *InvoiceError
	if !errors.As(err, &ie) || ie.Reason != "h: does not match description" {
		t.Errorf("reason: %+v", ie)
	}
	if _, err := Decode(hashed.Invoice, DecodeOptions{Network: Mainnet, Description: hashed.Description}); err != nil {
		t.Errorf("right description: %v", err)
	}
}

// TestCheckExpiry: an expired invoice still decodes (decodepay), and
// CheckExpiry reports ErrInvoiceExpired (pay's 207) only when now >
// created_at + expiry.
func TestCheckExpiry(t *testing.T) {
	v := loadVectors(t)[1] // 2500u coffee, expiry 60 s
	inv, err := Decode(v.Invoice, DecodeOptions{Network: Mainnet})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1496314658, 0)
	for _, c := range []struct {
		now     time.Time
		expired bool
	}{
		{created, false},
		{created.Add(60 * time.Second), false},
		{created.Add(60*time.Second + 999*time.Millisecond), false},
		{created.Add(61 * time.Second), true},
		{time.Now(), true},
	} {
		err := inv.CheckExpiry(c.now)
		if c.expired != errors.Is(err, ErrInvoiceExpired) {
			t.Errorf("now %v: err %v, expired %v", c.now.Sub(created), err, c.expired)
		}
	}
	if !inv.ExpiresAt().Equal(created.Add(61 * time.Second)) {
		t.Errorf("ExpiresAt %v", inv.ExpiresAt())
	}
}

// TestDecodeMalformed: truncated, corrupted, wrong-network and garbage
// invoices give *InvoiceError, never a panic.
func TestDecodeMalformed(t *testing.T) {
	vs := loadVectors(t)
	good := vs[1].Invoice
	var regtest string
	for _, v := range vs {
		if v.Network == Regtest {
			regtest = v.Invoice
		}
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'q' {
			b[i] = 'p'
		} else {
			b[i] = 'q'
		}
		return string(b)
	}
	cases := map[string]struct {
		s   string
		net Network
	}{
		"empty":                {"", Mainnet},
		"garbage":              {"hello world", Mainnet},
		"no separator":         {"lnbcxyz", Mainnet},
		"truncated by 1":       {good[:len(good)-1], Mainnet},
		"truncated to half":    {good[:len(good)/2], Mainnet},
		"hrp only":             {"lnbc1", Mainnet},
		"bad checksum":         {flip(good, len(good)-1), Mainnet},
		"bad data char":        {flip(good, 30), Mainnet},
		"mixed case":           {strings.ToUpper(good[:10]) + good[10:], Mainnet},
		"wrong network":        {good, Testnet},
		"regtest on mainnet":   {regtest, Mainnet},
		"unknown network":      {good, Network("litecoin")},
		"not ln":               {"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", Mainnet},
		"huge":                 {"lnbc1" + strings.Repeat("q", 8000), Mainnet},
		"bad amount":           {"lnbc2500x1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypq", Mainnet},
		"no signature":         {"lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypq2q8gjd", Mainnet},
		"non-ascii":            {"lnbc1ナンセンス", Mainnet},
		"lightning: then junk": {"lightning:", Mainnet},
	}
	for name, c := range cases {
		inv, err := Decode(c.s, DecodeOptions{Network: c.net})
		var ie *InvoiceError
		if err == nil || !errors.As(err, &ie) || !errors.Is(err, ErrInvalidInvoice) || inv != nil {
			t.Errorf("%s: inv %v err %v", name, inv != nil, err)
		}
	}
	if _, err := Decode("lightning:"+good, DecodeOptions{Network: Mainnet}); err != nil {
		t.Errorf("lightning: prefix: %v", err)
	}
	if _, err := Decode(strings.ToUpper(good), DecodeOptions{Network: Mainnet}); err != nil {
		t.Errorf("upper case: %v", err)
	}
}

// FuzzDecode: whatever the input, Decode returns a value or an error and
// never panics. Its seeds run in every go test.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "lnbc1", "lnbcrt1pvjluez", "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpuaztrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emudupq63nyw24cg27h2rspfj9srp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range []Network{Mainnet, Regtest} {
			inv, err := Decode(s, DecodeOptions{Network: n})
			if (inv == nil) == (err == nil) {
				t.Fatalf("inv %v err %v", inv, err)
			}
			if inv != nil {
				_, _ = json.Marshal(inv.DecodePayResult())
			}
		}
	})
}

// testInvoiceParams is a simulated destination's invoice.
func testInvoiceParams(amount graph.MilliSat) InvoiceParams {
	return InvoiceParams{
		Network:            Regtest,
		Amount:             amount,
		PaymentHash:        sha256.Sum256([]byte("preimage")),
		PaymentSecret:      [32]byte{0x5e, 0xc2},
		Description:        "simnet invoice",
		MinFinalCLTVExpiry: 18,
		Expiry:             10 * time.Minute,
		Timestamp:          time.Unix(1_750_000_000, 0),
		RouteHints: [][]RouteHintHop{{{
			NodeID:  mustNodeID("029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255"),
			Channel: graph.NewSCID(700000, 12, 1), FeeBaseMsat: 1000, FeeProportionalMillionths: 10, CLTVExpiryDelta: 40,
		}}},
	}
}

func mustNodeID(s string) graph.NodeID {
	id, err := graph.ParseNodeID(s)
	if err != nil {
		panic(err) // test fixture
	}
	return id
}

// TestEncodeInvoiceRoundTrip: an invoice made by EncodeInvoice decodes to
// what was asked for, with var_onion_optin and payment_secret set.
func TestEncodeInvoiceRoundTrip(t *testing.T) {
	key := newNode(t, seeded(11))
	for _, amt := range []graph.MilliSat{0, 1, 123_456_789, 2_100_000_000_000_000} {
		p := testInvoiceParams(amt)
		s, err := EncodeInvoice(p, key.key)
		if err != nil {
			t.Fatalf("amount %d: %v", amt, err)
		}
		if !strings.HasPrefix(s, "lnbcrt") {
			t.Errorf("prefix %q", s[:8])
		}
		inv, err := Decode(s, DecodeOptions{Network: Regtest})
		if err != nil {
			t.Fatalf("amount %d: %v", amt, err)
		}
		if (amt == 0) != (inv.Amount == nil) || (inv.Amount != nil && *inv.Amount != amt) {
			t.Errorf("amount %d: decoded %v", amt, inv.Amount)
		}
		if inv.Payee != key.id || inv.PaymentHash != p.PaymentHash || *inv.PaymentSecret != p.PaymentSecret ||
			*inv.Description != p.Description || inv.MinFinalCLTVExpiry != 18 || inv.Expiry != 10*time.Minute ||
			!inv.CreatedAt.Equal(p.Timestamp) || !reflect.DeepEqual(inv.RouteHints, p.RouteHints) || inv.Currency != "bcrt" {
			t.Errorf("amount %d: decoded %+v", amt, inv)
		}
		// Features: bits 8 (var_onion_optin) and 14 (payment_secret).
		if hex.EncodeToString(inv.Features) != "4100" {
			t.Errorf("features %x, want 4100", inv.Features)
		}
	}
	// Description hash instead of description, defaults for zero values.
	p := testInvoiceParams(1000)
	h := sha256.Sum256([]byte("long description"))
	p.DescriptionHash, p.MinFinalCLTVExpiry, p.Expiry, p.RouteHints = &h, 0, 0, nil
	s, err := EncodeInvoice(p, key.key)
	if err != nil {
		t.Fatal(err)
	}
	desc := "long description"
	inv, err := Decode(s, DecodeOptions{Network: Regtest, Description: &desc})
	if err != nil || *inv.DescriptionHash != h || inv.Description != nil || inv.MinFinalCLTVExpiry != DefaultMinFinalCLTVExpiry || inv.Expiry != DefaultInvoiceExpiry {
		t.Fatalf("hashed: %v %+v", err, inv)
	}
}

// TestEncodeInvoiceErrors: unusable parameters are refused.
func TestEncodeInvoiceErrors(t *testing.T) {
	key := newNode(t, seeded(12)).key
	for name, mod := range map[string]func(*InvoiceParams){
		"no network":   func(p *InvoiceParams) { p.Network = "" },
		"zero secret":  func(p *InvoiceParams) { p.PaymentSecret = [32]byte{} },
		"no timestamp": func(p *InvoiceParams) { p.Timestamp = time.Time{} },
		"empty hint":   func(p *InvoiceParams) { p.RouteHints = [][]RouteHintHop{{}} },
		"bad hint key": func(p *InvoiceParams) { p.RouteHints[0][0].NodeID = graph.NodeID{2} },
	} {
		p := testInvoiceParams(1)
		mod(&p)
		if _, err := EncodeInvoice(p, key); !errors.Is(err, ErrInvalidInvoiceParams) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := EncodeInvoice(testInvoiceParams(1), nil); !errors.Is(err, ErrInvalidInvoiceParams) {
		t.Errorf("nil key: %v", err)
	}
}
