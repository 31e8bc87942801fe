package report

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/components"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// The charts of the HTML page: element id and title. Tests look for them.
var Charts = []struct{ ID, Title string }{
	{"latency", "Latency of pay (measured payments)"},
	{"throughput", "Payments ended per second"},
	{"buckets", "Success and feasibility by amount"},
	{"attempts", "Attempts per payment"},
	{"failures", "Failure reasons"},
}

// placeholderHost is the assets host the page is rendered with, so the
// <script src> go-echarts writes can be found and replaced.
const placeholderHost = "paybench-echarts-placeholder/"

// WriteHTML writes a self-contained page with the charts of one or more
// reports (two for a comparison, drawn side by side in each chart), the
// text summary above them. echartsJS is "" for the embedded ECharts, an
// http(s) URL to load it from, or a file to inline.
func WriteHTML(w io.Writer, echartsJS string, reps ...*Report) error {
	script, err := echartsScript(echartsJS)
	if err != nil {
		return err
	}
	page := components.NewPage()
	page.SetPageTitle("paybench").SetAssetsHost(placeholderHost)
	page.SetLayout(components.PageFlexLayout)
	page.AddCharts(latencyChart(reps), throughputChart(reps), bucketChart(reps), attemptsChart(reps), failuresChart(reps))
	var buf bytes.Buffer
	if err := page.Render(&buf); err != nil {
		return fmt.Errorf("report: render html: %w", err)
	}
	out := buf.String()
	tag := fmt.Sprintf(`<script src="%secharts.min.js"></script>`, placeholderHost)
	if !strings.Contains(out, tag) {
		return fmt.Errorf("report: render html: go-echarts wrote no %s", tag)
	}
	out = strings.Replace(out, tag, script, 1)
	var summary strings.Builder
	for _, r := range reps {
		if err := r.WriteText(&summary); err != nil {
			return err
		}
		summary.WriteString("\n")
	}
	pre := `<pre id="summary" style="font-size:12px;margin:16px">` + html.EscapeString(summary.String()) + "</pre>"
	out = strings.Replace(out, "<body>", "<body>\n"+pre, 1)
	if _, err := io.WriteString(w, out); err != nil {
		return fmt.Errorf("report: write html: %w", err)
	}
	return nil
}

// chartOpts are the options of chart i with a category x axis.
func chartOpts(i int, xName, yName string) []charts.GlobalOpts {
	return axesOpts(i, opts.XAxis{Name: xName, NameLocation: "middle", NameGap: 30}, opts.YAxis{Name: yName})
}

// axesOpts are the options of chart i with the axes given.
func axesOpts(i int, x opts.XAxis, y opts.YAxis) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{ChartID: Charts[i].ID, Width: "760px", Height: "420px"}),
		charts.WithTitleOpts(opts.Title{Title: Charts[i].Title}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "30px"}),
		charts.WithGridOpts(opts.Grid{Top: "80px", Bottom: "60px", Left: "30px", Right: "30px", ContainLabel: opts.Bool(true)}),
		charts.WithXAxisOpts(x),
		charts.WithYAxisOpts(y),
		charts.WithAnimation(false),
	}
}

// name prefixes a series with the report's label in a comparison.
func name(r *Report, s string) string {
	if r.Label == "" {
		return s
	}
	return r.Label + ": " + s
}

func latencyChart(reps []*Report) *charts.Bar {
	c := charts.NewBar()
	c.SetGlobalOptions(axesOpts(0, opts.XAxis{Name: "ms", NameLocation: "middle", NameGap: 45,
		AxisLabel: &opts.AxisLabel{Interval: "0", Rotate: 30}}, opts.YAxis{Name: "payments"})...)
	var x []string
	for _, b := range reps[0].LatencyHistogram {
		x = append(x, fmt.Sprintf("%s-%s", trim(b.FromMs), trim(b.ToMs)))
	}
	c.SetXAxis(x)
	for _, r := range reps {
		var d []opts.BarData
		for _, b := range r.LatencyHistogram {
			d = append(d, opts.BarData{Value: b.Count})
		}
		c.AddSeries(name(r, "payments"), d)
	}
	return c
}

