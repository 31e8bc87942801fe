package htlc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"
	"github.com/payengine/payengine/graph"
)

// DefaultMinFinalCLTVExpiry is the min_final_cltv_expiry of an invoice that
// has no `c` field, as Core Lightning v0.7.3 (this project's baseline) reads
// it: 9 blocks (spec section 9.1; BOLT 11 and CLN HEAD say 18). EncodeInvoice
// always writes the field, so invoices made here never depend on it.
const DefaultMinFinalCLTVExpiry = 9

// DefaultInvoiceExpiry is the expiry of an invoice that has no `x` field
// (BOLT 11: 3600 seconds).
const DefaultInvoiceExpiry = time.Hour

var (
	// ErrInvalidInvoice is the class of every error Decode returns for an
	// invoice it refuses; the RPC layer answers it with Core Lightning's
	// "Invalid bolt11: <reason>" (see InvoiceError).
	ErrInvalidInvoice = errors.New("htlc: invalid bolt11")

	// ErrNoDescription is returned (inside an InvoiceError) when the
	// invoice commits to a description hash (`h`) and the caller gave no
	// description to check it against.
	ErrNoDescription = errors.New("htlc: h: no description to check")

	// ErrDescriptionMismatch is returned (inside an InvoiceError) when the
	// description the caller gave does not hash to the invoice's `h`.
	ErrDescriptionMismatch = errors.New("htlc: h: does not match description")

	// ErrInvoiceExpired is returned by Invoice.CheckExpiry; `pay` answers
	// it with Core Lightning's code 207.
	ErrInvoiceExpired = errors.New("htlc: invoice expired")

	// ErrInvalidInvoiceParams is returned by EncodeInvoice for parameters
	// that cannot make a valid invoice.
	ErrInvalidInvoiceParams = errors.New("htlc: invalid invoice parameters")
)

// InvoiceError is the error Decode returns for an invoice it refuses. Reason
// says why in the words Core Lightning puts after "Invalid bolt11: ".
// errors.Is(err, ErrInvalidInvoice) holds for every InvoiceError, and
// errors.Is also finds the specific cause (ErrNoDescription,
// ErrDescriptionMismatch, ErrUnknownNetwork) when there is one.
type InvoiceError struct {
	Reason string
	Err    error
}

// Error returns "htlc: invalid bolt11: <reason>".
func (e *InvoiceError) Error() string { return "htlc: invalid bolt11: " + e.Reason }

// Unwrap returns ErrInvalidInvoice and the cause, if any.
func (e *InvoiceError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidInvoice}
	}
	return []error{ErrInvalidInvoice, e.Err}
}

func invalid(cause error, format string, args ...any) error {
	return &InvoiceError{Reason: fmt.Sprintf(format, args...), Err: cause}
}

// RouteHintHop is one hop of an invoice's route hint (`r` field): the node
// at the start of a private channel and that channel's forwarding policy.
// Its JSON is the shape of decodepay's "routes" items.
type RouteHintHop struct {
	NodeID                    graph.NodeID `json:"pubkey"`
	Channel                   graph.SCID   `json:"short_channel_id"`
	FeeBaseMsat               uint32       `json:"fee_base_msat"`
	FeeProportionalMillionths uint32       `json:"fee_proportional_millionths"`
	CLTVExpiryDelta           uint16       `json:"cltv_expiry_delta"`
}

// Fallback is an on-chain fallback address (`f` field). Type is one of
// "P2PKH", "P2SH", "P2WPKH", "P2WSH", "P2TR"; Script is the output script.
type Fallback struct {
	Type    string
	Address string
	Script  []byte
}

// ExtraField is a tagged field Core Lightning does not know; decodepay lists
// these under "extra" with the tag letter and the field's bech32 data.
type ExtraField struct {
	Tag  string `json:"tag"`
	Data string `json:"data"`
}

