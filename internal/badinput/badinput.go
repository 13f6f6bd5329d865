// Package badinput marks errors caused by the user's input (a malformed
// file, an unknown commit, a wrong flag), which the CLI maps to exit
// status 2. Any error in a chain with a BadInput() bool method returning
// true counts, so packages may define their own typed errors.
package badinput

import "fmt"

// Error wraps an error as bad input.
type Error struct{ Err error }

func (e *Error) Error() string  { return e.Err.Error() }
func (e *Error) Unwrap() error  { return e.Err }
func (e *Error) BadInput() bool { return true }

// Wrap marks err as bad input; nil stays nil.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err}
}

// Errorf formats a bad-input error; %w wraps as in fmt.Errorf.
func Errorf(format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...)}
}

// Is reports whether any error in err's chain is bad input.
func Is(err error) bool {
	for err != nil {
		if b, ok := err.(interface{ BadInput() bool }); ok && b.BadInput() {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if Is(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
