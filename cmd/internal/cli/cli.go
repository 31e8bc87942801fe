// Package cli holds what payengine's daemons share on their command line:
// flags that fall back to environment variables, the log level, and the
// exit statuses.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Parse reads args into fs after taking each flag's default from the
// environment variable PREFIX_NAME (dashes and dots become
// underscores), so a flag
// on the command line wins. It refuses positional arguments. It adds the
// variable's name to each flag's help, and sets fs.Usage to say that the
// flag wins, so -h lists every variable.
func Parse(fs *flag.FlagSet, prefix string, args []string, getenv func(string) string) error {
	var bad []string
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(prefix, f.Name)
		f.Usage += " (env " + env + ")"
		if v := getenv(env); v != "" {
			if err := f.Value.Set(v); err != nil {
				bad = append(bad, fmt.Sprintf("%s=%q: %v", env, v, err))
			}
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("environment: %s", strings.Join(bad, "; "))
	}
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nEach flag may also be set by the environment variable named in its help; a flag on the command line wins.\n")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// envName is the environment variable of a flag: PREFIX_NAME, the name in
// capitals with dashes as underscores (PAYD_LOG_LEVEL for --log-level).
func envName(prefix, flagName string) string {
	return prefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// Logger is a text logger to w at the named level (debug, info, warn,
// error).
func Logger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// Exit turns a daemon's outcome into its exit status, printing the error
// under the daemon's name: 0 for success or -h, 2 for a usage error, 1
// for a failure while serving.
func Exit(name string, stderr io.Writer, parseErr error, serve func() error) int {
	if errors.Is(parseErr, flag.ErrHelp) {
		return 0
	}
	if parseErr != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, parseErr)
		return 2
	}
	if err := serve(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