// Invoice is a decoded BOLT 11 invoice whose signature has been checked.
// Optional fields are nil when the invoice does not carry them.
type Invoice struct {
	// Bolt11 is the invoice string as decoded (without a "lightning:"
	// prefix).
	Bolt11 string
	// Network is the network the invoice was decoded for.
	Network Network
	// Currency is the BOLT 11 prefix: "bc", "tb", "tbs" or "bcrt".
	Currency string
	// CreatedAt is the invoice timestamp (whole seconds).
	CreatedAt time.Time
	// Expiry is how long after CreatedAt the invoice may be paid.
	Expiry time.Duration
	// Payee is the node that signed the invoice.
	Payee graph.NodeID
	// Amount is the amount asked for; nil for an "any amount" invoice.
	Amount *graph.MilliSat
	// PaymentHash is the hash of the payment preimage.
	PaymentHash [32]byte
	// PaymentSecret is the `s` field, which the final hop's payload
	// must carry.
	PaymentSecret *[32]byte
	// Description is the `d` field; DescriptionHash the `h` field.
	Description     *string
	DescriptionHash *[32]byte
	// MinFinalCLTVExpiry is the `c` field, DefaultMinFinalCLTVExpiry
	// when absent.
	MinFinalCLTVExpiry uint32
	// Features is the `9` field as Core Lightning holds it: the 5-bit
	// groups packed big-endian into the fewest bytes. Nil when absent.
	Features []byte
	// RouteHints are the `r` fields, one private route each.
	RouteHints [][]RouteHintHop
	// Fallbacks holds the fallback address zpay32 kept (the first
	// valid `f` field).
	Fallbacks []Fallback
	// Metadata is the `m` field (payment_metadata).
	Metadata []byte
	// Signature is the invoice signature, DER-encoded as decodepay
	// prints it.
	Signature []byte
	// Extra lists tagged fields Core Lightning does not know.
	Extra []ExtraField
}

// DecodeOptions says how to decode an invoice.
type DecodeOptions struct {
	// Network the invoice must be for. Required.
	Network Network
	// Description, when not nil, is the full description the caller
	// claims. It must be given, and must hash to the invoice's `h`
	// field, when the invoice has one (BOLT 11; Core Lightning's
	// decodepay and pay take it as the `description` parameter).
	Description *string
}

// Decode parses a BOLT 11 invoice with lnd's zpay32, which checks the bech32
// checksum, the network prefix and the signature. It does not look at the
// clock: an expired invoice decodes (decodepay shows it); call
// Invoice.CheckExpiry before paying. Every refusal is an *InvoiceError
// (errors.Is(err, ErrInvalidInvoice)); Decode never panics on input.
func Decode(bolt11 string, opts DecodeOptions) (*Invoice, error) {
	params, err := opts.Network.Params()
	if err != nil {
		return nil, invalid(err, "unknown network %q", string(opts.Network))
	}
	s := strings.TrimSpace(bolt11)
	for _, p := range []string{"lightning:", "LIGHTNING:"} {
		s = strings.TrimPrefix(s, p)
	}
	zinv, err := decodeZpay32(s, params)
	if err != nil {
		return nil, invalid(nil, "%v", err)
	}
	cur, _ := opts.Network.Currency()
	raw, err := walkInvoice(s, cur)
	if err != nil {
		return nil, invalid(nil, "%v", err)
	}
	inv := &Invoice{
		Bolt11:      s,
		Network:     opts.Network,
		Currency:    cur,
		CreatedAt:   zinv.Timestamp,
		Expiry:      zinv.Expiry(),
		PaymentHash: *zinv.PaymentHash,
		Description: zinv.Description,
		Metadata:    zinv.Metadata,
		Features:    raw.features,
		Extra:       raw.extra,
	}
	copy(inv.Payee[:], zinv.Destination.SerializeCompressed())
	if zinv.MilliSat != nil {
		amt := graph.MilliSat(*zinv.MilliSat)
		inv.Amount = &amt
	}
	zinv.PaymentAddr.WhenSome(func(a [32]byte) { inv.PaymentSecret = &a })
	if zinv.DescriptionHash != nil {
		h := *zinv.DescriptionHash
		inv.DescriptionHash = &h
	}
	inv.MinFinalCLTVExpiry = DefaultMinFinalCLTVExpiry
	if raw.hasC {
		c := zinv.MinFinalCLTVExpiry()
		if c > math.MaxUint32 {
			return nil, invalid(nil, "c: %d does not fit 32 bits", c)
		}
		inv.MinFinalCLTVExpiry = uint32(c)
	}
	for _, hint := range zinv.RouteHints {
		hops := make([]RouteHintHop, 0, len(hint))
		for _, h := range hint {
			var id graph.NodeID
			copy(id[:], h.NodeID.SerializeCompressed())
			hops = append(hops, RouteHintHop{
				NodeID:                    id,
				Channel:                   graph.SCID(h.ChannelID),
				FeeBaseMsat:               h.FeeBaseMSat,
				FeeProportionalMillionths: h.FeeProportionalMillionths,
				CLTVExpiryDelta:           h.CLTVExpiryDelta,
			})
		}
		inv.RouteHints = append(inv.RouteHints, hops)
	}
	if zinv.FallbackAddr != nil {
		fb, err := fallbackOf(zinv.FallbackAddr)
		if err != nil {
			return nil, invalid(nil, "f: %v", err)
		}
		inv.Fallbacks = []Fallback{fb}
	}
	inv.Signature, err = derSignature(raw.sig)
	if err != nil {
		return nil, invalid(nil, "signature: %v", err)
	}

	if inv.DescriptionHash != nil {
		if opts.Description == nil {
			return nil, invalid(ErrNoDescription, "h: no description to check")
		}
		if sha256.Sum256([]byte(*opts.Description)) != *inv.DescriptionHash {
			return nil, invalid(ErrDescriptionMismatch, "h: does not match description")
		}
	}
	return inv, nil
}

