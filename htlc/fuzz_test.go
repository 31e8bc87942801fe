package htlc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/internal/fuzzcorpus"
)

// The fuzz targets of this file run their seed corpus (testdata/fuzz) in
// every go test. To fuzz, one target at a time:
//
//	go test ./htlc -run '^$' -fuzz '^FuzzDecodeInvoice$' -fuzztime 10m
//	go test ./htlc -run '^$' -fuzz '^FuzzReadFailure$' -fuzztime 10m
//
// A crash the fuzzer finds lands in testdata/fuzz/<target>/ and stays there
// as a regression. The generated seeds are rewritten with
//
//	go test ./htlc -run TestFuzzCorpus -rewrite

var rewrite = flag.Bool("rewrite", false, "rewrite the generated seed corpora in testdata/fuzz")

// fuzzDescription is the description the seed invoices with a description
// hash commit to; FuzzDecodeInvoice offers it when Decode asks for one.
const fuzzDescription = "fuzz: a description too long for the d field is committed to by h"

// FuzzDecodeInvoice: Decode never panics, refuses with an *InvoiceError,
// and what it accepts is what the string says (amount, timestamp, x and c
// read here with big integers), decodes again to the same invoice, shows
// itself consistently in decodepay's shape, and survives EncodeInvoice and
// Decode (signed by another key) with its fields intact. With fix set the
// input's last six characters are replaced by a valid checksum, so that
// mutations reach the tagged fields and the signature.
func FuzzDecodeInvoice(f *testing.F) {
	key := newNode(f, seeded(606)).key
	desc := fuzzDescription
	f.Fuzz(func(t *testing.T, s string, fix bool) {
		if fix {
			s = withChecksum(s)
		}
		for _, n := range []Network{Regtest, Mainnet} {
			opts := DecodeOptions{Network: n}
			inv, err := Decode(s, opts)
			if errors.Is(err, ErrNoDescription) {
				opts.Description = &desc
				inv, err = Decode(s, opts)
			}
			if err != nil {
				var ie *InvoiceError
				if inv != nil || !errors.As(err, &ie) || !errors.Is(err, ErrInvalidInvoice) {
					t.Fatalf("%s: refusal is inv %v, err %T %v", n, inv != nil, err, err)
				}
				continue
			}
			if inv == nil {
				t.Fatalf("%s: no invoice and no error", n)
			}
			checkInvoice(t, inv, opts)
			checkReencode(t, inv, opts, key)
		}
	})
}

