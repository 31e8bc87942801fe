package target

import (
	"strings"
	"testing"

	"github.com/payengine/payengine/graph"
)

// TestPayersAndDestinations: a node's getinfo gives its id as the payer;
// a front-end's gives its members, none of which is then a destination,
// and our capacity is the smallest member's; a front-end with no member,
// or members the network does not hold, is refused with a clear error.
func TestPayersAndDestinations(t *testing.T) {
	id := func(b byte) graph.NodeID {
		var n graph.NodeID
		n[0], n[32] = 2, b
		return n
	}
	a, b, c, d := id(1), id(2), id(3), id(4)
	capa := func(v uint64) *uint64 { return &v }
	ln := listNodesJSON{}
	for _, n := range []struct {
		id  graph.NodeID
		cap uint64
	}{{a, 500}, {b, 900}, {c, 400}, {d, 0}} {
		ln.Nodes = append(ln.Nodes, struct {
			ID          string  `json:"id"`
			NumChannels int     `json:"num_channels"`
			CapacitySat *uint64 `json:"capacity_sat"`
		}{ID: n.id.String(), CapacitySat: capa(n.cap)})
	}

	self, members, err := payers(getinfoJSON{ID: a.String()})
	if err != nil || self != a || members != nil {
		t.Fatalf("a node's getinfo: %s %v %v", self, members, err)
	}
	nodes, source, err := destinations(ln, self, members)
	if err != nil || source != 500 || len(nodes) != 2 || nodes[0].ID != b || nodes[1].ID != c {
		t.Fatalf("a node: destinations %v, source %d, %v", nodes, source, err)
	}

	self, members, err = payers(getinfoJSON{Role: "frontend", Members: []string{a.String(), b.String()}})
	if err != nil || self != (graph.NodeID{}) || len(members) != 2 {
		t.Fatalf("a front-end's getinfo: %s %v %v", self, members, err)
	}
	nodes, source, err = destinations(ln, self, members)
	if err != nil || source != 500 || len(nodes) != 1 || nodes[0].ID != c {
		t.Fatalf("a front-end: destinations %v, source %d, %v", nodes, source, err)
	}

	if _, _, err := payers(getinfoJSON{Role: "frontend"}); err == nil || !strings.Contains(err.Error(), "no member") {
		t.Errorf("a front-end without members: %v", err)
	}
	if _, _, err := destinations(ln, graph.NodeID{}, []graph.NodeID{a, id(9)}); err == nil || !strings.Contains(err.Error(), "not in the network") {
		t.Errorf("a member the network lacks: %v", err)
	}
}
