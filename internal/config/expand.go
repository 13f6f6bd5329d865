package config

import (
	"errors"
	"fmt"
	"strings"
)

// Expand replaces ${VAR} references in s, shell/compose style:
//
//	${VAR}            the value, "" when unset
//	${VAR:-default}   default when VAR is unset or empty
//	${VAR-default}    default when VAR is unset
//	${VAR:?message}   error naming VAR and message when unset or empty
//	${VAR?message}    error when unset
//	${VAR:+alt}       alt when VAR is set and not empty, else ""
//	${VAR+alt}        alt when VAR is set, else ""
//
// Defaults, messages and alternatives are expanded too, and only when
// used, so they may nest: ${A:-${B:-x}}. They end at the first "}" that
// closes no nested reference; a literal "}" cannot appear in them. "$${"
// is a literal "${". A "$" not followed by "{" ("$", "$5", "$NAME") is
// left as it is. An unterminated reference ("${X") or an invalid name
// ("${1X}", "${}") is an error. lookup may be nil (nothing is set).
func Expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	x := expander{src: s, lookup: lookup}
	out, _, err := x.text(0, 0, true)
	return out, err
}

// maxExpandDepth bounds nesting of references inside defaults.
const maxExpandDepth = 32

// errUnclosed is returned by text when the input ends inside a reference;
// the reference that started it turns it into a message naming itself.
var errUnclosed = errors.New("unclosed reference")

type expander struct {
	src    string
	lookup func(string) (string, bool)
}

// text expands src from i up to the end (depth 0) or up to the "}" that
// closes the enclosing reference (depth > 0, the "}" is not consumed). It
// returns the expansion and where it stopped. When eval is false it only
// checks the syntax, so that an unused default cannot fail or look
// anything up.
func (x *expander) text(i, depth int, eval bool) (string, int, error) {
	var b strings.Builder
	for i < len(x.src) {
		c := x.src[i]
		switch {
		case c == '}' && depth > 0:
			return b.String(), i, nil
		case c != '$':
			b.WriteByte(c)
			i++
		case strings.HasPrefix(x.src[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(x.src[i:], "${"):
			v, next, err := x.reference(i, depth+1, eval)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(v)
			i = next
		default:
			b.WriteByte('$')
			i++
		}
	}
	if depth > 0 {
		return "", 0, errUnclosed
	}
	return b.String(), i, nil
}

// reference expands the reference starting with "${" at start and returns
// the index after its closing "}".
func (x *expander) reference(start, depth int, eval bool) (string, int, error) {
	if depth > maxExpandDepth {
		return "", 0, fmt.Errorf("variable references nested more than %d deep", maxExpandDepth)
	}
	i := start + 2
	nameEnd := i
	if nameEnd < len(x.src) && isNameStart(x.src[nameEnd]) {
		nameEnd++
		for nameEnd < len(x.src) && isNameChar(x.src[nameEnd]) {
			nameEnd++
		}
	}
	name := x.src[i:nameEnd]
	if nameEnd >= len(x.src) {
		return "", 0, x.unclosed(start)
	}
	if name == "" {
		if x.src[nameEnd] == '}' {
			return "", 0, errors.New(`empty variable name in "${}"`)
		}
		return "", 0, x.invalidName(start)
	}
	op, ok := operatorAt(x.src, nameEnd)
	if !ok {
		return "", 0, x.invalidName(start)
	}
	if op == "}" {
		if !eval {
			return "", nameEnd + 1, nil
		}
		v, _ := x.lookup(name)
		return v, nameEnd + 1, nil
	}
	value, set := "", false
	if eval {
		value, set = x.lookup(name)
	}
	useWord := eval && operatorUsesWord(op, value, set)
	word, end, err := x.text(nameEnd+len(op), depth, useWord)
	if errors.Is(err, errUnclosed) {
		return "", 0, x.unclosed(start)
	}
	if err != nil {
		return "", 0, err
	}
	if !eval {
		return "", end + 1, nil
	}
	switch op {
	case ":-", "-", ":+", "+":
		if useWord {
			return word, end + 1, nil
		}
		if op == ":+" || op == "+" {
			return "", end + 1, nil
		}
		return value, end + 1, nil
	default: // ":?", "?"
		if !useWord {
			return value, end + 1, nil
		}
		what := "is not set"
		if op == ":?" {
			what = "is not set or empty"
		}
		if word == "" {
			return "", 0, fmt.Errorf("required variable %s %s", name, what)
		}
		return "", 0, fmt.Errorf("required variable %s %s: %s", name, what, word)
	}
}

// operatorAt returns the operator after a variable name: "}" or one of
// ":-", "-", ":?", "?", ":+", "+".
func operatorAt(s string, i int) (string, bool) {
	for _, op := range []string{"}", ":-", ":?", ":+", "-", "?", "+"} {
		if strings.HasPrefix(s[i:], op) {
			return op, true
		}
	}
	return "", false
}

// operatorUsesWord reports whether the word after op is used (the default,
// the alternative, or the error message) for a variable in that state.
func operatorUsesWord(op, value string, set bool) bool {
	switch op {
	case ":-", ":?":
		return !set || value == ""
	case "-", "?":
		return !set
	case ":+":
		return set && value != ""
	default: // "+"
		return set
	}
}

func (x *expander) unclosed(start int) error {
	return fmt.Errorf("unterminated variable reference %s (missing \"}\")", quoteShort(x.src[start:]))
}

// invalidName reports a reference whose name is not a name; without any
// "}" after it, the missing "}" is the likelier mistake.
func (x *expander) invalidName(start int) error {
	ref := x.src[start:]
	end := strings.IndexByte(ref, '}')
	if end < 0 {
		return x.unclosed(start)
	}
	ref = ref[:end+1]
	return fmt.Errorf("invalid variable reference %s (a name is letters, digits and _, not starting with a digit)", quoteShort(ref))
}

func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isNameChar(c byte) bool { return isNameStart(c) || '0' <= c && c <= '9' }
