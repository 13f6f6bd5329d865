package config

import (
	"fmt"
	"strings"

	"github.com/perfbench/perfbench/internal/textx"
)

// String formats the position compiler style: "file:line:col", dropping
// the parts that are unknown.
func (p Pos) String() string {
	switch {
	case p.Line <= 0:
		return p.File
	case p.Col <= 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Error is a configuration error tied to a place in a file. It always
// formats as a single line: "<file>:<line>:<col>: <field>: <msg>".
type Error struct {
	Pos Pos
	// Field is the dotted path of the offending field ("agents.x.timeout",
	// "repo.pairs[0].human"); empty for errors about the whole file.
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	// Quoted user text (a key, a default value) may hold a newline; the CLI
	// promises one line per error.
	return textx.EscapeNewlines(b.String())
}

// BadInput marks configuration errors as the user's bad input (exit
// status 2).
func (e *Error) BadInput() bool { return true }

// BadInputError marks an error not tied to a position (a missing or
// unreadable configuration file) as bad input.
type BadInputError struct{ Err error }

func (e BadInputError) Error() string  { return textx.EscapeNewlines(e.Err.Error()) }
func (e BadInputError) Unwrap() error  { return e.Err }
func (e BadInputError) BadInput() bool { return true }
