// Package report turns a run's payments into paybench's figures
// (throughput, latency percentiles, success by amount, attempts, failure
// reasons, fees, and success against the feasibility ceiling), and writes
// them for people (text), for programs (JSON, every figure and every
// payment) and for browsers (a self-contained HTML page of charts).
package report

import (
	"encoding/hex"
	"time"

	"github.com/payengine/payengine/cmd/paybench/internal/driver"
	"github.com/payengine/payengine/cmd/paybench/internal/target"
)

// Report is one run's figures; its JSON form is what --json writes.
// Durations are in milliseconds, rates per second, amounts in msat.
type Report struct {
	Tool   string      `json:"tool"`
	Label  string      `json:"label,omitempty"`
	Setup  Setup       `json:"setup"`
	Target target.Info `json:"target"`
	Run    RunInfo     `json:"run"`

	Throughput Throughput `json:"throughput"`
	// Latency is the pay call's duration over measured payments;
	// LatencySucceeded over the successful ones only; Response (open
	// loop) runs from when a payment was due, so a schedule that slipped
	// shows.
	Latency          Percentiles  `json:"latency_ms"`
	LatencySucceeded Percentiles  `json:"latency_succeeded_ms"`
	Response         *Percentiles `json:"response_ms,omitempty"`

	Success     Success     `json:"success"`
	Buckets     []Bucket    `json:"buckets"`
	Attempts    Attempts    `json:"attempts"`
	Failures    []Failure   `json:"failures"`
	Fees        Fees        `json:"fees"`
	Feasibility Feasibility `json:"feasibility"`
	Parts       Parts       `json:"parts"`

	Timeline         []Second  `json:"timeline"`
	LatencyHistogram []Bin     `json:"latency_histogram"`
	Payments         []Payment `json:"payments"`
}

// Setup is the workload and settings a run used, as the command was
// given them.
type Setup struct {
	Command     string  `json:"command"`
	Seed        uint64  `json:"seed"`
	Loop        string  `json:"loop"` // "closed" or "open"
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate,omitempty"`
	Payments    int     `json:"payments,omitempty"`
	Duration    string  `json:"duration,omitempty"`
	Warmup      string  `json:"warmup,omitempty"`
	Amounts     string  `json:"amounts"`
	Dest        string  `json:"dest"`
	// Params are pay's parameters.
	RiskFactor    float64 `json:"riskfactor"`
	MaxFeePercent float64 `json:"maxfeepercent"`
	ExemptFeeMsat uint64  `json:"exemptfee_msat"`
	RetryFor      string  `json:"retry_for"`
	MaxDelay      uint32  `json:"maxdelay"`
	// MaxParts is the maxparts paybench asked pay for (0: pay's
	// default); MaxPartsApplied says whether the engine took it.
	MaxParts        int  `json:"maxparts,omitempty"`
	MaxPartsApplied bool `json:"maxparts_applied,omitempty"`
	// Network options of the embedded target.
	HopLatency string `json:"hop_latency,omitempty"`
	HopJitter  string `json:"hop_jitter,omitempty"`
	MaxHTLCs   int    `json:"max_htlcs,omitempty"`
}

// RunInfo says what was run.
type RunInfo struct {
	Started        time.Time `json:"started"`
	ElapsedSeconds float64   `json:"elapsed_s"`
	Interrupted    bool      `json:"interrupted"`
	// Payments counts every payment made; Warmup those not measured;
	// Measured the rest, which every other figure is about.
	Payments int `json:"payments"`
	Warmup   int `json:"warmup"`
	Measured int `json:"measured"`
	// WindowSeconds runs from the first measured start to the last
	// measured end: the time throughput is divided by.
	WindowSeconds float64 `json:"window_s"`
}

// Throughput is measured payments per second of the window.
type Throughput struct {
	Payments  float64 `json:"payments_per_s"`
	Succeeded float64 `json:"succeeded_per_s"`
}

// Percentiles summarise a latency distribution (from an HDR histogram of
// microseconds, 3 significant digits).
type Percentiles struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// Success counts measured outcomes.
type Success struct {
	Payments  int     `json:"payments"`
	Succeeded int     `json:"succeeded"`
	Failed    int     `json:"failed"`
	Rate      float64 `json:"rate"`
	// AmountMsat is what the measured payments asked; SucceededMsat what
	// the successful ones delivered.
	AmountMsat    uint64 `json:"amount_msat"`
	SucceededMsat uint64 `json:"succeeded_msat"`
}

// Bucket is success and feasibility for amounts in [MinMsat, MaxMsat)
// (MaxMsat 0: no upper bound).
type Bucket struct {
	Label       string  `json:"label"`
	MinMsat     uint64  `json:"min_msat"`
	MaxMsat     uint64  `json:"max_msat,omitempty"`
	Payments    int     `json:"payments"`
	Succeeded   int     `json:"succeeded"`
	SuccessRate float64 `json:"success_rate"`
	// The oracle's figures, absent when it was not asked: payments that
	// were feasible (max-flow at least the amount), feasible over a
	// single path, and the share of the feasible ones that succeeded.
	Feasible            *int     `json:"feasible,omitempty"`
	SinglePath          *int     `json:"single_path,omitempty"`
	SucceededOfFeasible *float64 `json:"succeeded_of_feasible,omitempty"`
}

// Attempts is the distribution of attempts per payment.
type Attempts struct {
	// Source says how attempts were counted.
	Source string `json:"source"`
	// Known is how many measured payments have a count.
	Known     int          `json:"known"`
	Mean      float64      `json:"mean"`
	Max       int          `json:"max"`
	Histogram []AttemptBin `json:"histogram"`
}