// decodeZpay32 calls zpay32.Decode and turns a panic inside it (it has had
// some on hostile input) into an error: Decode promises not to panic.
func decodeZpay32(s string, params *chaincfg.Params) (inv *zpay32.Invoice, err error) {
	defer func() {
		if r := recover(); r != nil {
			inv, err = nil, fmt.Errorf("malformed invoice (%v)", r)
		}
	}()
	return zpay32.Decode(s, params)
}

// ExpiresAt returns the first instant at which the invoice is expired:
// CreatedAt + Expiry, plus one second because Core Lightning refuses only
// when now > timestamp + expiry (whole seconds).
func (inv *Invoice) ExpiresAt() time.Time {
	return inv.CreatedAt.Add(inv.Expiry).Add(time.Second)
}

// CheckExpiry returns an error wrapping ErrInvoiceExpired if now is past the
// invoice's expiry (now > created_at + expiry, in whole seconds, as
// Core Lightning's pay checks it), else nil.
func (inv *Invoice) CheckExpiry(now time.Time) error {
	deadline := inv.CreatedAt.Unix() + int64(inv.Expiry/time.Second)
	if now.Unix() > deadline {
		return fmt.Errorf("%w: expired at %d, now %d", ErrInvoiceExpired, deadline, now.Unix())
	}
	return nil
}

// DecodePayResult is the result of Core Lightning's decodepay. Its JSON
// validates against the response schema of CLN's doc/schemas/decodepay.json.
type DecodePayResult struct {
	Currency           string           `json:"currency"`
	CreatedAt          uint64           `json:"created_at"`
	Expiry             uint64           `json:"expiry"`
	Payee              graph.NodeID     `json:"payee"`
	AmountMsat         *uint64          `json:"amount_msat,omitempty"`
	Description        *string          `json:"description,omitempty"`
	DescriptionHash    string           `json:"description_hash,omitempty"`
	MinFinalCLTVExpiry uint32           `json:"min_final_cltv_expiry"`
	PaymentSecret      string           `json:"payment_secret,omitempty"`
	Features           string           `json:"features,omitempty"`
	PaymentMetadata    string           `json:"payment_metadata,omitempty"`
	Fallbacks          []FallbackJSON   `json:"fallbacks,omitempty"`
	Routes             [][]RouteHintHop `json:"routes,omitempty"`
	Extra              []ExtraField     `json:"extra,omitempty"`
	PaymentHash        string           `json:"payment_hash"`
	Signature          string           `json:"signature"`
}

// FallbackJSON is one item of decodepay's "fallbacks".
type FallbackJSON struct {
	Type string `json:"type"`
	Addr string `json:"addr,omitempty"`
	Hex  string `json:"hex"`
}

