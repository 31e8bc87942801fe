package rpc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SocketName is the unix socket's name in a data directory, as Core
// Lightning names it.
const SocketName = "lightning-rpc"

// Listen creates the unix socket <datadir>/lightning-rpc with mode 0600.
// A socket file left by a daemon that died is removed first; one that a
// live daemon answers on is an error, and so is a file that is not a
// socket.
func Listen(datadir string) (net.Listener, error) {
	path := filepath.Join(datadir, SocketName)
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("rpc: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("rpc: %s: another daemon is listening on it", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("rpc: remove stale socket: %w", err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("rpc: listen: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("rpc: socket mode: %w", err)
	}
	return l, nil
}
