package wirelink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/payengine/payengine/graph"
	"github.com/payengine/payengine/link"
)

// Version is the protocol version this package speaks, sent in hello.
const Version = 1

// MaxFrame is the largest frame body (message type and payload) a reader
// accepts: BOLT 1's limit on a Lightning message.
const MaxFrame = 65535

// Errors of the package. Test with errors.Is.
var (
	// ErrMalformed: a frame could not be read as a message of the
	// protocol; the connection that carried it is closed.
	ErrMalformed = errors.New("wirelink: malformed frame")
	// ErrVersion: the peer speaks another version of the protocol.
	ErrVersion = errors.New("wirelink: protocol version mismatch")
	// ErrNotConnected: the client had no connection for longer than
	// Options.ConnectWait; the HTLC (or query) was not sent.
	ErrNotConnected = errors.New("wirelink: not connected")
	// ErrNilCallback: AddHTLC or Reattach was given a nil done.
	ErrNilCallback = errors.New("wirelink: nil result callback")
	// ErrConnClosed: a message was sent on a connection already closed.
	ErrConnClosed = errors.New("wirelink: connection closed")
)

// Message types of the control messages (doc.go lists their layouts).
const (
	msgHello     lnwire.MessageType = 40960
	msgAccepted  lnwire.MessageType = 40962
	msgRejected  lnwire.MessageType = 40964
	msgLocalFail lnwire.MessageType = 40966
	msgQuery     lnwire.MessageType = 40968
	msgStatus    lnwire.MessageType = 40970
	msgForget    lnwire.MessageType = 40972
)

// Status values of a status message.
const (
	statusUnknown uint8 = 1
	statusPending uint8 = 2
	statusClosed  uint8 = 3
)

// Codes of rejected and local_fail.
const (
	codeOther               uint16 = 0
	codeUnknownChannel      uint16 = 1
	codeInsufficientBalance uint16 = 2
	codeTooManyHTLCs        uint16 = 3
	codeDuplicateID         uint16 = 4
	codeClosed              uint16 = 5
)

// codeErrors maps each code but codeOther to its link error.
var codeErrors = [...]error{
	codeUnknownChannel:      link.ErrUnknownChannel,
	codeInsufficientBalance: link.ErrInsufficientBalance,
	codeTooManyHTLCs:        link.ErrTooManyHTLCs,
	codeDuplicateID:         link.ErrDuplicateID,
	codeClosed:              link.ErrClosed,
}

// maxText caps the error text of rejected and local_fail.
const maxText = 1024

// maxForget is how many ids fit in one forget frame.
const maxForget = (MaxFrame - 2) / 8

// errorCode returns the code for err; context errors mean the server is
// stopping, which the client reads as a closed link.
func errorCode(err error) uint16 {
	for code, sentinel := range codeErrors {
		if sentinel != nil && errors.Is(err, sentinel) {
			return uint16(code)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return codeClosed
	}
	return codeOther
}

// remoteError is an error the server's backend returned, rebuilt on the
// client: it reads as the backend's error did and wraps the same link
// sentinel, so errors.Is and link.LocalFailCode treat it alike.
type remoteError struct {
	sentinel error // nil for codeOther
	text     string
}

func (e *remoteError) Error() string {
	if e.text == "" && e.sentinel != nil {
		return e.sentinel.Error()
	}
	return e.text
}

func (e *remoteError) Unwrap() error { return e.sentinel }

// refusal is a rejected or local_fail message.
type refusal struct {
	kind lnwire.MessageType // msgRejected or msgLocalFail
	id   uint64
	code uint16
	text string
}

// newRefusal carries err, its text cut to maxText bytes on a rune boundary.
func newRefusal(kind lnwire.MessageType, id uint64, err error) *refusal {
	text := err.Error()
	if len(text) > maxText {
		cut := maxText
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	return &refusal{kind: kind, id: id, code: errorCode(err), text: text}
}

// err rebuilds the backend's error.
func (m *refusal) err() error {
	var sentinel error
	if int(m.code) < len(codeErrors) {
		sentinel = codeErrors[m.code]
	}
	return &remoteError{sentinel: sentinel, text: m.text}
}

func (m *refusal) MsgType() lnwire.MessageType { return m.kind }

func (m *refusal) Encode(b *bytes.Buffer, _ uint32) error {
	if len(m.text) > maxText {
		return fmt.Errorf("wirelink: error text of %d bytes, at most %d", len(m.text), maxText)
	}
	b.Write(binary.BigEndian.AppendUint64(nil, m.id))
	b.Write(binary.BigEndian.AppendUint16(nil, m.code))
	b.Write(binary.BigEndian.AppendUint16(nil, uint16(len(m.text))))
	b.WriteString(m.text)
	return nil
}

func (m *refusal) Decode(r io.Reader, _ uint32) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(b) < 12 {
		return fmt.Errorf("%w: refusal of %d bytes", ErrMalformed, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[10:]))
	if n > maxText || len(b) != 12+n {
		return fmt.Errorf("%w: refusal of %d bytes with %d bytes of text", ErrMalformed, len(b), n)
	}
	m.id, m.code, m.text = binary.BigEndian.Uint64(b), binary.BigEndian.Uint16(b[8:]), string(b[12:])
	return nil
}

// hello opens a connection.
type hello struct{ version uint16 }

func (m *hello) MsgType() lnwire.MessageType { return msgHello }

func (m *hello) Encode(b *bytes.Buffer, _ uint32) error {
	b.Write(binary.BigEndian.AppendUint16(nil, m.version))
	return nil
}

func (m *hello) Decode(r io.Reader, _ uint32) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(b) < 2 {
		return fmt.Errorf("%w: hello of %d bytes", ErrMalformed, len(b))
	}
	m.version = binary.BigEndian.Uint16(b)
	return nil
}

