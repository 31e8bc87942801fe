package rpc

import (
	"encoding/json"
	"fmt"

	"github.com/payengine/payengine/graph"
)

// parseRoute is sendpay's route (spec section 5.1): an array of hop
// objects, each with id, channel, delay and msatoshi or amount_msat (equal
// if both). direction, getroute's style and HEAD's newer members are
// ignored, as HEAD ignores unknown members, so getroute's output can be
// passed back as is. Direction is left for the handler, which knows our
// node. An empty array is the engine's to refuse ("Empty route").
func parseRoute(name string, raw json.RawMessage) (any, error) {
	if firstByte(raw) != '[' {
		return nil, bad(name, "an array", raw)
	}
	elems, err := arrayElements(raw)
	if err != nil {
		return nil, bad(name, "an array", raw)
	}
	route := make([]graph.Hop, len(elems))
	for i, e := range elems {
		hop, err := parseHop(fmt.Sprintf("%s[%d]", name, i), e)
		if err != nil {
			return nil, err
		}
		route[i] = hop
	}
	return route, nil
}

func parseHop(at string, raw json.RawMessage) (graph.Hop, error) {
	var hop graph.Hop
	if firstByte(raw) != '{' {
		s, _ := text(raw)
		return hop, invalidParams("%s: should be an object, not '%s'", at, s)
	}
	members, dup, err := objectMembers(raw)
	if err != nil {
		return hop, invalidParams("%s: should be an object", at)
	}
	if dup != "" {
		return hop, invalidParams("%s: duplicate json names: %s", at, dup)
	}
	var msat, amount *graph.MilliSat
	var hasID, hasChannel, hasDelay bool
	for _, m := range members {
		if isNull(m.val) {
			continue
		}
		var v any
		switch m.key {
		case "msatoshi", "amount_msat":
			v, err = parseMsat(m.key, m.val)
			if err == nil {
				a := v.(graph.MilliSat)
				if m.key == "msatoshi" {
					msat = &a
				} else {
					amount = &a
				}
			}
		case "id":
			if v, err = parsePubkey(m.key, m.val); err == nil {
				hop.ID, hasID = v.(graph.NodeID), true
			}
		case "channel":
			if v, err = parseSCID(m.key, m.val); err == nil {
				hop.Channel, hasChannel = v.(graph.SCID), true
			}
		case "delay":
			if v, err = parseU32(m.key, m.val); err == nil {
				hop.Delay, hasDelay = uint32(v.(uint64)), true
			}
		}
		if err != nil {
			return hop, invalidParams("%s: %s", at, err.(*Error).Message)
		}
	}
	switch {
	case msat == nil && amount == nil:
		return hop, invalidParams("%s: must have msatoshi or amount_msat", at)
	case !hasID || !hasChannel || !hasDelay:
		return hop, invalidParams("%s: must have id, channel and delay", at)
	case msat != nil && amount != nil && *msat != *amount:
		return hop, invalidParams("%s: msatoshi %s != amount_msat %s", at, *msat, *amount)
	case msat != nil:
		hop.Amount = *msat
	default:
		hop.Amount = *amount
	}
	return hop, nil
}

// parseSeed is getroute's seed, as v0.6 took it: a string (or a number's
// text) of at most 16 bytes, zero-padded into the fuzz's siphash key. ""
// is the zero seed, whose per-channel hashes the graph keeps ready.
func parseSeed(name string, raw json.RawMessage) (any, error) {
	s, ok := primitive(raw)
	if !ok || len(s) > len(graph.Seed{}) {
		return nil, bad(name, fmt.Sprintf("a string of at most %d bytes", len(graph.Seed{})), raw)
	}
	var seed graph.Seed
	copy(seed[:], s)
	return seed, nil
}
