package etcdtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/payengine/payengine/internal/freeport"
)

// ReadyPrefix starts the line cmd/etcdrun prints on stdout once etcd serves
// clients; the client URL follows it.
const ReadyPrefix = "etcdrun ready "

// Build compiles cmd/etcdrun into dir and returns the binary's path. It runs
// the go tool, so it is for tests run from the module.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "etcdrun")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/payengine/payengine/cmd/etcdrun").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("etcdtest: build etcdrun: %w\n%s", err, out)
	}
	return bin, nil
}

// Proc is etcd running as its own process (cmd/etcdrun).
type Proc struct {
	// ClientURL is the URL clients dial.
	ClientURL string
	// Opts are the options it was started with, its picked addresses
	// filled in, so StartProcess(bin, p.Opts) starts it again in place.
	Opts Options

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProcess runs the etcdrun binary bin with opts and returns once it
// serves clients. Empty addresses are picked here, so that the process can
// be started again at the same ones.
func StartProcess(bin string, opts Options) (*Proc, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: Options.Dir is required", ErrStart)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.ClientAddr == "" || opts.PeerAddr == "" {
		free, err := freeport.Loopback(2)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
		if opts.ClientAddr == "" {
			opts.ClientAddr = free[0]
		}
		if opts.PeerAddr == "" {
			opts.PeerAddr = free[1]
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	args := []string{"--dir", opts.Dir, "--client", opts.ClientAddr, "--peer", opts.PeerAddr}
	if opts.Sync {
		args = append(args, "--sync")
	}
	cmd := exec.Command(bin, args...)
	// etcd belongs to the test that started it: if the test process dies
	// without stopping it (a panic, a timeout), the kernel kills it too,
	// instead of leaving it on its ports.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := os.OpenFile(filepath.Join(opts.Dir, "etcdrun.err"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	p := &Proc{Opts: opts, cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), ReadyPrefix); ok {
				ready <- u
			}
		}
		// The pipe is drained to its end before Wait, as os/exec asks.
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case u := <-ready:
		p.ClientURL = u
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%w: etcdrun exited (%v); see %s", ErrStart, p.err, stderr.Name())
	case <-time.After(opts.StartTimeout):
		p.Kill()
		return nil, fmt.Errorf("%w: etcdrun not ready after %v; see %s", ErrStart, opts.StartTimeout, stderr.Name())
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM, lets etcd close within 10 s (then kills it) and
// waits for the process to be gone.
func (p *Proc) Stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("etcdtest: stop etcdrun: %w", err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		p.Kill()
		return fmt.Errorf("etcdtest: etcdrun ignored SIGTERM for 10 s; killed")
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }
