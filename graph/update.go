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
	// The policies are copied at the first update that applies: most
	// batches (refreshes that failures carry) change nothing.
	policy, known := g.policy, g.known
	applied := 0
	var changed []uint32
	for _, u := range updates {
		i, ok := g.byscid[u.SCID]
		if !ok || u.Dir > 1 {
			continue
		}
		h := 2*i + uint32(u.Dir)
		if known[h] && u.Policy.LastUpdate <= policy[h].LastUpdate {
			continue
		}
		if same := u.Policy; known[h] {
			// A refresh that changes nothing but the timestamp is
			// not worth a rebuild.
			if same.LastUpdate = policy[h].LastUpdate; same == policy[h] {
				continue
			}
		}
		if applied == 0 {
			policy, known = append([]Policy(nil), g.policy...), append([]bool(nil), g.known...)
		}
		policy[h], known[h] = u.Policy, true
		changed = append(changed, h)
		applied++
	}
	if applied == 0 {
		return g, 0
	}
	ng := &Graph{ids: g.ids, aliases: g.aliases, index: g.index, chans: g.chans, byscid: g.byscid, layout: g.layout, seeds: g.seeds,
		policy: policy, known: known}
	ng.buildAdjacency()
	ng.inheritBounds(g, changed)
	return ng, applied
}
