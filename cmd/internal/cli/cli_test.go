package cli

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

// A flag takes its default from its variable, the command line wins, and
// -h names every flag's variable.
func TestParse(t *testing.T) {
	newSet := func(out *bytes.Buffer) (*flag.FlagSet, *string, *int) {
		fs := flag.NewFlagSet("d", flag.ContinueOnError)
		fs.SetOutput(out)
		return fs, fs.String("log-level", "info", "log level"), fs.Int("seed", 1, "seed")
	}
	env := map[string]string{"D_LOG_LEVEL": "debug", "D_SEED": "7"}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	fs, level, seed := newSet(&out)
	if err := Parse(fs, "D", []string{"--seed", "9"}, getenv); err != nil || *level != "debug" || *seed != 9 {
		t.Fatalf("level %q seed %d: %v", *level, *seed, err)
	}
	fs, _, _ = newSet(&out)
	if err := Parse(fs, "D", []string{"extra"}, getenv); err == nil {
		t.Error("a positional argument was accepted")
	}
	fs, _, _ = newSet(&out)
	if err := Parse(fs, "D", nil, func(string) string { return "x" }); err == nil || !strings.Contains(err.Error(), `D_SEED="x"`) {
		t.Errorf("a bad variable: %v", err)
	}
	out.Reset()
	fs, _, _ = newSet(&out)
	if err := Parse(fs, "D", []string{"-h"}, getenv); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"log level (env D_LOG_LEVEL)", "seed (env D_SEED)", "a flag on the command line wins"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %q:\n%s", want, out.String())
		}
	}
}
