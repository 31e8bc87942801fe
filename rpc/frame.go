package rpc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Errors of frameReader.next after which the stream cannot be followed:
// the server answers once and closes the connection.
var (
	errTooLarge = errors.New("rpc: request too large")
	errFraming  = errors.New("rpc: invalid JSON framing")
)

// frameReader cuts a byte stream into JSON values the way Core Lightning's
// daemon reads its socket: values follow each other with optional
// whitespace between them, and no newline framing. It only finds where a
// value ends (brackets, strings, escapes); whether the value is valid JSON
// is for the caller to check, so a malformed but balanced request is
// answered and the connection goes on.
type frameReader struct {
	r     *bufio.Reader
	max   int64
	buf   []byte
	stack []byte
}

// Memory a connection keeps between requests: its read buffer, and a value
// buffer only as long as keepBytes (a larger one, grown by a large request,
// is let go). An idle connection costs its goroutine and about 4 KiB, so
// thousands of them are cheap, whatever they sent before.
const (
	readBufferBytes = 4 << 10
	keepBytes       = 64 << 10
)

func newFrameReader(r io.Reader, max int64) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, readBufferBytes), max: max}
}

// next returns the next value's bytes, valid until the following call. It
// returns io.EOF at a clean end of stream, io.ErrUnexpectedEOF inside a
// value (with the bytes read of it), errTooLarge when a value exceeds max
// bytes, errFraming for a closing bracket that matches nothing (with the
// bytes up to it), and the reader's own errors.
func (f *frameReader) next() ([]byte, error) {
	if cap(f.buf) > keepBytes {
		f.buf = nil
	}
	if cap(f.stack) > keepBytes {
		f.stack = nil
	}
	f.buf, f.stack = f.buf[:0], f.stack[:0]
	c, err := f.skipSpace()
	if err != nil {
		return nil, err
	}
	switch c {
	case '{', '[':
		return f.container(c)
	case '"':
		if err := f.add(c); err != nil {
			return nil, err
		}
		if err := f.str(); err != nil {
			return f.buf, err
		}
		return f.buf, nil
	case '}', ']', ',', ':':
		f.buf = append(f.buf, c)
		return f.buf, errFraming
	}
	return f.scalar(c)
}

func (f *frameReader) skipSpace() (byte, error) {
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

func (f *frameReader) add(c byte) error {
	if int64(len(f.buf)) >= f.max {
		return errTooLarge
	}
	f.buf = append(f.buf, c)
	return nil
}

// container reads an object or array up to its matching closing bracket.
func (f *frameReader) container(open byte) ([]byte, error) {
	if err := f.add(open); err != nil {
		return nil, err
	}
	f.stack = append(f.stack, open)
	for len(f.stack) > 0 {
		c, err := f.r.ReadByte()
		if err != nil {
			return f.buf, unexpected(err)
		}
		if err := f.add(c); err != nil {
			return nil, err
		}
		switch c {
		case '"':
			if err := f.str(); err != nil {
				return f.buf, err
			}
		case '{', '[':
			f.stack = append(f.stack, c)
		case '}', ']':
			top := f.stack[len(f.stack)-1]
			if (top == '{') != (c == '}') {
				return f.buf, errFraming
			}
			f.stack = f.stack[:len(f.stack)-1]
		}
	}
	return f.buf, nil
}

// str reads the rest of a string whose opening quote is in buf.
func (f *frameReader) str() error {
	escaped := false
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		if err := f.add(c); err != nil {
			return err
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			return nil
		}
	}
}

// scalar reads a number, literal or garbage word up to the next delimiter,
// which it leaves in the stream, or up to what has arrived: a request is
// never a bare scalar, so it is answered as an error however it is cut,
// and waiting for a delimiter that may never come would hang the client.
func (f *frameReader) scalar(first byte) ([]byte, error) {
	if err := f.add(first); err != nil {
		return nil, err
	}
	for {
		if f.r.Buffered() == 0 {
			return f.buf, nil
		}
		b, err := f.r.Peek(1)
		if err == io.EOF {
			return f.buf, nil
		}
		if err != nil {
			return nil, err
		}
		switch b[0] {
		case ' ', '\t', '\n', '\r', '{', '}', '[', ']', ',', ':', '"':
			return f.buf, nil
		}
		f.r.ReadByte()
		if err := f.add(b[0]); err != nil {
			return nil, err
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return fmt.Errorf("rpc: read: %w", err)
}
