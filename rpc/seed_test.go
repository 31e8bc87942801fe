package rpc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Issue 11, item 3: getroute fuzzes fees with a fresh random seed per call
// (v0.7), unless a seed is given (v0.6's parameter), which makes the call
// reproducible. The test finds a destination whose route the fuzz
// changes: over 20 fixed seeds, its two commonest routes each come up at
// least 6 times, so 40 unseeded calls all giving one route would happen
// with a chance below 0.7^40 (about 1e-6) if the seed were random, and
// always if it were not.
func TestGetrouteSeed(t *testing.T) {
	r := sub300Rig(t)
	const amt = 5_000_000
	key := func(res json.RawMessage) string {
		var v struct {
			Route []hopJSON `json:"route"`
		}
		if err := json.Unmarshal(res, &v); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, h := range v.Route {
			fmt.Fprintf(&b, "%s/%d ", h.Channel, h.Direction)
		}
		return b.String()
	}
	get := func(dest string, seed any) (string, *Error) {
		p := map[string]any{"id": dest, "amount_msat": amt, "riskfactor": 1, "fuzzpercent": 50}
		if seed != nil {
			p["seed"] = seed
		}
		res, e := r.call(t, "getroute", p)
		if e != nil {
			return "", e
		}
		return key(res), nil
	}
	var dest string
	for _, d := range r.payable(t, 300, amt, 0) {
		counts := map[string]int{}
		for i := 0; i < 20; i++ {
			k, e := get(d, fmt.Sprint(i))
			if e != nil {
				t.Fatalf("seed %d: %v", i, e)
			}
			counts[k]++
		}
		split := 0
		for _, n := range counts {
			if n >= 6 {
				split++
			}
		}
		if split >= 2 {
			dest = d
			break
		}
	}
	if dest == "" {
		t.Fatal("no destination whose route the fuzz changes")
	}
	// The same seed, the same route, every time; "" is the zero seed.
	for _, seed := range []any{"abc", "", 7, "0123456789abcdef"} {
		first, _ := get(dest, seed)
		for i := 0; i < 5; i++ {
			if k, _ := get(dest, seed); k != first {
				t.Fatalf("seed %v: route %s, then %s", seed, first, k)
			}
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		k, e := get(dest, nil)
		if e != nil {
			t.Fatal(e)
		}
		seen[k] = true
	}
	if len(seen) < 2 {
		t.Fatal("40 getroute calls without a seed all fuzzed alike: the seed is not drawn per call")
	}
	// Bad seeds: too long, or not a string.
	for _, bad := range []any{"0123456789abcdefg", []int{1}, map[string]int{}} {
		if e := r.fails(t, "getroute", map[string]any{"id": dest, "amount_msat": amt, "riskfactor": 1, "seed": bad}, CodeInvalidParams); !strings.HasPrefix(e.Message, "'seed' should be a string of at most 16 bytes, not ") {
			t.Fatalf("seed %v: %q", bad, e.Message)
		}
	}
}
