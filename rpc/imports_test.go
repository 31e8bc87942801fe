package rpc

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/payengine/payengine"

// backends are the packages a backend is made of (and what lives under
// them, as simnet/simnetrpc): the RPC front-end must know none of them,
// directly or through another package (DESIGN.md, "Rooms").
var backends = []string{"simnet", "lndnode", "wirelink"}

// TestImportsNoBackend walks this package's imports within the module,
// transitively, as the build sees them (test files aside), and fails on
// any backend package.
func TestImportsNoBackend(t *testing.T) {
	seen := map[string]string{module + "/rpc": ""} // package -> who imports it
	queue := []string{module + "/rpc"}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		dir := filepath.Join("..", filepath.FromSlash(strings.TrimPrefix(path, module+"/")))
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			rel, ours := strings.CutPrefix(imp, module+"/")
			if !ours {
				continue
			}
			if _, done := seen[imp]; done {
				continue
			}
			seen[imp] = path
			if slices.Contains(backends, strings.Split(rel, "/")[0]) {
				t.Errorf("rpc depends on the backend package %s (imported by %s)", imp, path)
				continue
			}
			queue = append(queue, imp)
		}
	}
	if _, ok := seen[module+"/actors"]; !ok {
		t.Fatalf("the walk did not reach actors: %v", seen)
	}
}
