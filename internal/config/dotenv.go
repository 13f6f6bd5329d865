package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/joho/godotenv"
)

// Vars is where ${VAR} references and defaults such as $LLM_MODEL are
// looked up: the process environment first, then .env files.
type Vars struct {
	// Process looks up the process environment (os.LookupEnv); nil means
	// none, for tests.
	Process func(string) (string, bool)
	// Dot holds the variables of .env files (LoadDotEnv).
	Dot map[string]string
}

// Lookup returns a variable's value; the process environment wins over
// .env, as with docker compose, so that a one-off VAR=x on the command
// line overrides the file.
func (e Vars) Lookup(name string) (string, bool) {
	if e.Process != nil {
		if v, ok := e.Process(name); ok {
			return v, true
		}
	}
	v, ok := e.Dot[name]
	return v, ok
}

// LoadDotEnv reads <dir>/.env for each dir in order and merges them: a
// variable set by an earlier file is not overridden by a later one. A
// missing file is skipped; a directory given twice is read once. The
// process environment is neither read nor changed.
//
// The syntax is godotenv's: KEY=value, optional "export " prefix, single
// quotes (literal), double quotes (\n escapes, $VAR from earlier lines),
// comments and blank lines.
func LoadDotEnv(dirs ...string) (map[string]string, error) {
	out := map[string]string{}
	read := map[string]bool{}
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("dotenv %s: %w", dir, err)
		}
		if read[abs] {
			continue
		}
		read[abs] = true
		path := filepath.Join(dir, ".env")
		src, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, BadInputError{fmt.Errorf("dotenv %s: %w", path, pathErrorCause(err))}
		}
		vars, err := parseDotEnv(path, src)
		if err != nil {
			return nil, err
		}
		for k, v := range vars {
			if _, earlier := out[k]; !earlier {
				out[k] = v
			}
		}
	}
	return out, nil
}

// parseDotEnv parses one .env file. godotenv's errors carry no line
// number, so the failing line is found by re-parsing prefixes of the file.
func parseDotEnv(file string, src []byte) (map[string]string, error) {
	vars, err := godotenv.UnmarshalBytes(src)
	if err != nil {
		return nil, &Error{Pos: Pos{File: file, Line: failingLine(src)}, Msg: dotEnvMessage(err)}
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if name == "" || strings.ContainsFunc(name, unicode.IsSpace) {
			return nil, &Error{Pos: Pos{File: file, Line: lineDefining(src, name)}, Msg: fmt.Sprintf("invalid variable name %s", quoteShort(name))}
		}
	}
	return vars, nil
}

// lineStarts returns the offset of the start of each line of src.
func lineStarts(src []byte) []int {
	starts := []int{0}
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// failingLine returns the line after the longest prefix of whole lines
// that still parses: the statement that breaks the file starts there. (The
// shortest failing prefix would be wrong: a valid multi-line quoted value
// fails while cut in half.)
func failingLine(src []byte) int {
	starts := lineStarts(src)
	for n := len(starts) - 1; n > 0; n-- {
		if _, err := godotenv.UnmarshalBytes(src[:starts[n]]); err == nil {
			return n + 1
		}
	}
	return 1
}

// lineDefining returns the first line by which the file defines name.
func lineDefining(src []byte, name string) int {
	starts := append(lineStarts(src), len(src))
	for n := 1; n < len(starts); n++ {
		vars, err := godotenv.UnmarshalBytes(src[:starts[n]])
		if _, ok := vars[name]; ok && err == nil {
			return n
		}
	}
	return 1
}

// dotEnvMessage shortens godotenv's messages, which quote the rest of the
// file.
func dotEnvMessage(err error) string {
	msg := err.Error()
	if cut, _, found := strings.Cut(msg, " near "); found {
		return cut
	}
	if strings.HasPrefix(msg, "unterminated quoted value") {
		return "unterminated quoted value"
	}
	return msg
}

// pathErrorCause drops the *fs.PathError wrapper, whose text repeats the
// path the caller already names, keeping errors.Is(err, fs.ErrNotExist).
func pathErrorCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
