package wirelink

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/lightningnetwork/lnd/lnwire"
)

// maxQueued caps the bytes waiting to be written on a connection: a peer
// that stops reading for that long is treated as gone.
const maxQueued = 64 << 20

// conn is one socket. send queues a frame without blocking, so that a
// backend's callback or a client's AddHTLC never waits on the socket; one
// writer goroutine drains the queue, so frames queued together leave in
// one write. Its owner runs the reader (readLoop) and waits for both.
type conn struct {
	nc           net.Conn
	writeTimeout time.Duration

	mu   sync.Mutex
	out  *bytes.Buffer // frames waiting for the writer
	err  error         // why the conn closed; nil while open
	wake chan struct{} // the writer has work (capacity 1)
	done chan struct{} // closed by close

	// readerDone is closed by the owner when its reader has returned and
	// handled its last frame.
	readerDone chan struct{}
	writerDone chan struct{}
}

func newConn(nc net.Conn, writeTimeout time.Duration) *conn {
	c := &conn{nc: nc, writeTimeout: writeTimeout, out: new(bytes.Buffer), wake: make(chan struct{}, 1),
		done: make(chan struct{}), readerDone: make(chan struct{}), writerDone: make(chan struct{})}
	go c.writeLoop()
	return c
}

// send queues msg. It fails if the conn is closed or msg cannot be
// encoded; a queued frame may still be lost if the conn dies before the
// writer gets to it.
func (c *conn) send(msg lnwire.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return fmt.Errorf("wirelink: send %v: %w", msg.MsgType(), ErrConnClosed)
	}
	if err := appendFrame(c.out, msg); err != nil {
		return err
	}
	if c.out.Len() > maxQueued {
		c.closeLocked(fmt.Errorf("wirelink: peer not reading: %d bytes queued", c.out.Len()))
		return fmt.Errorf("wirelink: send %v: %w", msg.MsgType(), ErrConnClosed)
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// close closes the conn for reason err; later calls do nothing.
func (c *conn) close(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(err)
}

func (c *conn) closeLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	c.nc.Close()
}

// closed reports why the conn closed, or nil while it is open.
func (c *conn) closed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	spare := new(bytes.Buffer)
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		c.mu.Lock()
		c.out, spare = spare, c.out
		c.mu.Unlock()
		if spare.Len() == 0 {
			continue
		}
		if c.writeTimeout > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		}
		_, err := c.nc.Write(spare.Bytes())
		spare.Reset()
		if err != nil {
			c.close(fmt.Errorf("wirelink: write: %w", err))
			return
		}
	}
}

// readLoop hands every frame read to handle until the stream ends, a frame
// is malformed or handle fails; then it closes the conn and returns the
// reason.
func (c *conn) readLoop(fr *frameReader, handle func(lnwire.Message) error) error {
	for {
		msg, err := fr.read()
		if err == nil {
			err = handle(msg)
		}
		if err != nil {
			c.close(err)
			return err
		}
	}
}

// handshake sends our hello on nc and reads the peer's, within deadline.
// It returns the frame reader to go on reading nc with.
func handshake(nc net.Conn, deadline time.Time) (*frameReader, error) {
	nc.SetDeadline(deadline)
	defer nc.SetDeadline(time.Time{})
	var b bytes.Buffer
	if err := appendFrame(&b, &hello{version: Version}); err != nil {
		return nil, err
	}
	if _, err := nc.Write(b.Bytes()); err != nil {
		return nil, fmt.Errorf("wirelink: send hello: %w", err)
	}
	fr := newFrameReader(nc)
	msg, err := fr.read()
	if err != nil {
		return nil, fmt.Errorf("wirelink: read hello: %w", err)
	}
	h, ok := msg.(*hello)
	if !ok {
		return nil, fmt.Errorf("%w: %v before hello", ErrMalformed, msg.MsgType())
	}
	if h.version != Version {
		return nil, fmt.Errorf("%w: peer speaks %d, we speak %d", ErrVersion, h.version, Version)
	}
	return fr, nil
}
