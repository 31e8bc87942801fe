// Package fuzzcorpus keeps generated seed corpora of Go fuzz targets in
// step with the code that makes them: a test compares each seed file with
// what its generator makes now, or writes it again when asked.
package fuzzcorpus

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Check compares testdata/fuzz/<target>/<name> with each seed (the target's
// arguments, in order), or writes them when rewrite is set. Files the
// fuzzer added beside them are left alone.
func Check(t testing.TB, target string, seeds map[string][]any, rewrite bool) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if rewrite {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want, err := File(seeds[name]...)
		if err != nil {
			t.Fatalf("%s/%s: %v", target, name, err)
		}
		path := filepath.Join(dir, name)
		if rewrite {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != want {
			t.Errorf("%s is stale or missing (%v): run this package's TestFuzzCorpus with -rewrite", path, err)
		}
	}
}

// File is Go's corpus encoding ("go test fuzz v1") of one input.
func File(vals ...any) (string, error) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case bool:
			fmt.Fprintf(&b, "bool(%v)\n", v)
		default:
			return "", fmt.Errorf("corpus value of type %T", v)
		}
	}
	return b.String(), nil
}
