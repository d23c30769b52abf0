// Package store holds the sentinel errors shared by every storage adapter, so
// domain packages can tell "absent" from "broken" without importing a driver.
package store

import (
	"context"
	"errors"
)

var (
	// ErrNotFound means the record does not exist (or is no longer active).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a unique key is already taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means a conditional update lost a race or found the record
	// in an unexpected state (for example a code already redeemed).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable means the store gave no answer: it is down, stalled,
	// or failing writes. Adapters wrap every such failure with it.
	ErrUnavailable = errors.New("storage unavailable")
)

// Unavailable reports whether err is storage failing to answer rather than
// answering "no": the caller must say "try again", never "not found",
// "invalid" or "signed out". A request's deadline passing while it waited
// for storage counts too.
func Unavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
