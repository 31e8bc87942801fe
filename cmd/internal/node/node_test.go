package node

import (
	"strings"
	"testing"
)

// A node starts on the bundled subgraph, and a second one on the same data
// directory is refused with a message that says why.
func TestStartTwice(t *testing.T) {
	dir := t.TempDir()
	nd, err := Start(Config{DataDir: dir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer nd.Close()
	if got := len(nd.Net.Graph().Nodes()); got != 301 {
		t.Fatalf("%d nodes, want the 300 of sub300 and ours", got)
	}
	_, err = Start(Config{DataDir: dir, Seed: 1})
	if err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Fatalf("second start: %v", err)
	}
}
