package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/payengine/payengine/cmd/paybench/internal/workload"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/graphdata"
	"github.com/payengine/payengine/payment"
)

// defaultPayments is the run's size when neither --payments nor
// --duration is given: a few seconds on sub300.
const defaultPayments = 500

// args holds every flag, as given.
type args struct {
	graph       string
	seed        uint64
	payments    int
	duration    time.Duration
	warmup      string
	concurrency int
	rate        float64
	amount      string
	amountMean  string
	amountSigma float64
	dest        string

	riskFactor    float64
	maxFeePercent float64
	exemptFee     uint64
	retryFor      time.Duration
	maxDelay      uint
	maxParts      int
	compare       string
	standardMPP   bool
	buckets       string

	jsonFile    string
	htmlFile    string
	echartsJS   string
	dataDir     string
	rpc         string
	simnetRPC   string
	hopLatency  time.Duration
	hopJitter   time.Duration
	maxHTLCs    int
	noSync      bool
	feasibility bool
	progress    string
}

// config is the checked form of args.
type config struct {
	args
	warmupPayments int
	warmupDuration time.Duration
	amounts        func(source uint64) workload.Amounts // needs our capacity
	destMode       workload.DestMode
	params         payment.PayParams
	// sides are the two settings of --compare (nil otherwise), each a
	// label and its pay parameters.
	sides []side
	// standard is --standard-mpp's amounts, one fresh run of each side
	// per amount (nil otherwise).
	standard []graph.MilliSat
}

// side is one setting of --compare.
type side struct {
	label    string
	params   payment.PayParams
	maxParts int // pay's maxparts; 0: pay's default
}

// Defaults of --standard-mpp.
const (
	standardPayments = 400
	standardMaxParts = 16 // the multi-part side, as LND's default max_parts
	standardBuckets  = "1000sat,10000sat,100000sat,1000000sat,5000000sat"
)