func throughputChart(reps []*Report) *charts.Line {
	c := charts.NewLine()
	c.SetGlobalOptions(chartOpts(1, "second of the run", "payments/s")...)
	longest := 0
	for _, r := range reps {
		longest = max(longest, len(r.Timeline))
	}
	x := make([]string, longest)
	for i := range x {
		x[i] = strconv.Itoa(i)
	}
	c.SetXAxis(x)
	for _, r := range reps {
		var done, ok []opts.LineData
		for _, s := range r.Timeline {
			done = append(done, opts.LineData{Value: s.Done})
			ok = append(ok, opts.LineData{Value: s.Succeeded})
		}
		c.AddSeries(name(r, "ended"), done).AddSeries(name(r, "succeeded"), ok)
	}
	return c
}

func bucketChart(reps []*Report) *charts.Bar {
	c := charts.NewBar()
	c.SetGlobalOptions(chartOpts(2, "amount (payments in the bucket)", "%")...)
	var x []string
	for _, b := range reps[0].Buckets {
		x = append(x, fmt.Sprintf("%s (%d)", b.Label, b.Payments))
	}
	c.SetXAxis(x)
	pct := func(a, n int) opts.BarData { return opts.BarData{Value: round1(100 * ratio(a, n))} }
	for _, r := range reps {
		var ok, feas, single, okFeas []opts.BarData
		for _, b := range r.Buckets {
			ok = append(ok, pct(b.Succeeded, b.Payments))
			if b.Feasible != nil {
				feas = append(feas, pct(*b.Feasible, b.Payments))
				single = append(single, pct(*b.SinglePath, b.Payments))
				okFeas = append(okFeas, opts.BarData{Value: round1(100 * *b.SucceededOfFeasible)})
			}
		}
		c.AddSeries(name(r, "succeeded"), ok)
		if r.Feasibility.Available {
			c.AddSeries(name(r, "feasible (max-flow)"), feas).AddSeries(name(r, "feasible over one path"), single).
				AddSeries(name(r, "succeeded of feasible"), okFeas)
		}
	}
	return c
}

func attemptsChart(reps []*Report) *charts.Bar {
	c := charts.NewBar()
	c.SetGlobalOptions(chartOpts(3, "attempts", "payments")...)
	most := 0
	for _, r := range reps {
		most = max(most, r.Attempts.Max)
	}
	x := make([]string, most+1)
	for i := range x {
		x[i] = strconv.Itoa(i)
	}
	c.SetXAxis(x)
	for _, r := range reps {
		d := make([]opts.BarData, most+1)
		for i := range d {
			d[i] = opts.BarData{Value: 0}
		}
		for _, b := range r.Attempts.Histogram {
			d[b.Attempts] = opts.BarData{Value: b.Payments}
		}
		c.AddSeries(name(r, "payments"), d)
	}
	return c
}

func failuresChart(reps []*Report) *charts.Bar {
	c := charts.NewBar()
	// Horizontal bars: the reasons' names are long.
	c.SetGlobalOptions(axesOpts(4, opts.XAxis{Type: "value", Name: "payments", NameLocation: "middle", NameGap: 30},
		opts.YAxis{Type: "category"})...)
	var keys []string
	seen := map[string]bool{}
	label := func(f Failure) string {
		s := fmt.Sprintf("%d %s", f.Code, f.Name)
		if f.FailCodeName != "" {
			s += " / " + strings.TrimPrefix(f.FailCodeName, "WIRE_")
		}
		return s
	}
	for _, r := range reps {
		for _, f := range r.Failures {
			if k := label(f); !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	c.SetXAxis(keys)
	for _, r := range reps {
		count := map[string]int{}
		for _, f := range r.Failures {
			count[label(f)] += f.Count
		}
		var d []opts.BarData
		for _, k := range keys {
			d = append(d, opts.BarData{Value: count[k]})
		}
		c.AddSeries(name(r, "failed payments"), d)
	}
	c.XYReversal()
	return c
}

func trim(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