// checkInvoice holds an accepted invoice against the string it came from
// and against its decodepay form.
func checkInvoice(t *testing.T, inv *Invoice, opts DecodeOptions) {
	t.Helper()
	cur, _ := opts.Network.Currency()
	if inv.Network != opts.Network || inv.Currency != cur {
		t.Fatalf("network %s currency %q, decoded for %s", inv.Network, inv.Currency, opts.Network)
	}
	again, err := Decode(inv.Bolt11, opts)
	if err != nil || !reflect.DeepEqual(again, inv) {
		t.Fatalf("Bolt11 %q decodes again to %+v, %v\nfirst %+v", inv.Bolt11, again, err, inv)
	}
	raw, err := readRawInvoice(inv.Bolt11, cur)
	if err != nil {
		t.Fatalf("accepted, but the oracle cannot read it: %v", err)
	}
	if !raw.amountOK {
		t.Fatalf("accepted an amount of %q, which is not a whole number of msat in 64 bits (got %v)", raw.amount, inv.Amount)
	}
	if (raw.msat == nil) != (inv.Amount == nil) || (raw.msat != nil && *raw.msat != *inv.Amount) {
		t.Fatalf("amount %q decoded as %v", raw.amount, inv.Amount)
	}
	if inv.CreatedAt.Unix() != raw.timestamp {
		t.Fatalf("timestamp %d decoded as %d", raw.timestamp, inv.CreatedAt.Unix())
	}
	wantExpiry := big.NewInt(int64(DefaultInvoiceExpiry / time.Second))
	if raw.x != nil {
		wantExpiry = raw.x
	}
	if inv.Expiry < 0 || inv.Expiry%time.Second != 0 || big.NewInt(int64(inv.Expiry/time.Second)).Cmp(wantExpiry) != 0 {
		t.Fatalf("x is %v s, decoded as %v", wantExpiry, inv.Expiry)
	}
	wantC := big.NewInt(DefaultMinFinalCLTVExpiry)
	if raw.c != nil {
		wantC = raw.c
	}
	if big.NewInt(int64(inv.MinFinalCLTVExpiry)).Cmp(wantC) != 0 {
		t.Fatalf("c is %v, decoded as %d", wantC, inv.MinFinalCLTVExpiry)
	}
	if _, err := btcec.ParsePubKey(inv.Payee[:]); err != nil {
		t.Fatalf("payee %s: %v", inv.Payee, err)
	}
	if _, err := ecdsa.ParseDERSignature(inv.Signature); err != nil {
		t.Fatalf("signature %x is not DER: %v", inv.Signature, err)
	}

	r := inv.DecodePayResult()
	hexOf := func(b []byte) string { return hex.EncodeToString(b) }
	switch {
	case r.Currency != inv.Currency || r.Payee != inv.Payee || r.PaymentHash != hexOf(inv.PaymentHash[:]):
		t.Fatalf("decodepay currency/payee/payment_hash: %+v", r)
	case r.CreatedAt != uint64(inv.CreatedAt.Unix()) || r.Expiry != uint64(inv.Expiry/time.Second):
		t.Fatalf("decodepay created_at %d expiry %d for %v, %v", r.CreatedAt, r.Expiry, inv.CreatedAt, inv.Expiry)
	case (r.AmountMsat == nil) != (inv.Amount == nil) || (r.AmountMsat != nil && *r.AmountMsat != uint64(*inv.Amount)):
		t.Fatalf("decodepay amount_msat %v for %v", r.AmountMsat, inv.Amount)
	case (inv.PaymentSecret == nil) != (r.PaymentSecret == "") || (inv.PaymentSecret != nil && r.PaymentSecret != hexOf(inv.PaymentSecret[:])):
		t.Fatalf("decodepay payment_secret %q", r.PaymentSecret)
	case (inv.DescriptionHash == nil) != (r.DescriptionHash == "") || (inv.DescriptionHash != nil && r.DescriptionHash != hexOf(inv.DescriptionHash[:])):
		t.Fatalf("decodepay description_hash %q", r.DescriptionHash)
	case r.Signature != hexOf(inv.Signature) || r.MinFinalCLTVExpiry != inv.MinFinalCLTVExpiry:
		t.Fatalf("decodepay signature/min_final_cltv_expiry: %+v", r)
	case len(r.Fallbacks) != len(inv.Fallbacks) || len(r.Routes) != len(inv.RouteHints):
		t.Fatalf("decodepay fallbacks/routes: %+v", r)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("decodepay result does not marshal: %v", err)
	}
	var back DecodePayResult
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("decodepay JSON %s does not read back: %v", js, err)
	}
	if r.Description != nil && !utf8.ValidString(*r.Description) {
		// JSON carries text: invalid UTF-8 shows as U+FFFD.
		back.Description, r.Description = nil, nil
	}
	if !reflect.DeepEqual(back, r) {
		t.Fatalf("decodepay JSON round trip:\n got %+v\nwant %+v", back, r)
	}
}

