package graph

// Exclusion is one entry of getroute's exclude: a channel direction, or a
// node when IsNode is set. Callers parse text once, at the edge
// (ParseExclusion); searches take them as they are.
type Exclusion struct {
	Channel SCIDDir
	Node    NodeID
	IsNode  bool
}

// ExcludeChannel is the exclusion of channel direction d.
func ExcludeChannel(d SCIDDir) Exclusion { return Exclusion{Channel: d} }

// ExcludeNode is the exclusion of node n.
func ExcludeNode(n NodeID) Exclusion { return Exclusion{Node: n, IsNode: true} }

// ParseExclusion parses "BLOCKxTXxOUT/DIR" or a node id (66 hex
// characters); anything else is -32602 "X is not a valid
// short_channel_id/node_id", Core Lightning's message.
func ParseExclusion(s string) (Exclusion, error) {
	if d, err := ParseSCIDDir(s); err == nil {
		return ExcludeChannel(d), nil
	}
	if n, err := ParseNodeID(s); err == nil {
		return ExcludeNode(n), nil
	}
	return Exclusion{}, invalid("%s is not a valid short_channel_id/node_id", s)
}

// String is the exclusion in getroute's form.
func (x Exclusion) String() string {
	if x.IsNode {
		return x.Node.String()
	}
	return x.Channel.String()
}
