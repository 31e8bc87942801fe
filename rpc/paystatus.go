package rpc

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/payengine/payengine/graph"
)

// payStatusJSON is one pay of paystatus, in the v0.7 pay plugin's shape
// (amounts as integers, as everywhere here).
type payStatusJSON struct {
	Bolt11      string               `json:"bolt11"`
	AmountMsat  uint64               `json:"amount_msat"`
	Destination string               `json:"destination"`
	Label       string               `json:"label,omitempty"`
	Attempts    []payStatusAttemptJS `json:"attempts"`
}

// payStatusAttemptJS is one attempt: why it was made, when, the route,
// and its failure (an error object, as waitsendpay's) or success.
type payStatusAttemptJS struct {
	Strategy  string      `json:"strategy,omitempty"`
	StartTime string      `json:"start_time"`
	Age       uint64      `json:"age_in_seconds"`
	EndTime   string      `json:"end_time,omitempty"`
	Duration  *uint64     `json:"duration_in_seconds,omitempty"`
	State     string      `json:"state"`
	Route     graph.Route `json:"route"`
	Failure   *Error      `json:"failure,omitempty"`
	Success   *successJS  `json:"success,omitempty"`
}

type successJS struct {
	ID       uint64 `json:"id"`
	Preimage string `json:"payment_preimage"`
}

// utcTime is the pay plugin's time format: UTC, milliseconds, Z.
func utcTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// paystatus is the pay plugin's paystatus, built from the ledger's
// attempts: every payment with a bolt11 (or those of one), each attempt
// with its route and failure, so the "see paystatus" of error 210 points
// somewhere.
func (h *handlers) paystatus(_ context.Context, a *Args) (any, error) {
	b, _ := Arg[string](a, "bolt11")
	sts, err := h.e.PayStatus(b)
	if err != nil {
		return nil, h.fail(err)
	}
	now := h.e.Now()
	out := []payStatusJSON{}
	for _, st := range sts {
		p := payStatusJSON{Bolt11: st.Record.Bolt11, AmountMsat: uint64(st.Record.Amount), Destination: st.Record.Destination.String(),
			Label: st.Record.Label, Attempts: []payStatusAttemptJS{}}
		for _, at := range st.Attempts {
			j := payStatusAttemptJS{Strategy: at.Strategy, StartTime: utcTime(at.Start), Age: seconds(now.Sub(at.Start)),
				State: "completed", Route: at.Route}
			if at.Pending {
				j.State = "pending"
			}
			if !at.End.IsZero() {
				j.EndTime = utcTime(at.End)
				d := seconds(at.End.Sub(at.Start))
				j.Duration = &d
			}
			switch {
			case at.Failure != nil:
				j.Failure = failureError(at.Failure)
			case at.Preimage != nil:
				j.Success = &successJS{ID: st.ID, Preimage: hex.EncodeToString(at.Preimage[:])}
			}
			p.Attempts = append(p.Attempts, j)
		}
		out = append(out, p)
	}
	return map[string]any{"pay": out}, nil
}

func seconds(d time.Duration) uint64 { return uint64(max(d, 0) / time.Second) }
