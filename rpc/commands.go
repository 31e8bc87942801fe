package rpc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/messages"
	"github.com/payengine/payengine/payment"
)

// handlers are Core Lightning's payment commands over the engine.
type handlers struct {
	s       *Server
	e       *actors.Engine
	node    NodeInfo
	ledger  Ledger
	version string
	log     *slog.Logger

	reserved reservations // askrene-reserve's holds
}

// Param lists shared by several commands.
var (
	pBolt11      = Param{Name: "bolt11", Required: true, Parse: parseString}
	pDescription = Param{Name: "description", Parse: parseString}
	pListFilters = []Param{
		{Name: "bolt11", Parse: parseString},
		{Name: "payment_hash", Parse: parseHash},
		{Name: "status", Parse: parseStatus},
		{Name: "index", Parse: parseString},
		{Name: "start", Parse: parseU64},
		{Name: "limit", Parse: parseU32},
	}
)

func (h *handlers) commands() []Command {
	return []Command{
		{Name: "getinfo", Category: "utility", Handler: h.getinfo,
			Description: "Show our node's id, alias, channels, block height, network and version."},
		{Name: "help", Category: "utility", Handler: h.help,
			Params:      []Param{{Name: "command", Parse: parseString}},
			Description: "List the commands, or describe one."},
		{Name: "decodepay", Category: "utility", Handler: h.decodepay,
			Params:      []Param{pBolt11, pDescription},
			Description: "Decode a BOLT 11 invoice; description is needed when the invoice has a description hash."},
		{Name: "getroute", Category: "network", Handler: h.getroute,
			Params: []Param{
				{Name: "id", Required: true, Parse: parsePubkey},
				{Name: "amount_msat", Aliases: []string{"msatoshi"}, Required: true, Parse: parseMsat},
				{Name: "riskfactor", Required: true, Parse: parsePositiveDouble},
				{Name: "cltv", Parse: parseU32},
				{Name: "fromid", Parse: parsePubkey},
				{Name: "fuzzpercent", Parse: parsePercent},
				{Name: "exclude", Parse: parseExclude},
				{Name: "maxhops", Parse: parseU32},
				{Name: "seed", Parse: parseSeed},
			},
			Description: "Find the cheapest route to id for amount_msat (msatoshi), with CLN's cost: fees plus riskfactor (annual %) over the locked blocks; cltv defaults to 9, fuzzpercent to 5, maxhops to 20; exclude lists scid/direction or node ids. Each fee is fuzzed by up to fuzzpercent, with a fresh random seed per call as in v0.7; seed (v0.6's parameter: a string of at most 16 bytes) fixes the fuzz, so the same call gives the same route."},
		{Name: "sendpay", Category: "payment", Handler: h.sendpay,
			Params: []Param{
				{Name: "route", Required: true, Parse: parseRoute},
				{Name: "payment_hash", Required: true, Parse: parseHash},
				{Name: "label", Aliases: []string{"description"}, Parse: parseString},
				{Name: "amount_msat", Aliases: []string{"msatoshi"}, Parse: parseMsat},
				{Name: "bolt11", Parse: parseString},
				{Name: "payment_secret", Parse: parseHash},
				{Name: "partid", Parse: parseU64},
				{Name: "localinvreqid", Parse: parseHex},
				{Name: "groupid", Parse: parseU64},
				{Name: "payment_metadata", Parse: parseHex},
			},
			Description: "Send an HTLC along route for payment_hash and return once it is on its way (status pending); waitsendpay gives the outcome. amount_msat (msatoshi) is the amount recorded; the final hop may get up to twice it. Without payment_secret, the secret of bolt11 is used. A partid other than 0 sends one part of a multi-part payment with Core Lightning's current rules: amount_msat is then the total and payment_secret is required; parts go in groupid (default: a new group), which must be 1 or more. With partid 0, groupid is ignored (the single-part payment of a hash is group 0)."},
		{Name: "waitsendpay", Category: "payment", Handler: h.waitsendpay,
			Params: []Param{
				{Name: "payment_hash", Required: true, Parse: parseHash},
				{Name: "timeout", Parse: parseU32},
				{Name: "partid", Parse: parseU64},
				{Name: "groupid", Parse: parseU64},
			},
			Description: "Wait for the payment of payment_hash to complete or fail, at most timeout seconds (0: just look); partid (default 0) and groupid (default: the latest group of parts) name a part of a multi-part sendpay."},
		{Name: "pay", Category: "payment", Handler: h.pay,
			Params: []Param{
				pBolt11,
				{Name: "amount_msat", Aliases: []string{"msatoshi"}, Parse: parseMsat},
				{Name: "label", Parse: parseString},
				{Name: "riskfactor", Parse: parsePositiveDouble},
				{Name: "maxfeepercent", Parse: parsePositiveDouble},
				{Name: "retry_for", Parse: parseU32},
				{Name: "maxdelay", Parse: parseU32},
				{Name: "exemptfee", Parse: parseMsat},
				// The rest in HEAD's positional order.
				{Name: "localinvreqid", Parse: parseHex},
				{Name: "exclude", Parse: parseExclude},
				{Name: "maxfee", Parse: parseMsat},
				{Name: "description", Parse: parseString},
				{Name: "partial_msat", Parse: parseMsat},
				{Name: "maxparts", Parse: parseU32},
			},
			Description: "Pay a BOLT 11 invoice, retrying other routes for up to retry_for seconds (60). amount_msat (msatoshi) only for an invoice without amount; riskfactor defaults to 1.0, maxfeepercent to 0.5, exemptfee to 5000msat, maxdelay to 2016; maxfee replaces maxfeepercent and exemptfee. From 100,000 sat, with maxparts above 1 (default 100), the payment is planned as a flow and sent in parts; maxparts 1 keeps one path. exclude, localinvreqid and partial_msat are not supported."},
		{Name: "listsendpays", Category: "payment", Handler: h.listsendpays, Params: pListFilters,
			Description: "List payments in the order they were made: all, or those of a bolt11 or a payment_hash, optionally of one status; index=created with start and limit pages by id."},
		{Name: "listpayments", Category: "payment", Handler: h.listsendpays, Params: pListFilters, Deprecated: true,
			Description: "Deprecated alias of listsendpays."},
		{Name: "listpays", Category: "payment", Handler: h.listpays, Params: pListFilters,
			Description: "List pays: one row per payment, pending while a pay is still retrying it."},
		{Name: "paystatus", Category: "payment", Handler: h.paystatus,
			Params:      []Param{{Name: "bolt11", Parse: parseString}},
			Description: "Show each payment made with a bolt11 (or those of bolt11), as the pay plugin does: bolt11, amount_msat, destination, label, and every attempt from the ledger with its strategy, start and end times, state, route, and failure (an error object, as waitsendpay answers it) or success."},
		{Name: "delpay", Category: "payment", Handler: h.delpay,
			Params: []Param{
				{Name: "payment_hash", Required: true, Parse: parseHash},
				{Name: "status", Required: true, Parse: parseDelStatus},
				{Name: "partid", Parse: parseU64},
				{Name: "groupid", Parse: parseU64},
			},
			Description: "Delete the payment of payment_hash, with its attempts, if its status is status (complete or failed; a pending payment, or one a pay is still retrying, is never deleted), and return it. partid and groupid go together; a payment here is groupid 0, partid 0. Errors: 208 for an unknown payment_hash, a status that differs, or a partid and groupid that name no payment."},
	}
}

