package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payengine/payengine/cmd/paybench/internal/driver"
	"github.com/payengine/payengine/cmd/paybench/internal/report"
	"github.com/payengine/payengine/cmd/paybench/internal/target"
	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/graphdata"
	"golang.org/x/term"
)

// standardDefaults sets --standard-mpp's defaults of the flags fs was not
// given: mainnet, capacity-weighted destinations, and one payment at a
// time, so that the oracle, asked at each payment's start, counts no
// liquidity already promised to a payment in flight (with several in
// flight "feasible" over-counts: their HTLCs still hold our balance).
func (a *args) standardDefaults(fs *flag.FlagSet) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["graph"] {
		a.graph = graphdata.Mainnet
	}
	if !given["dest"] {
		a.dest = string(workload.DestCapacity)
	}
	if !given["concurrency"] {
		a.concurrency = 1
	}
}

// run is the whole command: parse argv, run the workload (twice with
// --compare), write the reports. The end of ctx stops starting payments;
// what was made is still reported.
func run(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	var a args
	fs := newFlagSet(&a, stderr)
	if err := fs.Parse(argv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags only; see -h)", fs.Args())
	}
	if a.standardMPP {
		a.standardDefaults(fs)
	}
	cfg, err := a.check()
	if err != nil {
		return err
	}
	if err := checkOutputs(cfg); err != nil {
		return err
	}
	if cfg.standard != nil {
		return runStandard(ctx, cfg, argv, stdout, stderr)
	}
	sides := cfg.sides
	if sides == nil {
		sides = []side{{params: cfg.params, maxParts: cfg.maxParts}}
	}
	var reps []*report.Report
	for i, s := range sides {
		rep, err := runSide(ctx, cfg, s, i, argv, stdout, stderr)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
		if rep.Run.Interrupted {
			break // the second side would not be the same workload
		}
	}
	return writeReports(cfg, reps, stdout)
}

