package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payengine/payengine/cmd/paybench/internal/report"
)

// TestHTMLInBrowser opens a report page in headless Chromium, offline (the
// page must carry ECharts itself): every chart must have drawn its canvas
// in the DOM Chromium dumps, and a screenshot, saved in the test's
// temporary directory, must show the charts' blue bars. Skipped when
// chromium is not installed (apt-get install chromium).
func TestHTMLInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium): the page is not rendered")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "run.html")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--payments", "30", "--concurrency", "8", "--html", page}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	browse := func(args ...string) []byte {
		t.Helper()
		// --no-sandbox: tests run as root; a profile of its own so that a
		// browser already open does not take the call over.
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(dir, "profile")}
		cmd := exec.CommandContext(ctx, chromium, append(append(base, args...), "file://"+page)...)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out
	}
	dom := string(browse("--dump-dom"))
	for _, c := range report.Charts {
		i := strings.Index(dom, `id="`+c.ID+`"`)
		if i < 0 {
			t.Fatalf("chart %s is not in the page Chromium loaded", c.ID)
		}
		if j := strings.Index(dom[i:], "<canvas"); j < 0 || j > 2000 {
			t.Errorf("chart %s drew no canvas: did ECharts run?", c.ID)
		}
	}
	shot := filepath.Join(dir, "report.png")
	browse("--hide-scrollbars", "--window-size=1600,2000", "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	// ECharts' first series colour is #5470c6: text is grey, the page
	// white, so blue pixels are bars.
	blue := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if bl>>8 > 150 && r>>8 < 120 && g>>8 < 150 {
				blue++
			}
		}
	}
	t.Logf("screenshot: %s (%dx%d, %d blue samples)", shot, b.Dx(), b.Dy(), blue)
	if blue < 500 {
		t.Errorf("the screenshot shows no chart (%d blue samples)", blue)
	}
}
