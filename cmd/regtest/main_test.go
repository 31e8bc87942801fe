package main

import (
	"bytes"
	"testing"
)

// TestRunUsage: bad command lines exit 2 with the usage, down on a
// directory without a network succeeds.
func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"start"}, {"up"}, {"down"}, {"build", "--dir", "x"}, {"up", "--dir", "d", "extra"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (%s)", args, code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"down", "--dir", t.TempDir()}, &out, &errOut); code != 0 {
		t.Errorf("down on an empty directory: %d %s", code, errOut.String())
	}
}
