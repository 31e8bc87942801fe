package regtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

const (
	// LndVersion is the lnd release the network runs: the one payengine's
	// go.mod pins.
	LndVersion = "v0.21.3-beta"
	// LndTags are the build tags lnd and lncli are built with: the
	// sub-servers payd's lnd backend talks to (hold invoices need
	// invoicesrpc).
	LndTags = "signrpc walletrpc chainrpc invoicesrpc routerrpc"
	// BtcdVersion is the btcd the network mines with: the pseudo-version
	// lnd v0.21.3-beta's go.mod requires, so the chain backend is the one
	// lnd's own integration tests run against (the proxy serves it and
	// payengine's go.mod already pins it).
	BtcdVersion = "v0.25.1-0.20260310163610-1c55c7c18179"
)

// Binaries are the paths of the built executables.
type Binaries struct {
	Btcd   string `json:"btcd"`
	BtcCtl string `json:"btcctl"`
	Lnd    string `json:"lnd"`
	LnCLI  string `json:"lncli"`
}

// DefaultCacheDir is where binaries are built when no directory is given:
// $PAYENGINE_CACHE, else the user's cache directory under payengine.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("PAYENGINE_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("regtest: no cache directory (set PAYENGINE_CACHE): %w", err)
	}
	return filepath.Join(d, "payengine"), nil
}

// Build builds btcd, btcctl, lnd and lncli into cacheDir (DefaultCacheDir
// when empty) unless a previous build is there, and returns their paths.
// Each set lives in a directory named after its version and build
// settings, written whole under a lock, so concurrent callers build once
// and a half-finished build is never used.
func Build(ctx context.Context, cacheDir string, log io.Writer) (Binaries, error) {
	if log == nil {
		log = io.Discard
	}
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return Binaries{}, err
		}
		cacheDir = d
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("regtest: cache directory: %w", err)
	}
	goVer, err := goVersion(ctx)
	if err != nil {
		return Binaries{}, err
	}
	btcdDir := filepath.Join(cacheDir, "btcd-"+BtcdVersion+"-"+key(goVer))
	err = buildOnce(ctx, btcdDir, log, "btcd "+BtcdVersion, func(tmp string) error {
		cmd := exec.CommandContext(ctx, "go", "install",
			"github.com/btcsuite/btcd@"+BtcdVersion,
			"github.com/btcsuite/btcd/cmd/btcctl@"+BtcdVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-mod=readonly", "GOWORK=off")
		return run(cmd)
	})
	if err != nil {
		return Binaries{}, err
	}
	lndDir := filepath.Join(cacheDir, "lnd-"+LndVersion+"-"+key(goVer, LndTags))
	err = buildOnce(ctx, lndDir, log, "lnd "+LndVersion, func(tmp string) error {
		src, err := moduleDir(ctx, "github.com/lightningnetwork/lnd@"+LndVersion)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", LndTags,
			"-ldflags", "-X github.com/lightningnetwork/lnd/build.Commit="+LndVersion,
			"-o", tmp+string(filepath.Separator), "./cmd/lnd", "./cmd/lncli")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
		return run(cmd)
	})
	if err != nil {
		return Binaries{}, err
	}
	return Binaries{
		Btcd:   filepath.Join(btcdDir, "btcd"),
		BtcCtl: filepath.Join(btcdDir, "btcctl"),
		Lnd:    filepath.Join(lndDir, "lnd"),
		LnCLI:  filepath.Join(lndDir, "lncli"),
	}, nil
}

// key names a build by what changes its output: the Go toolchain and the
// settings given.
func key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// buildOnce runs build into a temporary directory beside dir and renames
// it to dir, holding a lock on dir.lock so a second caller waits and then
// finds the result.
func buildOnce(ctx context.Context, dir string, log io.Writer, what string, build func(tmp string) error) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("regtest: build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("regtest: build lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp")
	if err != nil {
		return fmt.Errorf("regtest: build directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	fmt.Fprintf(log, "building %s into %s (%d cores; minutes when cold)\n", what, dir, runtime.NumCPU())
	if err := build(tmp); err != nil {
		return fmt.Errorf("regtest: build %s: %w", what, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("regtest: build %s: %w", what, err)
	}
	fmt.Fprintf(log, "built %s in %s\n", what, time.Since(start).Round(time.Second))
	return nil
}

// run runs cmd and puts its output in the error when it fails.
func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", cmd.Args, err, tail(out.Bytes(), 4000))
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func goVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("regtest: go env GOVERSION (is go on PATH?): %w", err)
	}
	return string(bytes.TrimSpace(out)), nil
}

// moduleDir downloads a module through the proxy (a no-op when the module
// cache has it) and returns its directory there.
func moduleDir(ctx context.Context, modVersion string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", modVersion)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// go mod download -json reports a failure in the JSON and exits 1.
	runErr := cmd.Run()
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s %s", modVersion, runErr, m.Error, errOut.String())
	}
	return m.Dir, nil
}