// AttemptBin is how many payments made Attempts attempts.
type AttemptBin struct {
	Attempts int `json:"attempts"`
	Payments int `json:"payments"`
}

// Failure counts failed payments by Core Lightning code and BOLT 4
// failure code.
type Failure struct {
	Code         int    `json:"code"`
	Name         string `json:"name"`
	FailCode     uint16 `json:"failcode,omitempty"`
	FailCodeName string `json:"failcodename,omitempty"`
	Count        int    `json:"count"`
}

// Fees are what successful payments paid on top of their amount, in
// parts per million of the amount.
type Fees struct {
	PaidMsat   uint64 `json:"paid_msat"`
	AmountMsat uint64 `json:"amount_msat"`
	// PPM is all fees over all amounts; the others are per payment.
	PPM       float64 `json:"ppm"`
	MedianPPM float64 `json:"median_ppm"`
	P90PPM    float64 `json:"p90_ppm"`
	MaxPPM    float64 `json:"max_ppm"`
}

// Feasibility compares success with what the network could have done.
type Feasibility struct {
	// Available is false when the target has no oracle (an RPC target):
	// every other field is then zero and the report says n/a.
	Available bool   `json:"available"`
	Note      string `json:"note"`
	Feasible  int    `json:"feasible"`
	// SinglePath counts the feasible payments one path could carry.
	SinglePath          int     `json:"single_path"`
	SucceededOfFeasible float64 `json:"succeeded_of_feasible"`
	// SucceededInfeasible counts successes the oracle called infeasible:
	// possible only when balances moved between the oracle's answer and
	// the payment (other payments settling or failing meanwhile).
	SucceededInfeasible int     `json:"succeeded_infeasible"`
	OracleMeanMs        float64 `json:"oracle_mean_ms"`
	OracleMaxMs         float64 `json:"oracle_max_ms"`
}

// Parts is how successful payments were split, from the network's ground
// truth, and how long the engine's planner took.
type Parts struct {
	// Known counts the successful payments whose truth the target gave
	// (0: none, as over RPC; the other figures are then n/a).
	Known int `json:"known"`
	// HTLCsPerSuccess is the mean number of HTLCs our node sent for a
	// successful payment (every part of every attempt); PartsPerSuccess
	// the mean number the destination settled.
	HTLCsPerSuccess float64 `json:"htlcs_per_success"`
	PartsPerSuccess float64 `json:"parts_per_success"`
	MaxParts        int     `json:"max_parts"`
	// AttemptsPerSuccess is the ledger's attempts per successful payment,
	// which also counts attempts our own channel refused before any HTLC
	// left (the target's attempt count, over the same payments).
	AttemptsPerSuccess float64 `json:"attempts_per_success"`
	// Planner is the engine's route-search (planner) time over the run,
	// nil when the target does not serve it.
	Planner *target.Latency `json:"planner,omitempty"`
}

// Second is the payments that ended in one second of the run.
type Second struct {
	T         int  `json:"t"`
	Done      int  `json:"done"`
	Succeeded int  `json:"succeeded"`
	Warmup    bool `json:"warmup,omitempty"`
}

// Bin is how many measured payments took [FromMs, ToMs).
type Bin struct {
	FromMs float64 `json:"from_ms"`
	ToMs   float64 `json:"to_ms"`
	Count  int     `json:"count"`
}

// Payment is one payment as the JSON lists it.
type Payment struct {
	Seq        int     `json:"seq"`
	Warmup     bool    `json:"warmup,omitempty"`
	Hash       string  `json:"payment_hash"`
	Dest       string  `json:"destination"`
	AmountMsat uint64  `json:"amount_msat"`
	Status     string  `json:"status"`
	Code       int     `json:"code,omitempty"`
	FailCode   uint16  `json:"failcode,omitempty"`
	Message    string  `json:"message,omitempty"`
	FeeMsat    uint64  `json:"fee_msat,omitempty"`
	Attempts   int     `json:"attempts"`
	DueMs      float64 `json:"due_ms"`
	StartMs    float64 `json:"start_ms"`
	LatencyMs  float64 `json:"latency_ms"`
	// MaxFlowMsat and SinglePath are the oracle's answer (absent: not
	// asked).
	MaxFlowMsat *uint64 `json:"max_flow_msat,omitempty"`
	SinglePath  *bool   `json:"single_path,omitempty"`
	// Truth is what the network saw of the hash (absent: not known).
	Truth *target.Truth `json:"truth,omitempty"`
}

// paymentOf converts a result.
func paymentOf(r *driver.Result) Payment {
	p := Payment{Seq: r.Seq, Warmup: r.Warmup, Hash: hex.EncodeToString(r.Hash[:]), Dest: r.Dest.String(),
		AmountMsat: uint64(r.Amount), Status: "failed", Code: r.Outcome.Code, FailCode: r.Outcome.FailCode,
		Message: r.Outcome.Message, Attempts: r.Outcome.Attempts, DueMs: ms(r.Due), StartMs: ms(r.Started),
		LatencyMs: ms(r.Latency()), Truth: r.Outcome.Truth}
	if r.Outcome.Complete {
		p.Status = "complete"
		p.FeeMsat = uint64(r.Outcome.AmountSent - r.Amount)
	}
	if f := r.Feasibility; f != nil {
		mf, single := uint64(f.MaxFlow), f.SinglePath
		p.MaxFlowMsat, p.SinglePath = &mf, &single
	}
	return p
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
