// Package wirelink carries link.Link over a local stream socket (unix or
// TCP): a Client in the payment daemon implements link.Link for the peer
// actors, and a Server next to the network side drives any link.Link
// backend (simnet's Net.Link(), later a real node) with what the client
// sends.
//
// # Wire format
//
// Both directions are a stream of frames. A frame is a 2-byte big-endian
// length L followed by L bytes holding one lnwire message exactly as
// lnwire.WriteMessage writes it: a 2-byte big-endian message type and the
// payload. L is at least 2 and at most 65535, which is also BOLT 1's limit
// on a whole message (type + lnwire.MaxMsgBody), so a 16-bit length can
// carry any Lightning message and no reader ever buffers more than 64 KiB.
// It is BOLT 8's framing without the encryption: the socket is local.
//
// The HTLC messages are BOLT 2's, encoded by lnwire:
//
//	128 update_add_htlc             client -> server   lnwire.UpdateAddHTLC
//	130 update_fulfill_htlc         server -> client   lnwire.UpdateFulfillHTLC
//	131 update_fail_htlc            server -> client   lnwire.UpdateFailHTLC
//	135 update_fail_malformed_htlc  server -> client   lnwire.UpdateFailMalformedHTLC
//
// Their id is link.AddHTLC.ID. The channel_id carries our short channel id:
// its first 8 bytes are the scid, big-endian, and the other 24 are zero.
// BOLT 2's channel_id is derived from the funding outpoint, which the
// engine never learns (it knows its channels by scid, as CLN's sendpay
// does), while the scid names a channel uniquely in 8 bytes; the 24 zero
// bytes keep such an id from passing for a real one (a real channel_id is
// a txid, never zero in 24 bytes) and are checked on reading. In answers
// the server repeats the add's channel_id when it knows it, zero otherwise;
// the client goes by the id alone. update_add_htlc's TLV extension is
// parsed by lnwire and ignored, except that an HTLC with a blinding point
// is refused: link.AddHTLC cannot carry one.
//
// The control messages use BOLT 1's custom range (type >= 32768) and are
// even, so a peer that does not know one fails rather than skips it (BOLT
// 1: "it's ok to be odd"). Integers are big-endian; text is UTF-8.
//
//	40960 hello        both     version u16 [later fields, ignored]
//	40962 accepted     s -> c   id u64
//	40964 rejected     s -> c   id u64, code u16, len u16, text[len]
//	40966 local_fail   s -> c   id u64, code u16, len u16, text[len]
//	40968 query        c -> s   id u64
//	40970 status       s -> c   id u64, status u8
//	40972 forget       c -> s   id u64, repeated (1 to 8191 ids)
//
// hello opens a connection: each side sends its own first and closes the
// connection if the other's version is not Version. accepted and rejected answer every update_add_htlc:
// accepted means the backend took the HTLC (its AddHTLC returned nil);
// rejected means it did not, with the backend's error. local_fail is the
// outcome of a taken HTLC that our own channel refused (link.Result.Local).
// query asks what became of an id; the answer is the outcome message when
// the outcome is known, else status: 1 unknown (the backend never had it),
// 2 pending (the outcome follows when it resolves), 3 closed (the backend
// could not answer). forget tells the server that the client has delivered
// these outcomes, so it may drop its copy.
//
// The codes of rejected and local_fail name the link error they carry:
//
//	0 other (the text says what)   3 link.ErrTooManyHTLCs
//	1 link.ErrUnknownChannel       4 link.ErrDuplicateID
//	2 link.ErrInsufficientBalance  5 link.ErrClosed
//
// The text is the backend's error message, at most 1024 bytes, so that the
// client's error reads as the backend's did.
//
// # Delivery
//
// The server answers every update_add_htlc with accepted or rejected
// before any outcome of that id, so AddHTLC can return the backend's
// verdict. If the connection dies after the client wrote an add and before
// its answer, the server may have taken the HTLC: AddHTLC then reports it
// taken, and after reconnecting the client asks (query) about it and about
// every other HTLC it still waits for. An add the server says it never had
// is sent again on the new connection; the server finishes every frame of
// the old connection before it reads the new one, so that answer is
// final. The server keeps each outcome until the client's forget, and asks
// its backend (link.Link.Reattach) about ids it does not hold, so outcomes
// that resolve while the client is away, or that die with a connection,
// are found by the next query; an outcome no client ever asks about (its
// HTLC was in flight when a client went away for good) stays in the
// server's memory. The server handles one connection's frames in order,
// one at a time, so its backend's AddHTLC should not block. One client at
// a time: a new connection replaces the current one, so two live clients
// of one server would take turns.
package wirelink