// newFlagSet registers every flag on a new set that writes its usage to w.
func newFlagSet(a *args, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("paybench", flag.ContinueOnError)
	fs.SetOutput(w)
	def := payment.DefaultPayParams()
	fs.StringVar(&a.graph, "graph", graphdata.Sub300, "network graph: sub300 or mainnet (bundled), or a describegraph file (embedded mode)")
	fs.Uint64Var(&a.seed, "seed", 1, "seed of the simulated network (with --rpc, payd's --seed is) and of the workload (destinations, amounts, arrivals)")
	fs.IntVar(&a.payments, "payments", 0, fmt.Sprintf("measured payments to make (default %d when --duration is not set either)", defaultPayments))
	fs.DurationVar(&a.duration, "duration", 0, "start measured payments for this long (e.g. 30s); with --payments, whichever ends first")
	fs.StringVar(&a.warmup, "warmup", "", "warm-up before measuring: a number of payments (100) or a duration (5s); made, not measured")
	fs.IntVar(&a.concurrency, "concurrency", 32, "closed loop: payments in flight; open loop (--rate): the cap on them")
	fs.Float64Var(&a.rate, "rate", 0, "open loop: mean payments per second, exponential gaps (0: closed loop)")
	fs.StringVar(&a.amount, "amount", "", "fixed amount (5000, 5000sat, 1500msat) or a comma-separated list to draw from uniformly")
	fs.StringVar(&a.amountMean, "amount-mean", "", "lognormal amounts of this mean (default, with SimLN's mean: 3800sat)")
	fs.Float64Var(&a.amountSigma, "amount-sigma", 0, "lognormal sigma (0: SimLN's spread, from our and the destination's capacity)")
	fs.StringVar(&a.dest, "dest", string(workload.DestUniform), "destinations: uniform over nodes, or capacity (weighted by channel capacity, as SimLN)")
	fs.Float64Var(&a.riskFactor, "riskfactor", def.RiskFactor, "pay's riskfactor")
	fs.Float64Var(&a.maxFeePercent, "maxfeepercent", def.MaxFeePercent, "pay's maxfeepercent")
	fs.Uint64Var(&a.exemptFee, "exemptfee", uint64(def.ExemptFee), "pay's exemptfee in msat")
	fs.DurationVar(&a.retryFor, "retry-for", def.RetryFor, "pay's retry_for")
	fs.UintVar(&a.maxDelay, "maxdelay", uint(def.MaxDelay), "pay's maxdelay in blocks")
	fs.IntVar(&a.maxParts, "maxparts", 0, "pay's maxparts: the most parts a payment is split into (0: pay's default)")
	fs.StringVar(&a.compare, "compare", "", "run the workload twice, with two pay settings A,B, each key=value[+key=value]\n"+
		"(keys riskfactor, maxfeepercent, exemptfee, retry_for, maxdelay, maxparts), e.g. riskfactor=1,riskfactor=10")
	fs.BoolVar(&a.standardMPP, "standard-mpp", false, fmt.Sprintf("the standard multi-part run: for each amount of --buckets, a fresh network per side, maxparts=1\n"+
		"against maxparts=--maxparts (default %d), %d payments (--payments), --graph mainnet, --dest capacity and --concurrency 1 unless given", standardMaxParts, standardPayments))
	fs.StringVar(&a.buckets, "buckets", standardBuckets, "--standard-mpp's fixed amounts, one run per amount")
	fs.StringVar(&a.jsonFile, "json", "", "write every figure and every payment as JSON to this file")
	fs.StringVar(&a.htmlFile, "html", "", "write a self-contained HTML page of charts to this file")
	fs.StringVar(&a.echartsJS, "echarts-js", "", "ECharts for --html: empty for the embedded copy (offline), a file to inline, or an http(s) URL to load")
	fs.StringVar(&a.dataDir, "datadir", "", "directory for the ledger (must hold none yet); default a temporary directory, removed after the run")
	fs.StringVar(&a.rpc, "rpc", "", "drive a running payd through its data directory (its lightning-rpc socket) or socket instead of an embedded engine")
	fs.StringVar(&a.simnetRPC, "simnet-rpc", "", "with --rpc: simnetd's control socket (or its --dir) for the network's commands (destinations, invoices),\n"+
		"when --rpc is a payd over simnetd or a fleet front-end (payd --role frontend) over members on simnetd")
	fs.DurationVar(&a.hopLatency, "hop-latency", 0, "simnet: delay each hop adds")
	fs.DurationVar(&a.hopJitter, "hop-jitter", 0, "simnet: extra uniform delay per hop, up to this")
	fs.IntVar(&a.maxHTLCs, "max-htlcs", 0, "simnet and engine: HTLC slots per channel direction (0: 483)")
	fs.BoolVar(&a.noSync, "nosync", false, "do not fsync the ledger (measures everything but the disk)")
	fs.BoolVar(&a.feasibility, "feasibility", true, "ask simnet, before each payment, whether it was feasible at all (costs CPU)")
	fs.StringVar(&a.progress, "progress", "auto", "auto (a bar when stdout is a terminal, else lines on stderr), bar, lines or off")
	return fs
}

