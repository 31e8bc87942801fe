package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payengine/payengine/actors"
	"github.com/payengine/payengine/cmd/paybench/internal/driver"
	"github.com/payengine/payengine/cmd/paybench/internal/report"
	"github.com/payengine/payengine/cmd/paybench/internal/target"
	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/payment"
	"github.com/payengine/payengine/persistence"
)

// jsonReport is the part of --json's document the tests read back, as a
// program consuming it would.
type jsonReport struct {
	Run struct {
		Payments, Warmup, Measured int
		WindowS                    float64 `json:"window_s"`
	} `json:"run"`
	Throughput struct {
		PaymentsPerS float64 `json:"payments_per_s"`
	} `json:"throughput"`
	Success struct {
		Payments, Succeeded, Failed int
		AmountMsat                  uint64 `json:"amount_msat"`
		SucceededMsat               uint64 `json:"succeeded_msat"`
	} `json:"success"`
	Buckets []struct {
		Payments, Succeeded int
		Feasible            *int `json:"feasible"`
	} `json:"buckets"`
	Fees struct {
		PaidMsat uint64 `json:"paid_msat"`
	} `json:"fees"`
	Feasibility struct {
		Available bool
		Feasible  int
	} `json:"feasibility"`
	Attempts struct {
		Known     int
		Histogram []struct{ Attempts, Payments int }
	} `json:"attempts"`
	Payments []struct {
		Seq         int
		Warmup      bool
		Hash        string `json:"payment_hash"`
		Destination string
		AmountMsat  uint64 `json:"amount_msat"`
		Status      string
		Code        int
		FeeMsat     uint64  `json:"fee_msat"`
		Attempts    int     `json:"attempts"`
		MaxFlowMsat *uint64 `json:"max_flow_msat"`
	} `json:"payments"`
}

