package graph

// PolicyUpdate is a new policy for one direction of a channel, as a
// signature-checked channel_update carries it.
type PolicyUpdate struct {
	SCID   SCID
	Dir    uint8
	Policy Policy
}

// WithPolicies returns a new snapshot with the updates applied, and how
// many applied. An update applies when its channel is in the snapshot and
// it is newer (LastUpdate) than the policy it replaces, as BOLT 7 orders
// channel_updates, and changes more than the timestamp; the others are
// ignored. g itself is unchanged, so
// searches under way on it go on undisturbed. Nodes and channels are
// shared with g; only the policies and the search arrays are new, and the
// A* bounds g keeps for searches with Reuse are handed on, repaired.
func (g *Graph) WithPolicies(updates []PolicyUpdate) (*Graph, int) {
	ng := &Graph{ids: g.ids, aliases: g.aliases, index: g.index, chans: g.chans, byscid: g.byscid, layout: g.layout, seeds: g.seeds}
	ng.policy = append([]Policy(nil), g.policy...)
	ng.known = append([]bool(nil), g.known...)
	applied := 0
	var changed []uint32
	for _, u := range updates {
		i, ok := g.byscid[u.SCID]
		if !ok || u.Dir > 1 {
			continue
		}
		h := 2*i + uint32(u.Dir)
		if ng.known[h] && u.Policy.LastUpdate <= ng.policy[h].LastUpdate {
			continue
		}
		if same := u.Policy; ng.known[h] {
			// A refresh that changes nothing but the timestamp is
			// not worth a rebuild.
			if same.LastUpdate = ng.policy[h].LastUpdate; same == ng.policy[h] {
				continue
			}
		}
		ng.policy[h], ng.known[h] = u.Policy, true
		changed = append(changed, h)
		applied++
	}
	if applied == 0 {
		return g, 0
	}
	ng.buildAdjacency()
	ng.inheritBounds(g, changed)
	return ng, applied
}