// row reads the ledger's row of a hash's group (0: the single-part
// payment; a sendpay part's is its group's row); a record the engine
// returned has one. Failing that, zero ids are better than failing a
// payment that went through, so it logs and goes on.
func (h *handlers) row(hash [32]byte, group uint64) messages.Payment {
	p, err := h.ledger.Payment(hash, group)
	if err != nil {
		h.log.Warn("rpc: no ledger row for a payment the engine knows", "payment_hash", hex.EncodeToString(hash[:]), "err", err)
	}
	return p
}

// fail turns an engine error into its JSON-RPC error: a *payment.Error
// keeps its code and message, its data shaped per spec section 3; a
// *graph.Error keeps its code.
func (h *handlers) fail(err error) error {
	var pe *payment.Error
	if errors.As(err, &pe) {
		e := &Error{Code: pe.Code, Message: pe.Message}
		switch d := pe.Data.(type) {
		case nil:
		case payment.FailureData:
			if d.Routing != nil {
				var row messages.Payment
				if d.Record != nil {
					row = h.row(d.Record.Hash, d.Record.GroupID)
				}
				data, derr := failureDataJSON(d.Routing, d.Record, row)
				if derr != nil {
					return derr
				}
				e.Data = data
			}
		case payment.PayFailureData:
			atts := make([]attemptJSON, len(d.Attempts))
			for i, a := range d.Attempts {
				atts[i].Route = a.Route
				if a.Failure != nil {
					atts[i].Failure = failureError(a.Failure)
				}
			}
			e.Data = map[string]any{"attempts": atts}
		default:
			e.Data = d
		}
		return e
	}
	var ge *graph.Error
	if errors.As(err, &ge) {
		return &Error{Code: ge.Code, Message: ge.Message}
	}
	return err
}

