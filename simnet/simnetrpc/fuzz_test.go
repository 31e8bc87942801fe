package simnetrpc

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/internal/fuzzcorpus"
	"github.com/payengine/payengine/rpc"
)

// FuzzParams runs its seed corpus (testdata/fuzz) in every go test. To
// fuzz:
//
//	go test ./simnet/simnetrpc -run '^$' -fuzz '^FuzzParams$' -fuzztime 10m
//
// The generated seeds are rewritten with
//
//	go test ./simnet/simnetrpc -run TestFuzzCorpus -rewrite

var rewrite = flag.Bool("rewrite", false, "rewrite the generated seed corpora in testdata/fuzz")

// argTypes is the type each simnet-* param's parser binds, which the
// handlers read with rpc.Arg: a parser that binds another type would make
// a handler see the param as absent.
var argTypes = map[string]func(*rpc.Args, string) bool{
	"node":         has[graph.NodeID],
	"amount_msat":  has[*graph.MilliSat],
	"label":        has[string],
	"description":  has[string],
	"expiry":       has[uint64],
	"offline":      has[bool],
	"node_failure": has[bool],
	"fail_rate":    has[float64],
	"delay":        has[uint64],
	"garbage":      has[bool],
	"payment_hash": has[[32]byte],
}

func has[T any](a *rpc.Args, name string) bool { _, ok := rpc.Arg[T](a, name); return ok }

// checkArgs is a handler that answers -1 (which FuzzParams fails on) if a
// given param is not of its type, or a required one is missing.
func checkArgs(params []rpc.Param) func(context.Context, *rpc.Args) (any, error) {
	return func(_ context.Context, a *rpc.Args) (any, error) {
		for _, p := range params {
			typed, known := argTypes[p.Name]
			switch {
			case !known:
				return nil, fmt.Errorf("check: no type for %s", p.Name)
			case a.Has(p.Name) && !typed(a, p.Name):
				return nil, fmt.Errorf("check: %s is not of its type", p.Name)
			case p.Required && !a.Has(p.Name):
				return nil, fmt.Errorf("check: required %s missing", p.Name)
			}
		}
		return true, nil
	}
}

// FuzzParams sends one simnet-* command (which, modulo their number) with
// arbitrary params through a real server and client: the answer is a
// result, or -32602; never a panic, and never a bound arg the handler
// cannot read (the handlers here check every arg's type). Package rpc's
// FuzzRequest fuzzes the framing and envelope; this, the simnet-* param
// tables on rpc's parsers.
func FuzzParams(f *testing.F) {
	cmds := Commands(nil)
	for i := range cmds {
		cmds[i].Handler = checkArgs(cmds[i].Params)
	}
	s, err := rpc.NewBare(rpc.Options{MaxInFlight: 1}, cmds...)
	if err != nil {
		f.Fatal(err)
	}
	c, done := serve(f, s)
	f.Cleanup(func() {
		c.Close()
		if err := s.Shutdown(context.Background()); err != nil {
			f.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, rpc.ErrServerClosed) {
			f.Errorf("serve returned %v", err)
		}
	})
	f.Fuzz(func(t *testing.T, which byte, params []byte) {
		if !json.Valid(params) {
			return // the client sends only JSON
		}
		m := cmds[int(which)%len(cmds)].Name
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var ok bool
		err := c.Call(ctx, m, json.RawMessage(params), &ok)
		var re *rpc.Error
		switch {
		case err == nil:
			if !ok {
				t.Fatalf("%s %s: answered without the handler", m, params)
			}
		case !errors.As(err, &re):
			t.Fatalf("%s %s: %v", m, params, err)
		case re.Code != rpc.CodeInvalidParams || re.Message == "":
			t.Fatalf("%s %s: error %d %q", m, params, re.Code, re.Message)
		}
	})
}

// paramSeeds are FuzzParams' generated seeds: each command by name and by
// position, with aliases, and values each parser refuses.
func paramSeeds() map[string][]any {
	id := "03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f"
	hash := strings.Repeat("ab", 32)
	// Commands' order: simnet-invoice, simnet-listnodes, simnet-fault,
	// simnet-truth.
	seed := func(which byte, params string) []any { return []any{which, []byte(params)} }
	return map[string][]any{
		"simnet-invoice":            seed(0, `{"node":"`+id+`","amount_msat":"any","label":"l","description":"d","expiry":3600}`),
		"simnet-invoice-positional": seed(0, `["`+strings.ToUpper(id)+`","10sat",7,null,"60"]`),
		"simnet-invoice-alias":      seed(0, `{"node":"`+id+`","msatoshi":"0.001btc"}`),
		"simnet-invoice-zero":       seed(0, `{"node":"`+id+`","amount_msat":0}`),
		"simnet-invoice-missing":    seed(0, `{"amount_msat":1}`),
		"simnet-listnodes":          seed(1, `null`),
		"simnet-listnodes-extra":    seed(1, `[1]`),
		"simnet-fault":              seed(2, `{"node":"`+id+`","offline":"true","node_failure":false,"fail_rate":"0.5","delay":5,"garbage":true}`),
		"simnet-fault-positional":   seed(2, `["`+id+`",null,"maybe",-1,4294967296]`),
		"simnet-truth":              seed(3, `["`+hash+`"]`),
		"simnet-truth-short":        seed(3, `{"payment_hash":"`+hash[:63]+`"}`),
	}
}

// TestFuzzCorpus: the generated seeds on disk are what paramSeeds makes.
func TestFuzzCorpus(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzParams", paramSeeds(), *rewrite)
}