// runSide runs the workload once, on a fresh target, with one side's pay
// parameters.
func runSide(ctx context.Context, cfg *config, s side, i int, argv []string, stdout, stderr io.Writer) (rep *report.Report, err error) {
	t, attempts, closeTarget, err := openTarget(ctx, cfg, i)
	if err != nil {
		return nil, err
	}
	applied := s.maxParts == 0
	if mp, ok := t.(interface{ SetMaxParts(int) bool }); ok {
		applied = mp.SetMaxParts(s.maxParts)
	}
	defer func() {
		if cerr := closeTarget(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	nodes, err := t.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list destinations: %w", err)
	}
	amounts := cfg.amounts(t.Info().SourceCapacity)
	gen, err := workload.New(workload.Spec{Seed: cfg.seed, Nodes: nodes, Dest: cfg.destMode, Amounts: amounts, Rate: cfg.rate})
	if err != nil {
		return nil, err
	}
	obs, tick := observer(cfg, s.label, stdout, stderr)
	run, err := driver.Execute(ctx, t, gen, driver.Options{Open: cfg.rate > 0, Concurrency: cfg.concurrency,
		Payments: cfg.payments, Duration: cfg.duration, WarmupPayments: cfg.warmupPayments, WarmupDuration: cfg.warmupDuration,
		Params: s.params, Feasibility: cfg.feasibility, Observer: obs, Tick: tick})
	if err != nil {
		return nil, err
	}
	rep = report.Build(run, t.Info(), attempts)
	rep.Label = s.label
	rep.Setup = setup(cfg, s, amounts, argv)
	rep.Setup.MaxParts, rep.Setup.MaxPartsApplied = s.maxParts, applied && s.maxParts != 0
	if pl, ok := t.(interface {
		PlannerLatency() (target.Latency, bool)
	}); ok {
		if l, ok := pl.PlannerLatency(); ok {
			rep.Parts.Planner = &l
		}
	}
	return rep, nil
}

// openTarget starts the embedded engine in its own data directory, or
// dials the daemon. It returns how the target counts attempts ("" for the
// daemon: it gives the count for too few payments to summarise, see
// target.RPC) and the function that closes it (and removes a temporary
// directory).
func openTarget(ctx context.Context, cfg *config, i int) (target.Target, string, func() error, error) {
	if cfg.rpc != "" {
		socket, err := target.SocketPath(cfg.rpc)
		if err != nil {
			return nil, "", nil, err
		}
		simnet := ""
		if cfg.simnetRPC != "" {
			if simnet, err = target.SimnetSocketPath(cfg.simnetRPC); err != nil {
				return nil, "", nil, err
			}
		}
		t, err := target.DialRPC(ctx, socket, simnet)
		if err != nil {
			return nil, "", nil, err
		}
		return t, "", t.Close, nil
	}
	dir, remove := cfg.dataDir, false
	switch {
	case dir == "":
		tmp, err := os.MkdirTemp("", "paybench-")
		if err != nil {
			return nil, "", nil, fmt.Errorf("temporary data directory: %w", err)
		}
		dir, remove = tmp, true
	case cfg.standard != nil:
		dir = filepath.Join(dir, fmt.Sprintf("%d%c", i/2, 'a'+i%2))
	case len(cfg.sides) > 0:
		dir = filepath.Join(dir, string(rune('a'+i)))
	}
	if _, err := os.Stat(filepath.Join(dir, "ledger")); err == nil {
		return nil, "", nil, fmt.Errorf("%s already holds a ledger: give paybench an empty --datadir, so the figures are this run's", dir)
	}
	t, err := target.StartEmbedded(target.EmbeddedConfig{DataDir: dir, Graph: cfg.graph, Seed: cfg.seed,
		HopLatency: cfg.hopLatency, HopJitter: cfg.hopJitter, MaxHTLCs: cfg.maxHTLCs, NoSync: cfg.noSync})
	if err != nil {
		if remove {
			os.RemoveAll(dir)
		}
		return nil, "", nil, err
	}
	closeAll := func() error {
		err := t.Close()
		if remove {
			err = errors.Join(err, os.RemoveAll(dir))
		}
		return err
	}
	return t, report.AttemptsSource, closeAll, nil
}

// observer picks how progress is shown, and how often: a bar when stdout
// is a terminal, lines on stderr otherwise (so a redirected report stays
// clean).
func observer(cfg *config, label string, stdout, stderr io.Writer) (driver.Observer, time.Duration) {
	mode := cfg.progress
	if mode == "auto" {
		mode = "lines"
		if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	if label != "" {
		label = " [" + label + "]"
	}
	switch mode {
	case "bar":
		return &barObserver{w: stdout, label: strings.TrimSpace(label)}, 200 * time.Millisecond
	case "lines":
		return &lineObserver{w: stderr, label: label}, 2 * time.Second
	}
	return nil, 0
}

// setup records the settings of one side.
func setup(cfg *config, s side, amounts workload.Amounts, argv []string) report.Setup {
	st := report.Setup{Command: strings.Join(append([]string{"paybench"}, argv...), " "), Seed: cfg.seed, Loop: "closed",
		Concurrency: cfg.concurrency, Rate: cfg.rate, Payments: cfg.payments, Warmup: cfg.warmup, Amounts: amounts.String(),
		Dest: string(cfg.destMode), MaxHTLCs: cfg.maxHTLCs}
	if cfg.rate > 0 {
		st.Loop = "open"
	}
	if cfg.duration > 0 {
		st.Duration = cfg.duration.String()
	}
	if cfg.hopLatency > 0 || cfg.hopJitter > 0 {
		st.HopLatency, st.HopJitter = cfg.hopLatency.String(), cfg.hopJitter.String()
	}
	st.SetParams(s.params)
	return st
}

// writeReports writes the text summary to stdout and the files asked for.
func writeReports(cfg *config, reps []*report.Report, stdout io.Writer) error {
	var text func(io.Writer) error
	var doc any
	if len(reps) == 2 {
		c := report.Compare(reps[0], reps[1])
		text, doc = c.WriteText, c
	} else {
		text, doc = reps[0].WriteText, reps[0]
	}
	if err := text(stdout); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return writeFiles(cfg, doc, reps)
}

// writeFiles writes doc as --json and the reports' charts as --html, when
// asked.
func writeFiles(cfg *config, doc any, reps []*report.Report) error {
	if cfg.jsonFile != "" {
		if err := writeFile(cfg.jsonFile, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", " ")
			return enc.Encode(doc)
		}); err != nil {
			return err
		}
	}
	if cfg.htmlFile != "" {
		if err := writeFile(cfg.htmlFile, func(w io.Writer) error {
			return report.WriteHTML(w, cfg.echartsJS, reps...)
		}); err != nil {
			return err
		}
	}
	return nil
}

// checkOutputs makes sure, before any payment, that the reports can be
// written where asked and the ECharts file read, naming every problem: a
// run of many minutes must not end on a folder that does not exist.
func checkOutputs(cfg *config) error {
	var errs []error
	for _, o := range []struct{ flag, path string }{{"--json", cfg.jsonFile}, {"--html", cfg.htmlFile}} {
		if o.path == "" {
			continue
		}
		if err := canCreate(o.path); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", o.flag, o.path, err))
		}
	}
	if cfg.jsonFile != "" && filepath.Clean(cfg.jsonFile) == filepath.Clean(cfg.htmlFile) {
		errs = append(errs, fmt.Errorf("--json and --html both name %s", cfg.jsonFile))
	}
	if src := cfg.echartsJS; cfg.htmlFile != "" && src != "" && !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		f, err := os.Open(src)
		if err != nil {
			errs = append(errs, fmt.Errorf("--echarts-js: %w", err))
		} else {
			f.Close()
		}
	}
	return errors.Join(errs...)
}

// canCreate checks that path can be written as writeFile writes it: an
// existing file is opened for writing, untouched; a new one is created and
// removed again, which proves its folder exists and takes new files.
func canCreate(path string) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return errors.New("is a directory")
	case err == nil:
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return f.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("folder %s does not exist", filepath.Dir(path))
	}
	if err != nil {
		return err
	}
	return errors.Join(f.Close(), os.Remove(path))
}

// writeFile creates path and writes it with fill.
func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