// idMsg is a message that carries one id: accepted or query.
type idMsg struct {
	kind lnwire.MessageType
	id   uint64
}

func (m *idMsg) MsgType() lnwire.MessageType { return m.kind }

func (m *idMsg) Encode(b *bytes.Buffer, _ uint32) error {
	b.Write(binary.BigEndian.AppendUint64(nil, m.id))
	return nil
}

func (m *idMsg) Decode(r io.Reader, _ uint32) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(b) != 8 {
		return fmt.Errorf("%w: %d-byte payload of type %d, want 8", ErrMalformed, len(b), m.kind)
	}
	m.id = binary.BigEndian.Uint64(b)
	return nil
}

// status answers a query whose outcome is not known.
type status struct {
	id     uint64
	status uint8
}

func (m *status) MsgType() lnwire.MessageType { return msgStatus }

func (m *status) Encode(b *bytes.Buffer, _ uint32) error {
	b.Write(binary.BigEndian.AppendUint64(nil, m.id))
	b.WriteByte(m.status)
	return nil
}

func (m *status) Decode(r io.Reader, _ uint32) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(b) != 9 || b[8] < statusUnknown || b[8] > statusClosed {
		return fmt.Errorf("%w: status payload %x", ErrMalformed, b)
	}
	m.id, m.status = binary.BigEndian.Uint64(b), b[8]
	return nil
}

// forget lists outcomes the client has delivered.
type forget struct{ ids []uint64 }

func (m *forget) MsgType() lnwire.MessageType { return msgForget }

func (m *forget) Encode(b *bytes.Buffer, _ uint32) error {
	if len(m.ids) == 0 || len(m.ids) > maxForget {
		return fmt.Errorf("wirelink: forget of %d ids, want 1 to %d", len(m.ids), maxForget)
	}
	for _, id := range m.ids {
		b.Write(binary.BigEndian.AppendUint64(nil, id))
	}
	return nil
}