// checkReencode signs the invoice's fields again with key (EncodeInvoice
// writes its own features, never fallbacks or unknown fields) and checks
// that they decode unchanged. Invoices EncodeInvoice cannot express (no
// payment secret, timestamp 0, an empty route hint, an amount of 2^64/10
// msat or more that zpay32 would write wrapped around) are skipped.
func checkReencode(t *testing.T, inv *Invoice, opts DecodeOptions, key *btcec.PrivateKey) {
	t.Helper()
	if inv.PaymentSecret == nil || *inv.PaymentSecret == ([32]byte{}) || inv.CreatedAt.Unix() <= 0 {
		return
	}
	for _, h := range inv.RouteHints {
		if len(h) == 0 {
			return
		}
	}
	p := InvoiceParams{
		Network: inv.Network, PaymentHash: inv.PaymentHash, PaymentSecret: *inv.PaymentSecret,
		DescriptionHash: inv.DescriptionHash, MinFinalCLTVExpiry: inv.MinFinalCLTVExpiry,
		Expiry: inv.Expiry, Timestamp: inv.CreatedAt, RouteHints: inv.RouteHints, Metadata: inv.Metadata,
	}
	if inv.Amount != nil {
		p.Amount = *inv.Amount
	}
	if inv.Description != nil {
		p.Description = *inv.Description
	}
	s, err := EncodeInvoice(p, key)
	if err != nil && p.Amount > math.MaxUint64/10 && errors.Is(err, ErrInvalidInvoiceParams) {
		return // zpay32 writes such amounts in pico-bitcoin, which overflows
	}
	if err != nil {
		t.Fatalf("decoded invoice does not encode: %v\n%+v", err, p)
	}
	back, err := Decode(s, opts)
	if err != nil {
		t.Fatalf("re-encoded invoice %s does not decode: %v", s, err)
	}
	amt := func(a *graph.MilliSat) graph.MilliSat {
		if a == nil {
			return 0
		}
		return *a
	}
	switch {
	case amt(back.Amount) != amt(inv.Amount) || back.PaymentHash != inv.PaymentHash || *back.PaymentSecret != *inv.PaymentSecret:
		t.Fatalf("re-encoded amount/hash/secret differ: %+v", back)
	case !reflect.DeepEqual(back.Description, inv.Description) || !reflect.DeepEqual(back.DescriptionHash, inv.DescriptionHash):
		t.Fatalf("re-encoded description differs: %v %v", back.Description, back.DescriptionHash)
	case !back.CreatedAt.Equal(inv.CreatedAt) || !bytes.Equal(back.Metadata, inv.Metadata):
		t.Fatalf("re-encoded timestamp/metadata differ: %v %x", back.CreatedAt, back.Metadata)
	case inv.Expiry != 0 && back.Expiry != inv.Expiry:
		t.Fatalf("re-encoded expiry %v, was %v", back.Expiry, inv.Expiry)
	case inv.MinFinalCLTVExpiry != 0 && back.MinFinalCLTVExpiry != inv.MinFinalCLTVExpiry:
		t.Fatalf("re-encoded min_final_cltv_expiry %d, was %d", back.MinFinalCLTVExpiry, inv.MinFinalCLTVExpiry)
	case !reflect.DeepEqual(back.RouteHints, inv.RouteHints):
		t.Fatalf("re-encoded route hints differ:\n got %+v\nwant %+v", back.RouteHints, inv.RouteHints)
	}
}

// rawFields is what the fuzz oracle reads from an invoice string itself,
// with no limit on sizes: the amount of the human-readable part, the
// timestamp and the first x and c fields.
type rawFields struct {
	amount    string          // after "ln" and the currency
	msat      *graph.MilliSat // nil: no amount
	amountOK  bool            // amount is a whole number of msat that fits 64 bits
	timestamp int64
	x, c      *big.Int // nil when absent
}

// readRawInvoice reads s (whose checksum Decode accepted) for the oracle.
func readRawInvoice(s, currency string) (rawFields, error) {
	var r rawFields
	hrp, data, err := bech32.DecodeNoLimit(s)
	if err != nil {
		return r, err
	}
	if !strings.HasPrefix(hrp, "ln"+currency) || len(data) < 7+104 {
		return r, fmt.Errorf("hrp %q, %d words", hrp, len(data))
	}
	r.amount = hrp[2+len(currency):]
	r.amountOK = true
	if r.amount != "" {
		r.msat, r.amountOK = bolt11Amount(r.amount)
	}
	r.timestamp = wordsInt(data[:7]).Int64()
	fields := data[7 : len(data)-104]
	for len(fields) >= 3 {
		typ, n := fields[0], int(fields[1])<<5|int(fields[2])
		if len(fields) < 3+n {
			break
		}
		v := wordsInt(fields[3 : 3+n])
		switch {
		case typ == 6 && r.x == nil:
			r.x = v
		case typ == 24 && r.c == nil:
			r.c = v
		}
		fields = fields[3+n:]
	}
	return r, nil
}