// check turns args into a config, reporting every problem at once.
func (a *args) check() (*config, error) {
	c := &config{args: *a}
	var errs []error
	bad := func(format string, v ...any) { errs = append(errs, fmt.Errorf(format, v...)) }
	if a.payments < 0 {
		bad("--payments %d is negative", a.payments)
	}
	if a.duration < 0 {
		bad("--duration %s is negative", a.duration)
	}
	if a.payments == 0 && a.duration == 0 {
		c.payments = defaultPayments
		if a.standardMPP {
			c.payments = standardPayments
		}
	}
	if a.warmup != "" {
		if n, err := strconv.Atoi(a.warmup); err == nil && n >= 0 {
			c.warmupPayments = n
		} else if d, err := time.ParseDuration(a.warmup); err == nil && d >= 0 {
			c.warmupDuration = d
		} else {
			bad("--warmup %q: want a number of payments or a duration", a.warmup)
		}
	}
	if a.rate < 0 {
		bad("--rate %g is negative", a.rate)
	}
	if a.concurrency < 1 {
		bad("--concurrency %d: want at least 1", a.concurrency)
	}
	if a.amountSigma < 0 {
		bad("--amount-sigma %g is negative", a.amountSigma)
	}
	switch {
	case a.amount != "" && a.amountMean != "":
		bad("give --amount or --amount-mean, not both")
	case a.amount != "":
		am, err := workload.ParseAmounts(a.amount)
		if err != nil {
			bad("--amount: %w", err)
		}
		c.amounts = func(uint64) workload.Amounts { return am }
	default:
		mean := workload.DefaultMean
		if a.amountMean != "" {
			m, err := workload.ParseAmount(a.amountMean)
			if err != nil {
				bad("--amount-mean: %w", err)
			}
			mean = m
		}
		c.amounts = func(source uint64) workload.Amounts {
			return workload.LogNormal{Mean: mean, Sigma: a.amountSigma, Source: source}
		}
	}
	mode, err := workload.ParseDestMode(a.dest)
	if err != nil {
		bad("--dest: %w", err)
	}
	c.destMode = mode
	c.params = payment.PayParams{RiskFactor: a.riskFactor, MaxFeePercent: a.maxFeePercent, ExemptFee: graph.MilliSat(a.exemptFee),
		RetryFor: a.retryFor, MaxDelay: uint32(a.maxDelay), MaxParts: payment.DefaultMaxParts}
	if err := checkParams(c.params); err != nil {
		bad("%w", err)
	}
	if a.maxParts < 0 {
		bad("--maxparts %d is negative", a.maxParts)
	}
	if a.compare != "" {
		sides, err := parseCompare(a.compare, side{params: c.params, maxParts: a.maxParts})
		if err != nil {
			bad("--compare: %w", err)
		}
		c.sides = sides
	}
	if a.standardMPP {
		a.checkStandard(c, bad)
	}
	switch a.progress {
	case "auto", "bar", "lines", "off":
	default:
		bad("--progress %q: want auto, bar, lines or off", a.progress)
	}
	if a.maxHTLCs < 0 {
		bad("--max-htlcs %d is negative", a.maxHTLCs)
	}
	if a.hopLatency < 0 || a.hopJitter < 0 {
		bad("--hop-latency and --hop-jitter must not be negative")
	}
	if a.rpc != "" {
		a.checkRPC(bad)
	} else if a.simnetRPC != "" {
		bad("--simnet-rpc goes with --rpc: the embedded engine has its network in this process")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// checkRPC refuses, with --rpc, the flags that shape the embedded engine:
// payd built its network itself, so they would be recorded in the report
// without having been applied. --compare is refused too: its two sides
// would pay over one network, the second over balances the first moved.
func (a *args) checkRPC(bad func(string, ...any)) {
	var embedded []string
	if a.graph != graphdata.Sub300 {
		embedded = append(embedded, "--graph (payd --graph)")
	}
	if a.dataDir != "" {
		embedded = append(embedded, "--datadir (payd --datadir)")
	}
	if a.hopLatency != 0 || a.hopJitter != 0 {
		embedded = append(embedded, "--hop-latency and --hop-jitter (payd --latency)")
	}
	if a.maxHTLCs != 0 {
		embedded = append(embedded, "--max-htlcs")
	}
	if a.noSync {
		embedded = append(embedded, "--nosync")
	}
	if len(embedded) > 0 {
		bad("with --rpc the network is payd's: drop %s", strings.Join(embedded, ", "))
	}
	if a.compare != "" {
		bad("--compare runs each side on a fresh network, which --rpc cannot: run paybench against two fresh payds instead")
	}
	if a.standardMPP {
		bad("--standard-mpp runs on a fresh network per amount and side, which --rpc cannot")
	}
	if a.maxParts != 0 {
		bad("--maxparts is not passed to payd's pay yet: drop it with --rpc")
	}
}

// checkStandard sets --standard-mpp's amounts and sides, refusing the
// flags it decides itself.
func (a *args) checkStandard(c *config, bad func(string, ...any)) {
	if a.amount != "" || a.amountMean != "" {
		bad("--standard-mpp fixes the amounts: give them with --buckets, not --amount or --amount-mean")
	}
	if a.compare != "" {
		bad("--standard-mpp compares maxparts=1 with --maxparts: drop --compare")
	}
	if a.duration != 0 || a.rate != 0 {
		bad("--standard-mpp is a closed loop of --payments per amount: drop --duration and --rate")
	}
	if a.maxParts == 1 {
		bad("--maxparts 1 is the single-part side of --standard-mpp: give the multi-part side's")
	}
	for _, s := range strings.Split(a.buckets, ",") {
		amt, err := workload.ParseAmount(strings.TrimSpace(s))
		if err != nil || amt == 0 {
			bad("--buckets %q: want amounts such as 1000sat,10000sat", s)
			continue
		}
		c.standard = append(c.standard, amt)
	}
	multi := a.maxParts
	if multi == 0 {
		multi = standardMaxParts
	}
	c.sides = []side{{label: "maxparts=1", params: c.params, maxParts: 1},
		{label: fmt.Sprintf("maxparts=%d", multi), params: c.params, maxParts: multi}}
}

// checkParams rejects pay parameters pay itself would refuse.
func checkParams(p payment.PayParams) error {
	var errs []error
	if p.RiskFactor < 0 {
		errs = append(errs, fmt.Errorf("riskfactor %g is negative", p.RiskFactor))
	}
	if p.MaxFeePercent < 0 || p.MaxFeePercent > 100 {
		errs = append(errs, fmt.Errorf("maxfeepercent %g: want 0 to 100", p.MaxFeePercent))
	}
	if p.RetryFor < 0 {
		errs = append(errs, fmt.Errorf("retry_for %s is negative", p.RetryFor))
	}
	return errors.Join(errs...)
}

// parseCompare parses --compare's "A,B": each side starts from base and
// applies its key=value settings (joined by + or spaces).
func parseCompare(s string, base side) ([]side, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		return nil, fmt.Errorf("%q: want two settings separated by a comma, e.g. riskfactor=1,riskfactor=10", s)
	}
	var out []side
	for _, part := range parts {
		sd := base
		var labels []string
		for _, kv := range strings.FieldsFunc(part, func(r rune) bool { return r == '+' || r == ' ' }) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("%q: want key=value", kv)
			}
			if err := setParam(&sd, k, v); err != nil {
				return nil, err
			}
			labels = append(labels, k+"="+v)
		}
		if len(labels) == 0 {
			return nil, fmt.Errorf("%q: a side with no setting", s)
		}
		if err := checkParams(sd.params); err != nil {
			return nil, err
		}
		sd.label = strings.Join(labels, "+")
		out = append(out, sd)
	}
	if out[0].label == out[1].label {
		return nil, fmt.Errorf("%q: both sides are the same", s)
	}
	return out, nil
}