func (m *forget) Decode(r io.Reader, _ uint32) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(b) == 0 || len(b)%8 != 0 {
		return fmt.Errorf("%w: forget of %d bytes", ErrMalformed, len(b))
	}
	m.ids = make([]uint64, len(b)/8)
	for i := range m.ids {
		m.ids[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return nil
}

// chanID is the channel_id that carries scid (see the package doc).
func chanID(scid graph.SCID) lnwire.ChannelID {
	var c lnwire.ChannelID
	binary.BigEndian.PutUint64(c[:8], uint64(scid))
	return c
}

// scidOf reads the scid out of a channel_id made by chanID.
func scidOf(c lnwire.ChannelID) (graph.SCID, error) {
	for _, b := range c[8:] {
		if b != 0 {
			return 0, fmt.Errorf("%w: channel_id %x does not carry a short channel id", ErrMalformed, c[:])
		}
	}
	return graph.SCID(binary.BigEndian.Uint64(c[:8])), nil
}

// addMsg is req as update_add_htlc.
func addMsg(req *link.AddHTLC) *lnwire.UpdateAddHTLC {
	return &lnwire.UpdateAddHTLC{ChanID: chanID(req.Channel), ID: req.ID, Amount: lnwire.MilliSatoshi(req.Amount),
		PaymentHash: req.PaymentHash, Expiry: req.Expiry, OnionBlob: req.Onion}
}

// addReq is update_add_htlc m as a link.AddHTLC.
func addReq(m *lnwire.UpdateAddHTLC) (link.AddHTLC, error) {
	scid, err := scidOf(m.ChanID)
	if err != nil {
		return link.AddHTLC{}, err
	}
	return link.AddHTLC{ID: m.ID, Channel: scid, Amount: graph.MilliSat(m.Amount), Expiry: m.Expiry,
		PaymentHash: m.PaymentHash, Onion: m.OnionBlob}, nil
}

// outcomeMsg is res as the message that carries it, or an error if res
// sets none of its fields.
func outcomeMsg(c lnwire.ChannelID, res link.Result) (lnwire.Message, error) {
	switch {
	case res.Preimage != nil:
		return &lnwire.UpdateFulfillHTLC{ChanID: c, ID: res.ID, PaymentPreimage: *res.Preimage}, nil
	case res.Reason != nil:
		return &lnwire.UpdateFailHTLC{ChanID: c, ID: res.ID, Reason: lnwire.OpaqueReason(res.Reason)}, nil
	case res.Malformed != nil:
		return &lnwire.UpdateFailMalformedHTLC{ChanID: c, ID: res.ID, ShaOnionBlob: res.Malformed.OnionHash,
			FailureCode: res.Malformed.Code}, nil
	case res.Local != nil:
		return newRefusal(msgLocalFail, res.ID, res.Local), nil
	}
	return nil, fmt.Errorf("wirelink: htlc %d: result without an outcome", res.ID)
}

// outcomeOf returns the outcome m carries, if it is an outcome message.
func outcomeOf(m lnwire.Message) (link.Result, bool) {
	switch m := m.(type) {
	case *lnwire.UpdateFulfillHTLC:
		pre := m.PaymentPreimage
		return link.Result{ID: m.ID, Preimage: &pre}, true
	case *lnwire.UpdateFailHTLC:
		reason := []byte(m.Reason)
		if reason == nil {
			reason = []byte{} // set even when empty: an unreadable failure
		}
		return link.Result{ID: m.ID, Reason: reason}, true
	case *lnwire.UpdateFailMalformedHTLC:
		return link.Result{ID: m.ID, Malformed: &link.Malformed{Code: m.FailureCode, OnionHash: m.ShaOnionBlob}}, true
	case *refusal:
		if m.kind == msgLocalFail {
			return link.Result{ID: m.id, Local: m.err()}, true
		}
	}
	return link.Result{}, false
}

// appendFrame appends msg to b as a frame. On error b is unchanged.
func appendFrame(b *bytes.Buffer, msg lnwire.Message) error {
	off := b.Len()
	b.Write([]byte{0, 0})
	n, err := lnwire.WriteMessage(b, msg, 0)
	if err != nil {
		b.Truncate(off)
		return fmt.Errorf("wirelink: encode %v: %w", msg.MsgType(), err)
	}
	// WriteMessage keeps the payload within lnwire.MaxMsgBody, so n fits.
	binary.BigEndian.PutUint16(b.Bytes()[off:], uint16(n))
	return nil
}

// frameReader reads frames from a stream.
type frameReader struct {
	r   *bufio.Reader
	buf []byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10), buf: make([]byte, MaxFrame)}
}

// read returns the next message: io.EOF at a clean end of the stream, an
// error wrapping ErrMalformed for a frame that is not a message of the
// protocol, another error if the stream fails.
func (f *frameReader) read() (lnwire.Message, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(f.r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("wirelink: read frame length: %w", err)
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n < 2 {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, n)
	}
	b := f.buf[:n]
	if _, err := io.ReadFull(f.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("wirelink: read frame of %d bytes: %w", n, err)
	}
	return decodeFrame(b)
}

// decodeFrame decodes a frame body. Only the protocol's message types
// reach lnwire's decoders; every decoder reads from a reader bounded by
// the frame.
func decodeFrame(b []byte) (lnwire.Message, error) {
	t := lnwire.MessageType(binary.BigEndian.Uint16(b))
	var msg lnwire.Message
	switch t {
	case lnwire.MsgUpdateAddHTLC, lnwire.MsgUpdateFulfillHTLC, lnwire.MsgUpdateFailHTLC,
		lnwire.MsgUpdateFailMalformedHTLC:
		m, err := lnwire.ReadMessage(bytes.NewReader(b), 0)
		if err != nil {
			return nil, fmt.Errorf("%w: %v: %v", ErrMalformed, t, err)
		}
		if add, ok := m.(*lnwire.UpdateAddHTLC); ok {
			if _, err := scidOf(add.ChanID); err != nil {
				return nil, err
			}
		}
		return m, nil
	case msgHello:
		msg = &hello{}
	case msgAccepted, msgQuery:
		msg = &idMsg{kind: t}
	case msgRejected, msgLocalFail:
		msg = &refusal{kind: t}
	case msgStatus:
		msg = &status{}
	case msgForget:
		msg = &forget{}
	default:
		return nil, fmt.Errorf("%w: message type %d", ErrMalformed, t)
	}
	if err := msg.Decode(bytes.NewReader(b[2:]), 0); err != nil {
		if errors.Is(err, ErrMalformed) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return msg, nil
}
