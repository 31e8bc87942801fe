package main

import (
	"context"
	"fmt"
	"io"

	"github.com/payengine/payengine/cmd/paybench/internal/report"
	"github.com/payengine/payengine/cmd/paybench/internal/workload"
)

// runStandard is --standard-mpp: for each amount, each side (maxparts=1,
// then the multi-part one) on a fresh network, the same workload of
// --payments payments of that fixed amount; then one table of both sides
// per amount.
func runStandard(ctx context.Context, cfg *config, argv []string, stdout, stderr io.Writer) error {
	var runs []*report.Report
	for k, amt := range cfg.standard {
		c := *cfg
		for j, s := range cfg.sides {
			c.amounts = func(uint64) workload.Amounts { return workload.Fixed(amt) }
			s.label = workload.FormatAmount(amt) + " " + s.label // the charts' series
			rep, err := runSide(ctx, &c, s, 2*k+j, argv, stdout, stderr)
			if err != nil {
				return fmt.Errorf("%s at %s: %w", s.label, amt, err)
			}
			runs = append(runs, rep)
			if rep.Run.Interrupted {
				return writeStandard(cfg, report.NewStandard(runs), stdout)
			}
		}
	}
	return writeStandard(cfg, report.NewStandard(runs), stdout)
}

// writeStandard prints the table and writes --json and --html.
func writeStandard(cfg *config, st *report.Standard, stdout io.Writer) error {
	if err := st.WriteText(stdout); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return writeFiles(cfg, st, st.Runs)
}