// DecodePayResult returns the invoice in the shape decodepay answers with.
func (inv *Invoice) DecodePayResult() DecodePayResult {
	r := DecodePayResult{
		Currency:           inv.Currency,
		CreatedAt:          uint64(max(inv.CreatedAt.Unix(), 0)),
		Expiry:             uint64(inv.Expiry / time.Second),
		Payee:              inv.Payee,
		Description:        inv.Description,
		MinFinalCLTVExpiry: inv.MinFinalCLTVExpiry,
		PaymentHash:        hex.EncodeToString(inv.PaymentHash[:]),
		Signature:          hex.EncodeToString(inv.Signature),
		Extra:              inv.Extra,
	}
	if inv.Amount != nil {
		a := uint64(*inv.Amount)
		r.AmountMsat = &a
	}
	if inv.DescriptionHash != nil {
		r.DescriptionHash = hex.EncodeToString(inv.DescriptionHash[:])
	}
	if inv.PaymentSecret != nil {
		r.PaymentSecret = hex.EncodeToString(inv.PaymentSecret[:])
	}
	if inv.Features != nil {
		r.Features = hex.EncodeToString(inv.Features)
	}
	if inv.Metadata != nil {
		r.PaymentMetadata = hex.EncodeToString(inv.Metadata)
	}
	for _, f := range inv.Fallbacks {
		r.Fallbacks = append(r.Fallbacks, FallbackJSON{Type: f.Type, Addr: f.Address, Hex: hex.EncodeToString(f.Script)})
	}
	r.Routes = inv.RouteHints
	return r
}

// InvoiceParams describes an invoice for EncodeInvoice, as a simulated
// destination issues it. Zero values mean defaults where one is given.
type InvoiceParams struct {
	// Network the invoice is for. Required.
	Network Network
	// Amount asked for; 0 makes an "any amount" invoice.
	Amount graph.MilliSat
	// PaymentHash is the hash of the preimage the payee holds. Required.
	PaymentHash [32]byte
	// PaymentSecret is the `s` field. Required (not all zero): modern
	// payers refuse invoices without one.
	PaymentSecret [32]byte
	// Description is the `d` field, used unless DescriptionHash is set.
	Description string
	// DescriptionHash, when not nil, is written as `h` instead of `d`.
	DescriptionHash *[32]byte
	// MinFinalCLTVExpiry is the `c` field; 0 means
	// DefaultMinFinalCLTVExpiry. It is always written.
	MinFinalCLTVExpiry uint32
	// Expiry is the `x` field in whole seconds; 0 means
	// DefaultInvoiceExpiry. It is always written.
	Expiry time.Duration
	// Timestamp is the creation time (whole seconds). Required: the
	// caller owns the clock.
	Timestamp time.Time
	// RouteHints become `r` fields, one per private route.
	RouteHints [][]RouteHintHop
	// Metadata, when not nil, is the `m` field.
	Metadata []byte
}

