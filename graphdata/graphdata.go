// Package graphdata holds the two real mainnet channel graphs the project
// ships (see README.md in this folder for their origin and licence),
// embedded so that the daemon and paybench run from any directory.
package graphdata

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/payengine/payengine/graph"
)

// Names of the bundled graphs, as payd's --graph flag takes them.
const (
	Sub300  = "sub300"
	Mainnet = "mainnet"
)

//go:embed ln-mainnet-2026-02-03-sub300.describegraph.json
var sub300 []byte

//go:embed ln-mainnet-2026-02-03.describegraph.json.gz
var mainnet []byte

// Load returns a bundled graph by name, or reads a describegraph file
// (gzip or plain) when name is neither bundled name.
func Load(name string) (*graph.Graph, error) {
	var (
		g   *graph.Graph
		err error
	)
	switch name {
	case Sub300:
		g, err = graph.LoadDescribeGraph(bytes.NewReader(sub300))
	case Mainnet:
		g, err = graph.LoadDescribeGraph(bytes.NewReader(mainnet))
	default:
		g, err = graph.LoadDescribeGraphFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("graphdata: %s: %w", name, err)
	}
	return g, nil
}