// wordsInt reads 5-bit words as one big-endian number.
func wordsInt(words []byte) *big.Int {
	v := new(big.Int)
	for _, w := range words {
		v.Lsh(v, 5).Or(v, big.NewInt(int64(w)))
	}
	return v
}

// bolt11Amount is BOLT 11's amount ("2500u"), in exact arithmetic: ok only
// for a whole number of millisatoshis that fits in 64 bits.
func bolt11Amount(s string) (*graph.MilliSat, bool) {
	div := int64(1)
	if i := strings.IndexByte("munp", s[len(s)-1]); i >= 0 {
		div = []int64{1e3, 1e6, 1e9, 1e12}[i]
		s = s[:len(s)-1]
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || s == "" || strings.Trim(s, "0123456789") != "" {
		return nil, false
	}
	q, m := new(big.Int).QuoRem(n.Mul(n, big.NewInt(1e11)), big.NewInt(div), new(big.Int))
	if m.Sign() != 0 || !q.IsUint64() {
		return nil, false
	}
	v := graph.MilliSat(q.Uint64())
	return &v, true
}

// withChecksum replaces the last six characters of s, its bech32 checksum,
// with the right one; s is returned as it is when it is not bech32 shaped.
func withChecksum(s string) string {
	i := strings.LastIndexByte(s, '1')
	if i < 1 || len(s)-i-1 < 6 {
		return s
	}
	chars := strings.ToLower(s[i+1 : len(s)-6])
	words := make([]byte, len(chars))
	for j := range len(chars) {
		w := strings.IndexByte(bech32Charset, chars[j])
		if w < 0 {
			return s
		}
		words[j] = byte(w)
	}
	out, err := bech32.Encode(s[:i], words)
	if err != nil {
		return s
	}
	return out
}

// FuzzReadFailure: any reason bytes read against a real route and circuit
// give a classified *Failure, never a panic or an error: 202 with the
// reply, or 203/204 with a routing failure object whose fields agree with
// the route. With seal set the input is the plaintext a hop (hop modulo
// the route length) authenticates and every hop before it wraps, as
// CreateFailure and WrapFailure do, so mutations reach the message decoder;
// the result must then come from that hop, and be 202 exactly when the
// message length does not fit.
func FuzzReadFailure(f *testing.F) {
	fx := newFailureFixture(f)
	f.Fuzz(func(t *testing.T, in []byte, hop uint8, seal bool) {
		reason, k := in, -1
		if seal {
			k = int(hop) % len(fx.l.route)
			reason = fx.seal(t, k, in)
		}
		fl, err := ReadFailure(fx.l.self.id, fx.l.route, fx.o.Circuit, reason)
		if err != nil || fl == nil {
			t.Fatalf("route and circuit belong together, yet: %v", err)
		}
		checkFailure(t, fx.l.route, reason, fl)
		if k < 0 {
			return
		}
		pt := padded(in)
		mlen := int(binary.BigEndian.Uint16(pt))
		if mlen < 2 || 2+mlen > len(pt) {
			if fl.Code != CodeUnparseableOnion {
				t.Fatalf("message length %d of %d bytes, yet %+v", mlen, len(pt), fl)
			}
			return
		}
		if fl.Routing == nil || fl.Routing.ErringIndex != k+1 || !bytes.Equal(fl.Routing.RawMessage, pt[2:2+mlen]) {
			t.Fatalf("sealed by hop %d: %+v", k, fl)
		}
	})
}

// checkFailure holds a classified failure to the rules of ReadFailure.
func checkFailure(t *testing.T, route graph.Route, reason []byte, fl *Failure) {
	t.Helper()
	if fl.Message == "" || fl.Error() == "" {
		t.Fatalf("no message: %+v", fl)
	}
	if _, err := json.Marshal(fl.Data()); err != nil {
		t.Fatalf("data does not marshal: %v", err)
	}
	switch fl.Code {
	case CodeUnparseableOnion:
		if fl.Routing != nil || fl.Message != MessageMalformedReply || !bytes.Equal(fl.OnionReply, reason) ||
			fl.Decoded != nil || fl.Update != nil || fl.UpdateForged {
			t.Fatalf("202 with more than the reply: %+v", fl)
		}
		return
	case CodeDestinationPermFail, CodeTryOtherRoute:
	default:
		t.Fatalf("code %d", fl.Code)
	}
	rf := fl.Routing
	if rf == nil {
		t.Fatalf("%d without a routing failure", fl.Code)
	}
	n := len(route)
	k := rf.ErringIndex - 1
	if rf.ErringIndex < 1 || rf.ErringIndex > n || rf.OriginIndex != k {
		t.Fatalf("erring_index %d origin_index %d on a %d-hop route", rf.ErringIndex, rf.OriginIndex, n)
	}
	if len(rf.RawMessage) < 2 || rf.FailCode != lnwire.FailCode(binary.BigEndian.Uint16(rf.RawMessage)) {
		t.Fatalf("failcode %d, raw message %x", rf.FailCode, rf.RawMessage)
	}
	dest := k == n-1
	if rf.Destination != dest || (fl.Code == CodeDestinationPermFail) != (dest && rf.FailCode&lnwire.FlagPerm != 0) {
		t.Fatalf("code %d, destination %v, failcode %#04x from hop %d of %d", fl.Code, rf.Destination, uint16(rf.FailCode), k, n)
	}
	wantNode, wantChan := route[k].ID, route[n-1].Channel
	if !dest {
		wantChan = route[k+1].Channel
		if rf.FailCode&lnwire.FlagBadOnion != 0 {
			wantNode = route[k+1].ID
		}
	}
	if rf.ErringNode != wantNode || rf.ErringChannel != wantChan {
		t.Fatalf("erring node %s channel %s; want %s %s", rf.ErringNode, rf.ErringChannel, wantNode, wantChan)
	}
	if fl.Update != nil && (fl.UpdateForged || len(rf.ChannelUpdate) == 0 || VerifyChannelUpdate(fl.Update, route[k].ID) != nil) {
		t.Fatalf("update %+v, forged %v, channel_update %x", fl.Update, fl.UpdateForged, rf.ChannelUpdate)
	}
	if fl.Update == nil && len(rf.ChannelUpdate) > 0 {
		t.Fatalf("channel_update %x without a verified update", rf.ChannelUpdate)
	}
}

// failureFixture is a 4-hop route, the onion sent along it and the shared
// secret each hop peeled, to build failure onions the payer can read.
type failureFixture struct {
	l       line
	o       *Onion
	secrets [][32]byte
}

func newFailureFixture(tb testing.TB) failureFixture {
	tb.Helper()
	l := newLine(tb, 61, 4, 50_000, 9)
	hash := [32]byte{0xF0, 61}
	o, err := BuildOnion(OnionParams{Route: l.route, PaymentHash: hash, BlockHeight: testHeight}, seeded(61))
	if err != nil {
		tb.Fatal(err)
	}
	fx := failureFixture{l: l, o: o}
	packet := o.Packet
	for i := range l.route {
		p, err := PeelOnion(packet[:], hash, l.nodes[i].key)
		if err != nil {
			tb.Fatalf("hop %d: %v", i, err)
		}
		fx.secrets = append(fx.secrets, p.SharedSecret)
		packet = p.Next
	}
	return fx
}

// padded is a sealed plaintext as the fuzz target authenticates it: zero
// padded to the 260 bytes (u16 length, 256 bytes, u16 pad length) below
// which the payer refuses to decrypt, so short inputs still reach the
// message decoder.
func padded(pt []byte) []byte {
	const minPlain = 2 + 256 + 2
	if len(pt) >= minPlain {
		return pt
	}
	return append(bytes.Clone(pt), make([]byte, minPlain-len(pt))...)
}

// seal is what the payer receives when hop k authenticates plaintext pt
// (padded) and every hop before it wraps the reason.
func (fx failureFixture) seal(tb testing.TB, k int, pt []byte) []byte {
	enc, err := errorEncrypter(fx.secrets[k])
	if err != nil {
		tb.Fatal(err)
	}
	reason := enc.EncryptError(true, padded(pt))
	for j := k - 1; j >= 0; j-- {
		if reason, err = WrapFailure(fx.secrets[j], reason); err != nil {
			tb.Fatal(err)
		}
	}
	return reason
}

// fail is the reason the payer receives when hop k fails with msg.
func (fx failureFixture) fail(tb testing.TB, k int, msg lnwire.FailureMessage) []byte {
	reason, err := CreateFailure(fx.secrets[k], msg)
	if err != nil {
		tb.Fatal(err)
	}
	for j := k - 1; j >= 0; j-- {
		if reason, err = WrapFailure(fx.secrets[j], reason); err != nil {
			tb.Fatal(err)
		}
	}
	return reason
}

// invoiceSeeds are FuzzDecodeInvoice's generated seeds: the BOLT 11
// examples, invoices EncodeInvoice makes, and strings that stop early.
func invoiceSeeds(t *testing.T) map[string][]any {
	seeds := map[string][]any{}
	for i, v := range loadVectors(t) {
		seeds[fmt.Sprintf("bolt11-example-%02d", i)] = []any{v.Invoice, false}
	}
	key := newNode(t, seeded(505)).key
	dh := sha256.Sum256([]byte(fuzzDescription))
	for name, mod := range map[string]func(*InvoiceParams){
		"encoded-plain":       func(p *InvoiceParams) { p.RouteHints = nil },
		"encoded-any-amount":  func(p *InvoiceParams) { p.Amount = 0 },
		"encoded-max-amount":  func(p *InvoiceParams) { p.Amount = math.MaxUint64 - math.MaxUint64%100 },
		"encoded-route-hints": func(p *InvoiceParams) {},
		"encoded-desc-hash":   func(p *InvoiceParams) { p.DescriptionHash = &dh },
		"encoded-metadata":    func(p *InvoiceParams) { p.Metadata = []byte{1, 2, 3, 0xff} },
		"encoded-long-expiry": func(p *InvoiceParams) { p.Expiry = 100 * 365 * 24 * time.Hour; p.MinFinalCLTVExpiry = 1 << 31 },
		"encoded-mainnet":     func(p *InvoiceParams) { p.Network = Mainnet; p.Amount = 2_500_000 },
	} {
		p := testInvoiceParams(123_456_000)
		mod(&p)
		s, err := EncodeInvoice(p, key)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		seeds[name] = []any{s, false}
		seeds[name+"-fix"] = []any{s, true}
	}
	plain := seeds["encoded-plain"][0].(string)
	for name, s := range regressionInvoices(t, plain) {
		seeds[name] = []any{s, false}
	}
	for name, s := range map[string]string{
		"garbage-empty":          "",
		"garbage-hrp-only":       "lnbc1",
		"garbage-regtest-stub":   "lnbcrt1pvjluez",
		"garbage-prefix-only":    "lightning:",
		"garbage-not-ln":         "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
		"garbage-non-ascii":      "lnbc1ナンセンス",
		"garbage-bad-multiplier": "lnbc2500x1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypq",
		"garbage-truncated":      plain[:len(plain)/2],
		"garbage-upper":          strings.ToUpper(plain),
		"garbage-prefixed":       "lightning:" + plain,
	} {
		seeds[name] = []any{s, false}
	}
	return seeds
}

// regressionInvoices are what the fuzz oracle caught: plain with its
// human-readable part or fields changed and the checksum made right (the
// signature then recovers another payee, which Decode accepts). zpay32
// multiplies amounts and expiries without checking for overflow and reads a
// 65-bit c or x by dropping the top bit.
func regressionInvoices(t *testing.T, plain string) map[string]string {
	hrp, data, err := bech32.DecodeNoLimit(plain)
	if err != nil {
		t.Fatal(err)
	}
	withField := func(typ byte, v *big.Int, words int) string {
		f := []byte{typ, byte(words >> 5), byte(words & 31)}
		for i := words - 1; i >= 0; i-- {
			f = append(f, byte(new(big.Int).Rsh(v, uint(5*i)).Uint64()&31))
		}
		d := append(append(append([]byte{}, data[:7]...), f...), data[7:]...)
		s, err := bech32.Encode(hrp, d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	rest := plain[strings.LastIndexByte(plain, '1'):]
	return map[string]string{
		// 184467440738 BTC is 2^64 + 90448384000 msat.
		"regress-amount-overflow-btc": withChecksum("lnbcrt184467440738" + rest),
		"regress-amount-overflow-m":   withChecksum("lnbcrt18446744073709552m" + rest),
		"regress-amount-overflow-u":   withChecksum("lnbcrt184467440737095517u" + rest),
		"regress-amount-overflow-n":   withChecksum("lnbcrt1844674407370955162n" + rest),
		// 18446744074 s is 2^64 + 290448384 ns: 0.29 s as a Duration.
		"regress-x-overflow": withField(6, big.NewInt(18446744074), 13),
		"regress-x-65-bits":  withField(6, new(big.Int).Add(two64, big.NewInt(600)), 13),
		// 2^64 + 9 in 13 words reads as 9.
		"regress-c-65-bits": withField(24, new(big.Int).Add(two64, big.NewInt(9)), 13),
	}
}

// failureSeeds are FuzzReadFailure's generated seeds: every BOLT 4 failure
// from the middle of the route and from the destination, channel updates
// signed by the right node and by another, the same reasons truncated and
// with a flipped bit, their plaintexts for seal mode, and bytes no hop
// wrote.
func failureSeeds(t *testing.T) map[string][]any {
	fx := newFailureFixture(t)
	seeds := map[string][]any{
		"garbage-empty":      {[]byte{}, uint8(0), false},
		"garbage-zeros-292":  {make([]byte, 292), uint8(0), false},
		"garbage-zeros-1000": {make([]byte, 1000), uint8(0), false},
		"sealed-len-0":       {[]byte{0, 0}, uint8(1), true},
		"sealed-len-1":       {[]byte{0, 1, 0x10}, uint8(2), true},
		"sealed-len-too-big": {[]byte{1, 3, 0x10, 0x07}, uint8(1), true},
		"sealed-unknown":     {[]byte{0, 2, 0x7f, 0xff}, uint8(3), true},
	}
	mallory := newNode(t, seeded(6161))
	for _, row := range bolt4Table() {
		name := strings.ToLower(strings.TrimPrefix(row.name, "WIRE_"))
		for _, k := range []int{1, 3} {
			upd := signedUpdate(t, fx.l.nodes[k].key, fx.l.route[min(k+1, 3)].Channel, 0)
			msg := row.msg(t, upd)
			reason := fx.fail(t, k, msg)
			at := fmt.Sprintf("%s-hop%d", name, k)
			seeds["onion-"+at] = []any{reason, uint8(0), false}
			var pt bytes.Buffer
			if err := lnwire.EncodeFailure(&pt, msg, 0); err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			seeds["sealed-"+at] = []any{pt.Bytes(), uint8(k), true}
			if row.update && k == 1 {
				forged := signedUpdate(t, mallory.key, fx.l.route[2].Channel, 0)
				seeds["onion-forged-"+at] = []any{fx.fail(t, k, row.msg(t, forged)), uint8(0), false}
			}
		}
	}
	good := seeds["onion-temporary_channel_failure-hop1"][0].([]byte)
	flipped := bytes.Clone(good)
	flipped[40] ^= 1
	seeds["onion-truncated"] = []any{good[:len(good)-1], uint8(0), false}
	seeds["onion-truncated-292"] = []any{good[:292], uint8(0), false}
	seeds["onion-bit-flipped"] = []any{flipped, uint8(0), false}
	seeds["onion-extended"] = []any{append(bytes.Clone(good), 0), uint8(0), false}
	return seeds
}

// TestFuzzCorpus: the generated seeds on disk are what invoiceSeeds and
// failureSeeds make (go test ./htlc -run TestFuzzCorpus -rewrite writes
// them again; crash files the fuzzer added are left alone).
func TestFuzzCorpus(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzDecodeInvoice", invoiceSeeds(t), *rewrite)
	fuzzcorpus.Check(t, "FuzzReadFailure", failureSeeds(t), *rewrite)
}