// setParam sets one pay parameter by its Core Lightning name.
func setParam(sd *side, key, value string) error {
	var err error
	p := &sd.params
	switch key {
	case "maxparts":
		var v uint64
		v, err = strconv.ParseUint(value, 10, 16)
		sd.maxParts = int(v)
	case "riskfactor":
		p.RiskFactor, err = strconv.ParseFloat(value, 64)
	case "maxfeepercent":
		p.MaxFeePercent, err = strconv.ParseFloat(value, 64)
	case "exemptfee":
		var v uint64
		v, err = strconv.ParseUint(value, 10, 64)
		p.ExemptFee = graph.MilliSat(v)
	case "retry_for":
		p.RetryFor, err = time.ParseDuration(value)
		if err != nil { // Core Lightning gives seconds
			var secs uint64
			if secs, err = strconv.ParseUint(value, 10, 32); err == nil {
				p.RetryFor = time.Duration(secs) * time.Second
			}
		}
	case "maxdelay":
		var v uint64
		v, err = strconv.ParseUint(value, 10, 32)
		p.MaxDelay = uint32(v)
	default:
		return fmt.Errorf("unknown setting %q: want riskfactor, maxfeepercent, exemptfee, retry_for, maxdelay or maxparts", key)
	}
	if err != nil {
		return fmt.Errorf("%s=%s: %w", key, value, err)
	}
	return nil
}
