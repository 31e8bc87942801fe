package report

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// echartsGz is Apache ECharts 5.4.3 (see assets/README.md).
//
//go:embed assets/echarts-5.4.3.min.js.gz
var echartsGz []byte

// EchartsCDN is where go-echarts v2.4.5 loads ECharts from by default.
const EchartsCDN = "https://go-echarts.github.io/go-echarts-assets/assets/echarts.min.js"

var echarts = sync.OnceValues(func() ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(echartsGz))
	if err != nil {
		return nil, fmt.Errorf("report: embedded echarts: %w", err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("report: embedded echarts: %w", err)
	}
	return js, nil
})

// echartsScript returns the <script> element that loads ECharts for
// source: "" (the embedded copy, inlined), an http(s) URL (referenced: the
// page then needs the network), or a file path (inlined).
func echartsScript(source string) (string, error) {
	var js []byte
	var err error
	switch {
	case source == "":
		js, err = echarts()
	case strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://"):
		return fmt.Sprintf("<script src=%q></script>", source), nil
	default:
		js, err = os.ReadFile(source)
		if err != nil {
			err = fmt.Errorf("report: --echarts-js: %w", err)
		}
	}
	if err != nil {
		return "", err
	}
	// Inline, a "</script" inside the code would end the element early.
	safe := strings.ReplaceAll(string(js), "</script", `<\/script`)
	return "<script>\n" + safe + "\n</script>", nil
}
