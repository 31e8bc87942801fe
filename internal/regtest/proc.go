package regtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startProcess starts bin with args in its own process group, output
// appended to logFile, and writes its pid to pidFile. The process outlives
// the caller (cmd/regtest up returns while the network runs); a goroutine
// reaps it if it ends while the caller still runs, so no zombie is left
// to look alive.
func startProcess(bin string, args []string, logFile, pidFile string) (*os.Process, error) {
	if pid, ok := readPid(pidFile); ok && alive(pid, args) {
		return nil, fmt.Errorf("%s already runs (pid %d from %s)", filepath.Base(bin), pid, pidFile)
	}
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	defer lf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		// Reaping, and saying in the log how the process ended: a signal
		// leaves nothing else there.
		err := cmd.Wait()
		if f, ferr := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
			fmt.Fprintf(f, "regtest: %s ended at %s: %v (%s)\n", filepath.Base(bin),
				time.Now().Format(time.RFC3339Nano), err, cmd.ProcessState)
			f.Close()
		}
	}()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return cmd.Process, nil
}

func readPid(pidFile string) (int, bool) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// alive tells whether pid runs and is the process started with args (its
// command line holds its first distinctive argument, a path inside the
// network directory), so a reused pid is never signalled. A zombie counts
// as gone.
func alive(pid int, args []string) bool {
	// A process in the middle of execve has an empty command line: the
	// kernel releases the parent (and os/exec's Start returns) before it
	// sets the new program's arguments, and under load the child can wait
	// there for a while. Read again until it has one.
	for wait := time.Millisecond; ; wait *= 2 {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return false
		}
		if len(cmdline) == 0 && wait < 5*time.Second {
			time.Sleep(wait)
			continue
		}
		// Arguments end with a NUL there, so node-1 does not match node-10.
		return len(args) == 0 || bytes.Contains(cmdline, append([]byte(args[0]), 0))
	}
}

// stopProcess ends the process of pidFile: SIGTERM to its group, then
// SIGKILL after grace. mark is a string its command line holds. A missing
// pid file or a process already gone is success; the pid file is removed.
func stopProcess(pidFile, mark string, grace time.Duration) error {
	pid, ok := readPid(pidFile)
	if !ok {
		return nil
	}
	if alive(pid, []string{mark}) {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		if !waitGone(pid, mark, grace) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			if !waitGone(pid, mark, 5*time.Second) {
				return fmt.Errorf("pid %d (%s) survives SIGKILL", pid, pidFile)
			}
		}
	}
	if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove pid file: %w", err)
	}
	return nil
}

func waitGone(pid int, mark string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !alive(pid, []string{mark}) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