// EncodeInvoice builds a BOLT 11 invoice with zpay32 and signs it with key.
// The features are var_onion_optin and payment_secret, both compulsory (bits
// 8 and 14), as modern invoices carry them. It returns an error wrapping
// ErrInvalidInvoiceParams for unusable parameters.
func EncodeInvoice(p InvoiceParams, key *btcec.PrivateKey) (string, error) {
	params, err := p.Network.Params()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidInvoiceParams, err)
	}
	if key == nil {
		return "", fmt.Errorf("%w: no signing key", ErrInvalidInvoiceParams)
	}
	if p.PaymentSecret == ([32]byte{}) {
		return "", fmt.Errorf("%w: payment secret is zero", ErrInvalidInvoiceParams)
	}
	if p.Timestamp.Unix() <= 0 {
		return "", fmt.Errorf("%w: timestamp %v is not after 1970", ErrInvalidInvoiceParams, p.Timestamp)
	}
	if p.Expiry < 0 {
		return "", fmt.Errorf("%w: negative expiry", ErrInvalidInvoiceParams)
	}
	cltv := p.MinFinalCLTVExpiry
	if cltv == 0 {
		cltv = DefaultMinFinalCLTVExpiry
	}
	expiry := p.Expiry
	if expiry == 0 {
		expiry = DefaultInvoiceExpiry
	}
	features := lnwire.NewFeatureVector(lnwire.NewRawFeatureVector(
		lnwire.TLVOnionPayloadRequired, lnwire.PaymentAddrRequired,
	), lnwire.Features)
	opts := []func(*zpay32.Invoice){
		zpay32.PaymentAddr(p.PaymentSecret),
		zpay32.CLTVExpiry(uint64(cltv)),
		zpay32.Expiry(expiry.Truncate(time.Second)),
		zpay32.Features(features),
	}
	if p.Amount != 0 {
		opts = append(opts, zpay32.Amount(lnwire.MilliSatoshi(p.Amount)))
	}
	if p.DescriptionHash != nil {
		opts = append(opts, zpay32.DescriptionHash(*p.DescriptionHash))
	} else {
		opts = append(opts, zpay32.Description(p.Description))
	}
	if p.Metadata != nil {
		opts = append(opts, zpay32.Metadata(p.Metadata))
	}
	for i, hint := range p.RouteHints {
		if len(hint) == 0 {
			return "", fmt.Errorf("%w: route hint %d is empty", ErrInvalidInvoiceParams, i)
		}
		hops := make([]zpay32.HopHint, 0, len(hint))
		for j, h := range hint {
			pub, err := btcec.ParsePubKey(h.NodeID[:])
			if err != nil {
				return "", fmt.Errorf("%w: route hint %d hop %d: %w", ErrInvalidInvoiceParams, i, j, err)
			}
			hops = append(hops, zpay32.HopHint{
				NodeID:                    pub,
				ChannelID:                 uint64(h.Channel),
				FeeBaseMSat:               h.FeeBaseMsat,
				FeeProportionalMillionths: h.FeeProportionalMillionths,
				CLTVExpiryDelta:           h.CLTVExpiryDelta,
			})
		}
		opts = append(opts, zpay32.RouteHint(hops))
	}
	zinv, err := zpay32.NewInvoice(params, p.PaymentHash, time.Unix(p.Timestamp.Unix(), 0), opts...)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidInvoiceParams, err)
	}
	s, err := zinv.Encode(zpay32.MessageSigner{
		SignCompact: func(msg []byte) ([]byte, error) {
			return ecdsa.SignCompact(key, chainhash.HashB(msg), true), nil
		},
	})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidInvoiceParams, err)
	}
	if p.Amount != 0 {
		// zpay32 may write a wrapped-around amount (see amountMsat).
		cur, _ := p.Network.Currency()
		written := strings.TrimPrefix(s[:strings.LastIndexByte(s, '1')], "ln"+cur)
		if got, ok := amountMsat(written); !ok || got != p.Amount {
			return "", fmt.Errorf("%w: amount %s has no bolt11 form (zpay32 wrote %q)", ErrInvalidInvoiceParams, p.Amount, written)
		}
	}
	return s, nil
}

// bech32Charset maps 5-bit values to bech32 characters (BIP 173).
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// knownTags are the tagged fields Core Lightning's decodepay understands:
// p s d m n h x f r c 9. Anything else goes to "extra".
var knownTags = map[byte]bool{1: true, 16: true, 13: true, 27: true, 19: true, 23: true, 6: true, 9: true, 3: true, 24: true, 5: true}

// rawInvoice is what decodepay shows and zpay32 does not expose.
type rawInvoice struct {
	hasC     bool
	features []byte
	extra    []ExtraField
	sig      [65]byte
}

// walkInvoice reads the tagged fields of an invoice zpay32 has already
// accepted, for the few things zpay32 does not keep: whether `c` was present,
// the raw feature bits, unknown fields and the signature bytes. It also
// refuses what zpay32 reads wrongly instead of refusing: an amount beyond
// 64 bits of msat, and an `x` or `c` of more than 64 bits (Core Lightning's
// limit; zpay32 drops the top bit) or an `x` beyond time.Duration (zpay32
// multiplies by time.Second without checking). Only the first `x` and `c`
// count, as in zpay32.
func walkInvoice(s, currency string) (rawInvoice, error) {
	var r rawInvoice
	hrp, data, err := bech32.DecodeNoLimit(s)
	if err != nil {
		return r, err
	}
	if amount := strings.TrimPrefix(hrp, "ln"+currency); amount != "" {
		if _, ok := amountMsat(amount); !ok {
			return r, fmt.Errorf("amount %q is more than 2^64-1 msat", amount)
		}
	}
	const sigWords, tsWords = 104, 7
	if len(data) < sigWords+tsWords {
		return r, errors.New("short invoice")
	}
	sig, err := bech32.ConvertBits(data[len(data)-sigWords:], 5, 8, true)
	if err != nil || len(sig) < 65 {
		return r, errors.New("bad signature field")
	}
	copy(r.sig[:], sig)
	fields := data[tsWords : len(data)-sigWords]
	seenFeatures, seenX := false, false
	for len(fields) > 0 {
		if len(fields) < 3 {
			return r, errors.New("last tagged field is broken")
		}
		typ := fields[0]
		n := int(fields[1])<<5 | int(fields[2])
		if len(fields) < 3+n {
			return r, errors.New("invalid field length")
		}
		body := fields[3 : 3+n]
		fields = fields[3+n:]
		switch {
		case typ == 24 && !r.hasC:
			r.hasC = true
			if len(body) > maxUintWords {
				return r, fmt.Errorf("c: %d characters is more than 64 bits", len(body))
			}
		case typ == 6 && !seenX:
			seenX = true
			if len(body) > maxUintWords || wordsUint(body) > maxExpirySeconds {
				return r, errors.New("x: expiry out of range")
			}
		case typ == 5 && !seenFeatures:
			seenFeatures = true
			r.features = packWords(body)
		case !knownTags[typ]:
			var b strings.Builder
			for _, w := range body {
				b.WriteByte(bech32Charset[w&31])
			}
			r.extra = append(r.extra, ExtraField{Tag: string(bech32Charset[typ&31]), Data: b.String()})
		}
	}
	return r, nil
}