// getinfoJSON is getinfo's result (v0.7's fields that mean something here).
type getinfoJSON struct {
	ID                  string   `json:"id"`
	Alias               string   `json:"alias"`
	NumPeers            int      `json:"num_peers"`
	NumPendingChannels  int      `json:"num_pending_channels"`
	NumActiveChannels   int      `json:"num_active_channels"`
	NumInactiveChannels int      `json:"num_inactive_channels"`
	Address             []string `json:"address"`
	Binding             []string `json:"binding"`
	Version             string   `json:"version"`
	Blockheight         uint32   `json:"blockheight"`
	// Network is the backend's, by Core Lightning's name: "regtest"
	// over simnet (lnbcrt invoices), lnd's network over lnd.
	Network string `json:"network"`
}

func (h *handlers) getinfo(context.Context, *Args) (any, error) {
	s := h.node.Summary()
	return getinfoJSON{ID: h.node.Self().String(), Alias: s.Alias, NumPeers: s.Peers, NumActiveChannels: s.Channels,
		Address: []string{}, Binding: []string{}, Version: h.version, Blockheight: s.Height, Network: s.Network}, nil
}

type helpEntry struct {
	Command     string `json:"command"`
	Category    string `json:"category"`
	Description string `json:"description"`
	Verbose     string `json:"verbose"`
}

func (h *handlers) help(_ context.Context, a *Args) (any, error) {
	entry := func(c *Command) helpEntry {
		verbose := c.Usage() + "\n\n" + c.Description
		for _, p := range c.Params {
			for _, al := range p.Aliases {
				verbose += fmt.Sprintf("\n%s may also be given as %s.", p.Name, al)
			}
		}
		if c.Deprecated {
			verbose += "\nDeprecated."
		}
		return helpEntry{Command: c.Usage(), Category: c.Category, Description: c.Description, Verbose: verbose}
	}
	var out []helpEntry
	if name, ok := Arg[string](a, "command"); ok {
		c := h.s.command(name)
		if c == nil {
			return nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("Unknown command '%s'", name)}
		}
		out = append(out, entry(c))
	} else {
		for _, c := range h.s.commands() {
			out = append(out, entry(c))
		}
	}
	return map[string]any{"help": out, "format-hint": "simple"}, nil
}

func (h *handlers) decodepay(_ context.Context, a *Args) (any, error) {
	b, _ := Arg[string](a, "bolt11")
	var desc *string
	if d, ok := Arg[string](a, "description"); ok {
		desc = &d
	}
	res, err := h.e.DecodePay(b, desc)
	if err != nil {
		return nil, h.fail(err)
	}
	return res, nil
}

func (h *handlers) getroute(ctx context.Context, a *Args) (any, error) {
	p := graph.GetRouteParams{}
	p.ID, _ = Arg[graph.NodeID](a, "id")
	p.AmountMsat, _ = Arg[graph.MilliSat](a, "amount_msat")
	p.RiskFactor, _ = Arg[float64](a, "riskfactor")
	if v, ok := Arg[uint64](a, "cltv"); ok {
		c := uint32(v)
		p.CLTV = &c
	}
	p.FromID, _ = Arg[graph.NodeID](a, "fromid")
	if v, ok := Arg[float64](a, "fuzzpercent"); ok {
		p.FuzzPercent = &v
	}
	p.Exclude, _ = Arg[[]graph.Exclusion](a, "exclude")
	if v, ok := Arg[uint64](a, "maxhops"); ok {
		m := uint32(v)
		p.MaxHops = &m
	}
	if v, ok := Arg[graph.Seed](a, "seed"); ok {
		p.Seed = v
	} else {
		p.Seed = h.e.DrawSeed()
	}
	route, err := h.e.GetRoute(ctx, p)
	if err != nil {
		return nil, h.fail(err)
	}
	return routeJSON{Route: route}, nil
}
