// Package store holds the sentinel errors shared by every storage adapter, so
// domain packages can tell "absent" from "broken" without importing a driver.
package store

import "errors"

var (
	// ErrNotFound means the record does not exist (or is no longer active).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a unique key is already taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means a conditional update lost a race or found the record
	// in an unexpected state (for example a code already redeemed).
	ErrConflict = errors.New("conflict")
)