// maxUintWords is the most 5-bit words of an `x` or `c` field that fit 64
// bits; maxExpirySeconds is the longest `x` a time.Duration holds.
const (
	maxUintWords     = 12
	maxExpirySeconds = math.MaxInt64 / uint64(time.Second)
)

// wordsUint reads at most maxUintWords 5-bit words as a big-endian number.
func wordsUint(words []byte) uint64 {
	var v uint64
	for _, w := range words {
		v = v<<5 | uint64(w&31)
	}
	return v
}

// amountMsat reads the amount of an invoice's human-readable part ("2500u")
// exactly: ok is false for a malformed amount, a fraction of a msat, or
// more than 2^64-1 msat. zpay32 multiplies without checking, so it reads
// "184467440738" (BTC) as 90448384000 msat, and writes 2^64/10 msat or more
// in pico-bitcoin by wrapping around.
func amountMsat(amount string) (graph.MilliSat, bool) {
	if amount == "" {
		return 0, false
	}
	perUnit := uint64(100_000_000_000) // msat per BTC
	digits := amount[:len(amount)-1]
	switch amount[len(amount)-1] {
	case 'm':
		perUnit /= 1_000
	case 'u':
		perUnit /= 1_000_000
	case 'n':
		perUnit /= 1_000_000_000
	case 'p':
		p, err := strconv.ParseUint(digits, 10, 64)
		if err != nil || p%10 != 0 {
			return 0, false
		}
		return graph.MilliSat(p / 10), true
	default:
		digits = amount
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	hi, lo := bits.Mul64(n, perUnit)
	return graph.MilliSat(lo), hi == 0
}

// packWords packs 5-bit groups big-endian into ceil(5n/8) bytes with the
// padding bits at the front, as Core Lightning stores invoice features.
func packWords(words []byte) []byte {
	nbits := 5 * len(words)
	out := make([]byte, (nbits+7)/8)
	pad := len(out)*8 - nbits
	for i, w := range words {
		for b := 0; b < 5; b++ {
			if w&(1<<(4-b)) != 0 {
				pos := pad + 5*i + b
				out[pos/8] |= 1 << (7 - pos%8)
			}
		}
	}
	return out
}

// derSignature turns the invoice's 64-byte compact signature (plus recovery
// id) into DER.
func derSignature(sig [65]byte) ([]byte, error) {
	var r, s btcec.ModNScalar
	if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:64]) {
		return nil, errors.New("signature value out of range")
	}
	return ecdsa.NewSignature(&r, &s).Serialize(), nil
}

// fallbackOf describes a fallback address the way decodepay does.
func fallbackOf(addr btcutil.Address) (Fallback, error) {
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		return Fallback{}, err
	}
	fb := Fallback{Address: addr.EncodeAddress(), Script: script}
	switch addr.(type) {
	case *btcutil.AddressPubKeyHash:
		fb.Type = "P2PKH"
	case *btcutil.AddressScriptHash:
		fb.Type = "P2SH"
	case *btcutil.AddressWitnessPubKeyHash:
		fb.Type = "P2WPKH"
	case *btcutil.AddressWitnessScriptHash:
		fb.Type = "P2WSH"
	case *btcutil.AddressTaproot:
		fb.Type = "P2TR"
	default:
		return Fallback{}, fmt.Errorf("unsupported address type %T", addr)
	}
	return fb, nil
}