func mustNode(t *testing.T, s string) graph.NodeID {
	t.Helper()
	id, err := graph.ParseNodeID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestReportAgreesWithLedgerAndTruth runs a short workload on the real
// engine, simnet and a Pebble ledger, writes the JSON report as the command
// does, reads it back and checks every payment and count against the
// engine's listpays and against simnet's ground truth (what each
// destination settled).
func TestReportAgreesWithLedgerAndTruth(t *testing.T) {
	tg, err := target.StartEmbedded(target.EmbeddedConfig{DataDir: t.TempDir(), Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	nodes, err := tg.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	gen, err := workload.New(workload.Spec{Seed: 3, Nodes: nodes, Dest: workload.DestUniform,
		Amounts: workload.LogNormal{Mean: workload.DefaultMean, Sigma: 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	const measured, warm = 60, 10
	run, err := driver.Execute(context.Background(), tg, gen, driver.Options{Concurrency: 8, Payments: measured,
		WarmupPayments: warm, Params: payment.DefaultPayParams(), Feasibility: true})
	if err != nil {
		t.Fatal(err)
	}
	rep := report.Build(run, tg.Info(), report.AttemptsSource)
	path := filepath.Join(t.TempDir(), "run.json")
	if err := writeReports(&config{args: args{jsonFile: path}}, []*report.Report{rep}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var got jsonReport
	readJSON(t, path, &got)

	pays, err := tg.Engine().ListPays("", nil)
	if err != nil {
		t.Fatal(err)
	}
	byHash := map[string]actors.Pay{}
	for _, p := range pays {
		byHash[hex.EncodeToString(p.Hash[:])] = p
	}
	if got.Run.Payments != measured+warm || got.Run.Warmup != warm || got.Run.Measured != measured || len(got.Payments) != measured+warm {
		t.Fatalf("run: %+v with %d payments listed, want %d measured and %d warm-up", got.Run, len(got.Payments), measured, warm)
	}
	var ok, failed, listed int
	var amount, delivered, fees uint64
	for _, p := range got.Payments {
		var hash [32]byte
		hex.Decode(hash[:], []byte(p.Hash))
		truth := tg.Net().Delivered(hash)
		lp, found := byHash[p.Hash]
		switch {
		case found:
			listed++
		case p.Status == "failed" && (p.Code == payment.CodeRouteNotFound || p.Code == payment.CodeRouteTooExpensive) &&
			p.Attempts == 0 && truth.Settlements == 0:
			// pay found no route it could try: like Core Lightning, it
			// wrote nothing.
			lp = actors.Pay{Status: payment.StatusFailed, Amount: graph.MilliSat(p.AmountMsat), Destination: mustNode(t, p.Destination)}
		default:
			t.Fatalf("payment %d (%s, %s, code %d) is not in listpays", p.Seq, p.Hash, p.Status, p.Code)
		}
		if string(lp.Status) != p.Status || uint64(lp.Amount) != p.AmountMsat || lp.Destination.String() != p.Destination {
			t.Errorf("payment %d: report %s %d msat to %s, listpays %s %s to %s", p.Seq, p.Status, p.AmountMsat, p.Destination,
				lp.Status, lp.Amount, lp.Destination)
		}
		if p.Status == "complete" {
			if truth.Settlements != 1 || uint64(truth.Amount) != p.AmountMsat {
				t.Errorf("payment %d: complete for %d msat, the destination settled %d HTLCs for %s", p.Seq, p.AmountMsat, truth.Settlements, truth.Amount)
			}
			if fee := uint64(lp.AmountSent - lp.Amount); fee != p.FeeMsat {
				t.Errorf("payment %d: fee %d msat, listpays says %d", p.Seq, p.FeeMsat, fee)
			}
		} else if truth.Settlements != 0 {
			t.Errorf("payment %d: failed, yet the destination settled %s", p.Seq, truth.Amount)
		}
		// Attempts come from the ledger: one row per attempt, the last
		// settled when the payment completed.
		atts, err := tg.Ledger().Attempts(hash, 0)
		if err != nil && !errors.Is(err, persistence.ErrNotFound) {
			t.Fatal(err)
		}
		if p.Attempts != len(atts) || (p.Status == "complete" && (len(atts) == 0 || atts[len(atts)-1].Status != "settled")) {
			t.Errorf("payment %d (%s): %d attempts, the ledger holds %d", p.Seq, p.Status, p.Attempts, len(atts))
		}
		if p.MaxFlowMsat == nil {
			t.Errorf("payment %d: no feasibility", p.Seq)
		}
		if p.Warmup != (p.Seq < warm) {
			t.Errorf("payment %d: warm-up %v", p.Seq, p.Warmup)
		}
		if p.Warmup {
			continue
		}
		amount += p.AmountMsat
		if p.Status == "complete" {
			ok++
			delivered += p.AmountMsat
			fees += p.FeeMsat
		} else {
			failed++
		}
	}
	if listed != len(pays) {
		t.Errorf("listpays has %d payments, the report lists %d of them", len(pays), listed)
	}
	s := got.Success
	if s.Payments != measured || s.Succeeded != ok || s.Failed != failed || s.AmountMsat != amount || s.SucceededMsat != delivered {
		t.Errorf("success %+v; the payments add up to %d ok, %d failed, %d msat asked, %d delivered", s, ok, failed, amount, delivered)
	}
	if got.Fees.PaidMsat != fees {
		t.Errorf("fees %d msat, the payments add up to %d", got.Fees.PaidMsat, fees)
	}
	bp, bs := 0, 0
	for _, b := range got.Buckets {
		bp += b.Payments
		bs += b.Succeeded
		if b.Feasible == nil {
			t.Error("a bucket without feasibility")
		}
	}
	if bp != measured || bs != ok {
		t.Errorf("buckets hold %d payments, %d succeeded; want %d, %d", bp, bs, measured, ok)
	}
	if want := float64(measured) / got.Run.WindowS; got.Throughput.PaymentsPerS < want*0.999 || got.Throughput.PaymentsPerS > want*1.001 {
		t.Errorf("throughput %.2f/s, %d payments over %.3f s make %.2f", got.Throughput.PaymentsPerS, measured, got.Run.WindowS, want)
	}
	if !got.Feasibility.Available || got.Feasibility.Feasible < ok {
		t.Errorf("feasibility %+v with %d successes", got.Feasibility, ok)
	}
	if got.Attempts.Known != measured {
		t.Errorf("attempts known for %d of %d", got.Attempts.Known, measured)
	}
	if ok == 0 || failed == 0 {
		t.Logf("note: %d succeeded, %d failed: the run did not cover both outcomes", ok, failed)
	}
}

// TestCommandWritesReports runs the command as a user would (flags in,
// files out) and checks the JSON against the ledger it left in --datadir,
// and that the HTML holds every chart, with ECharts inlined.
func TestCommandWritesReports(t *testing.T) {
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.html")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--payments", "40", "--concurrency", "8", "--seed", "5", "--dest", "capacity",
		"--datadir", filepath.Join(dir, "data"), "--json", jsonPath, "--html", htmlPath}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"throughput", "latency", "success", "feasible", "<1k sat", ">=1M sat"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, stdout.String())
		}
	}
	var got jsonReport
	readJSON(t, jsonPath, &got)
	l, err := persistence.Open(filepath.Join(dir, "data", "ledger"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rows, err := l.ListByCreated(persistence.Cursor{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	complete, unrouted := 0, 0
	for _, r := range rows {
		if r.Status == "complete" {
			complete++
		}
	}
	for _, p := range got.Payments {
		if p.Code == payment.CodeRouteNotFound && p.Attempts == 0 {
			unrouted++ // never written: no route to try
		}
	}
	if len(rows) != 40-unrouted || got.Success.Payments != 40 || got.Success.Succeeded != complete {
		t.Errorf("ledger: %d payments, %d complete; report: %d payments (%d never routed), %d succeeded", len(rows), complete,
			got.Success.Payments, unrouted, got.Success.Succeeded)
	}
	page, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	checkHTML(t, string(page), true)
	// A second run into the same data directory is refused: its ledger
	// would mix two runs' payments.
	err = run(context.Background(), []string{"--payments", "1", "--datadir", filepath.Join(dir, "data")}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "already holds a ledger") {
		t.Errorf("second run into the same --datadir: %v", err)
	}
}

// Where a report cannot be written (a folder that does not exist, a
// directory, an ECharts file that is not there) the command fails before
// any payment, with every such problem named, and leaves no file behind.
func TestOutputsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	jsonPath := filepath.Join(dir, "run.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--payments", "1", "--datadir", data, "--json", jsonPath,
		"--html", filepath.Join(dir, "nosuch", "run.html")}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--html") || !strings.Contains(err.Error(), filepath.Join(dir, "nosuch")+" does not exist") {
		t.Errorf("--html into a missing folder: %v", err)
	}
	err = run(context.Background(), []string{"--payments", "1", "--datadir", data, "--json", dir,
		"--html", filepath.Join(dir, "run.html"), "--echarts-js", filepath.Join(dir, "echarts.js")}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--json "+dir+": is a directory") || !strings.Contains(err.Error(), "--echarts-js") {
		t.Errorf("--json a directory, --echarts-js a missing file: %v", err)
	}
	for _, p := range []string{data, jsonPath, filepath.Join(dir, "run.html")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was made: %v", p, err)
		}
	}
	if stdout.Len() > 0 {
		t.Errorf("a summary was printed:\n%s", stdout.String())
	}
	// An existing report is overwritten, as before.
	if err := os.WriteFile(jsonPath, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"--payments", "1", "--datadir", data, "--json", jsonPath, "--progress", "off"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got jsonReport
	readJSON(t, jsonPath, &got)
	if got.Success.Payments != 1 {
		t.Errorf("the report: %+v", got.Success)
	}
}

// checkHTML checks the page holds every chart (element id and title) and,
// when inline, ECharts itself and no reference to the CDN.
func checkHTML(t *testing.T, page string, inline bool) {
	t.Helper()
	for _, c := range report.Charts {
		if !strings.Contains(page, `id="`+c.ID+`"`) || !strings.Contains(page, c.Title) {
			t.Errorf("the page lacks chart %s (%q)", c.ID, c.Title)
		}
		if !strings.Contains(page, "echarts.init(document.getElementById('"+c.ID+"')") {
			t.Errorf("the page never draws chart %s", c.ID)
		}
	}
	hasLib := strings.Contains(page, `version="5.4.3"`) // inside ECharts' code
	if inline && (!hasLib || strings.Contains(page, "<script src=")) {
		t.Errorf("ECharts is not inlined (page of %d bytes)", len(page))
	}
	if !strings.Contains(page, `<pre id="summary"`) {
		t.Error("the page lacks the summary")
	}
}

// TestCompare runs the same workload under two riskfactors and checks both
// reports and their ratios are written, each run on its own fresh network
// and ledger (so both make the same payments).
func TestCompare(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "cmp.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--payments", "20", "--concurrency", "4", "--amount", "2000,20000",
		"--compare", "riskfactor=1,riskfactor=50+maxfeepercent=2", "--datadir", filepath.Join(dir, "data"), "--json", jsonPath,
		"--html", filepath.Join(dir, "cmp.html")}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var got struct {
		A, B   jsonReport
		Ratios []struct {
			Figure string
			A, B   float64
			Ratio  float64
		}
	}
	readJSON(t, jsonPath, &got)
	if len(got.A.Payments) != 20 || len(got.B.Payments) != 20 {
		t.Fatalf("%d and %d payments", len(got.A.Payments), len(got.B.Payments))
	}
	for i := range got.A.Payments {
		a, b := got.A.Payments[i], got.B.Payments[i]
		if a.Destination != b.Destination || a.AmountMsat != b.AmountMsat {
			t.Errorf("payment %d: A pays %d msat to %s, B %d msat to %s", i, a.AmountMsat, a.Destination, b.AmountMsat, b.Destination)
		}
	}
	for _, r := range got.Ratios {
		if r.A != 0 && (r.Ratio < r.B/r.A*0.999 || r.Ratio > r.B/r.A*1.001) {
			t.Errorf("%s: ratio %g of %g and %g", r.Figure, r.Ratio, r.A, r.B)
		}
	}
	for _, want := range []string{"riskfactor=1", "riskfactor=50+maxfeepercent=2", "B/A", "payments/s"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the comparison lacks %q", want)
		}
	}
	for _, sub := range []string{"a", "b"} {
		if _, err := os.Stat(filepath.Join(dir, "data", sub, "ledger")); err != nil {
			t.Errorf("side %s: %v", sub, err)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "cmp.html"))
	if err != nil {
		t.Fatal(err)
	}
	checkHTML(t, string(page), true)
	for _, series := range []string{"riskfactor=1: payments", "riskfactor=50+maxfeepercent=2: payments"} {
		if !strings.Contains(string(page), series) {
			t.Errorf("the page lacks the series %q", series)
		}
	}
}

// TestFlags: the defaults make the short sub300 run; bad values are all
// reported at once; --compare parses its sides.
func TestFlags(t *testing.T) {
	parse := func(argv ...string) (*config, error) {
		var a args
		fs := newFlagSet(&a, &bytes.Buffer{})
		if err := fs.Parse(argv); err != nil {
			return nil, err
		}
		return a.check()
	}
	c, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	am := c.amounts(80_000_000)
	if c.payments != defaultPayments || c.graph != "sub300" || c.rate != 0 || c.destMode != workload.DestUniform ||
		am.(workload.LogNormal).Mean != workload.DefaultMean || c.params != payment.DefaultPayParams() {
		t.Errorf("defaults: %+v, amounts %v", c, am)
	}
	if c, err := parse("--duration", "10s"); err != nil || c.payments != 0 {
		t.Errorf("--duration alone: %v, payments %d", err, c.payments)
	}
	if c, err := parse("--warmup", "100"); err != nil || c.warmupPayments != 100 {
		t.Errorf("--warmup 100: %v", err)
	}
	if c, err := parse("--warmup", "2s"); err != nil || c.warmupDuration.Seconds() != 2 {
		t.Errorf("--warmup 2s: %v", err)
	}
	_, err = parse("--payments", "-1", "--amount", "0", "--dest", "near", "--warmup", "soon", "--concurrency", "0",
		"--compare", "riskfactor=1", "--progress", "fancy")
	for _, want := range []string{"--payments", "--amount", "--dest", "--warmup", "--concurrency", "--compare", "--progress"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad %s: not reported in %v", want, err)
		}
	}
	c, err = parse("--riskfactor", "2", "--compare", "riskfactor=1+retry_for=30,maxfeepercent=5 exemptfee=0")
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.sides[0], c.sides[1]
	if a.params.RiskFactor != 1 || a.params.RetryFor.Seconds() != 30 || b.params.RiskFactor != 2 || b.params.MaxFeePercent != 5 ||
		b.params.ExemptFee != graph.MilliSat(0) || a.label != "riskfactor=1+retry_for=30" {
		t.Errorf("--compare: %+v", c.sides)
	}
	for _, bad := range []string{"riskfactor=1,riskfactor=1", "fuzz=5,riskfactor=1", "riskfactor=x,riskfactor=1", "a,b,c"} {
		if _, err := parse("--compare", bad); err == nil {
			t.Errorf("--compare %s: no error", bad)
		}
	}
}
