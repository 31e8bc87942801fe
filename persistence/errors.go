package persistence

import "errors"

// Errors returned by the ledger. Test for them with errors.Is: they are
// usually wrapped with more context.
var (
	// ErrClosed is returned by every call on a closed Ledger, and by Write
	// calls still waiting for a commit when Close runs.
	ErrClosed = errors.New("persistence: ledger closed")
	// ErrLocked is returned by Open when another Ledger (in this process or
	// another) holds the directory.
	ErrLocked = errors.New("persistence: ledger directory is locked by another open ledger")
	// ErrNotFound is returned by reads and DeletePayment when the record does
	// not exist.
	ErrNotFound = errors.New("persistence: not found")
	// ErrCorrupt is returned when a stored key or record cannot be decoded.
	ErrCorrupt = errors.New("persistence: corrupt record")
	// ErrUnknownVersion is returned when a record carries an encoding version
	// this code does not know; the error names the version.
	ErrUnknownVersion = errors.New("persistence: unknown record version")
	// ErrInvalidRecord is returned by Write for a record that cannot be
	// stored (an unknown status, an oversized field).
	ErrInvalidRecord = errors.New("persistence: invalid record")
	// ErrInvalidOptions is returned by Options.Validate and Open.
	ErrInvalidOptions = errors.New("persistence: invalid options")
)
