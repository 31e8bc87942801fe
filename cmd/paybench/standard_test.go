package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payengine/payengine/cmd/paybench/internal/target"
	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/graphdata"
)

// TestStandardMPP runs --standard-mpp small (sub300, two amounts, a few
// payments): one row per amount and side, in order; both sides of an
// amount pay the same workload, each on its own network (its own data
// directory); every success has its ground truth (HTLCs sent, parts
// settled) and the rows' figures are those of the runs' payments; the
// planner's time comes from the engine's metrics.
func TestStandardMPP(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "std.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--standard-mpp", "--graph", "sub300", "--payments", "12", "--concurrency", "4",
		"--buckets", "1000sat,300000sat", "--maxparts", "8", "--seed", "3", "--datadir", filepath.Join(dir, "data"),
		"--json", jsonPath, "--progress", "off"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var got struct {
		Rows []struct {
			AmountMsat      uint64 `json:"amount_msat"`
			Side            string
			Payments        int
			Succeeded       int
			Feasible        int
			HTLCsPerSuccess float64 `json:"htlcs_per_success"`
			PartsPerSuccess float64 `json:"parts_per_success"`
			AttemptsPerSucc float64 `json:"attempts_per_success"`
			PlannerP50Ms    float64 `json:"planner_p50_ms"`
			PlannerP99Ms    float64 `json:"planner_p99_ms"`
		}
		Runs []struct {
			Setup struct {
				Dest     string `json:"dest"`
				MaxParts int    `json:"maxparts"`
			} `json:"setup"`
			Parts struct {
				Known   int             `json:"known"`
				Planner *target.Latency `json:"planner"`
			} `json:"parts"`
			Payments []struct {
				Destination string        `json:"destination"`
				AmountMsat  uint64        `json:"amount_msat"`
				Status      string        `json:"status"`
				Truth       *target.Truth `json:"truth"`
				Attempts    int           `json:"attempts"`
			} `json:"payments"`
		} `json:"runs"`
	}
	readJSON(t, jsonPath, &got)
	if len(got.Rows) != 4 || len(got.Runs) != 4 {
		t.Fatalf("%d rows, %d runs, want 4", len(got.Rows), len(got.Runs))
	}
	for i, row := range got.Rows {
		run := got.Runs[i]
		wantAmt, wantSide := []uint64{1_000_000, 300_000_000}[i/2], []string{"maxparts=1", "maxparts=8"}[i%2]
		if row.AmountMsat != wantAmt || row.Side != wantSide || row.Payments != 12 || run.Setup.MaxParts != []int{1, 8}[i%2] ||
			run.Setup.Dest != string(workload.DestCapacity) {
			t.Fatalf("row %d: %+v, setup %+v", i, row, run.Setup)
		}
		htlcs, parts, attempts, ok := 0, 0, 0, 0
		for j, p := range run.Payments {
			if p.AmountMsat != wantAmt {
				t.Fatalf("row %d payment %d: %d msat", i, j, p.AmountMsat)
			}
			if other := got.Runs[i^1].Payments[j]; other.Destination != p.Destination {
				t.Fatalf("row %d payment %d: to %s, the other side's to %s", i, j, p.Destination, other.Destination)
			}
			if p.Status != "complete" {
				continue
			}
			if p.Truth == nil || p.Truth.Parts < 1 || p.Truth.HTLCs < p.Truth.Parts {
				t.Fatalf("row %d payment %d: truth %+v", i, j, p.Truth)
			}
			ok++
			htlcs += p.Truth.HTLCs
			parts += p.Truth.Parts
			attempts += p.Attempts
		}
		if ok != row.Succeeded || ok == 0 || run.Parts.Known != ok ||
			row.HTLCsPerSuccess != float64(htlcs)/float64(ok) || row.PartsPerSuccess != float64(parts)/float64(ok) ||
			row.AttemptsPerSucc != float64(attempts)/float64(ok) {
			t.Fatalf("row %d: %+v, from the payments %d successes, %d HTLCs, %d parts", i, row, ok, htlcs, parts)
		}
		if pl := run.Parts.Planner; pl == nil || pl.Count == 0 || pl.P50 <= 0 || pl.P99 < pl.P50 ||
			row.PlannerP50Ms != pl.P50 || row.PlannerP99Ms != pl.P99 {
			t.Fatalf("row %d: planner %+v", i, pl)
		}
	}
	for _, sub := range []string{"0a", "0b", "1a", "1b"} {
		if _, err := os.Stat(filepath.Join(dir, "data", sub, "ledger")); err != nil {
			t.Errorf("run %s: %v", sub, err)
		}
	}
	out := stdout.String()
	for _, want := range []string{"success/feasible", "HTLCs/success", "parts/success", "planner p99 ms", "maxparts=8", "300000 sat",
		"NOTE: 4 payments in flight"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
}

// TestStandardMPPFlags: --standard-mpp's defaults (mainnet, capacity,
// 400 payments, the five amounts, maxparts 1 against 16) and the flags
// it refuses; --maxparts and the compare key maxparts.
func TestStandardMPPFlags(t *testing.T) {
	parse := func(argv ...string) (*config, error) {
		var a args
		fs := newFlagSet(&a, &bytes.Buffer{})
		if err := fs.Parse(argv); err != nil {
			return nil, err
		}
		if a.standardMPP {
			a.standardDefaults(fs)
		}
		return a.check()
	}
	c, err := parse("--standard-mpp")
	if err != nil {
		t.Fatal(err)
	}
	if c.payments != standardPayments || len(c.standard) != 5 || c.standard[4] != 5_000_000_000 ||
		len(c.sides) != 2 || c.sides[0].maxParts != 1 || c.sides[1].maxParts != standardMaxParts {
		t.Errorf("defaults: payments %d, amounts %v, sides %+v", c.payments, c.standard, c.sides)
	}
	// One payment at a time, so the oracle's answer at a start is what
	// that payment could have had; the graph and destinations of issue 13.
	if c.concurrency != 1 || c.graph != graphdata.Mainnet || c.destMode != workload.DestCapacity {
		t.Errorf("defaults: concurrency %d, graph %s, dest %s", c.concurrency, c.graph, c.destMode)
	}
	if c, err := parse("--standard-mpp", "--concurrency", "8", "--graph", "sub300"); err != nil || c.concurrency != 8 || c.graph != "sub300" {
		t.Errorf("given flags: %v, %+v", err, c)
	}
	if _, err := parse("--standard-mpp", "--buckets", "0"); err == nil || !strings.Contains(err.Error(), "--buckets") {
		t.Errorf("--buckets 0: %v", err)
	}
	_, err = parse("--standard-mpp", "--amount", "5000", "--compare", "maxparts=1,maxparts=2", "--rate", "5", "--maxparts", "1",
		"--buckets", "1000sat,lots")
	for _, want := range []string{"--amount", "--compare", "--rate", "--maxparts 1", "lots"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: not reported in %v", want, err)
		}
	}
	for _, argv := range [][]string{{"--rpc", "/tmp/x", "--standard-mpp"}, {"--rpc", "/tmp/x", "--maxparts", "4"}, {"--maxparts", "-1"}} {
		if _, err := parse(argv...); err == nil {
			t.Errorf("%v: no error", argv)
		}
	}
	c, err = parse("--maxparts", "4", "--compare", "maxparts=1,riskfactor=3")
	if err != nil {
		t.Fatal(err)
	}
	if c.sides[0].maxParts != 1 || c.sides[1].maxParts != 4 || c.sides[1].params.RiskFactor != 3 {
		t.Errorf("--compare with maxparts: %+v", c.sides)
	}
}
