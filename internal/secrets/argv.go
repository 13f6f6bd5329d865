package secrets

import (
	"regexp"
	"strings"
)

// LooksSecret reports whether an environment variable (or flag) name
// denotes a secret: its upper-cased name contains KEY, TOKEN, SECRET,
// PASSWORD or PASSWD (OPENAI_API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY,
// DB_PASSWORD, AWS_SESSION_TOKEN). TOKEN followed by S is a count, not a
// credential (MAX_TOKENS, LLM_MAX_OUTPUT_TOKENS): such values are numbers
// that would otherwise be scrubbed from every log line they appear in.
func LooksSecret(name string) bool {
	u := strings.ToUpper(name)
	for _, m := range []string{"KEY", "SECRET", "PASSWORD", "PASSWD"} {
		if strings.Contains(u, m) {
			return true
		}
	}
	for rest := u; ; {
		i := strings.Index(rest, "TOKEN")
		if i < 0 {
			return false
		}
		rest = rest[i+len("TOKEN"):]
		if !strings.HasPrefix(rest, "S") {
			return true
		}
	}
}

var (
	// The flag before a shell script: -c, -lc, -ec, ...
	shellScriptFlag = regexp.MustCompile(`^-[A-Za-z]*c$`)
	// NAME=value as a whole argument (env, -e NAME=value, --build-arg).
	assignArg = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	// NAME=value inside a longer argument (a `sh -c` script).
	assignIn = regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)=('[^']*'|"[^"]*"|[^\s'"]+)`)
	// --flag=value or -flag=value as a whole argument.
	flagArg = regexp.MustCompile(`^(--?[A-Za-z0-9][A-Za-z0-9_.-]*)=(.*)$`)
	// --flag value or --flag=value inside a longer argument.
	flagIn = regexp.MustCompile(`(^|\s)(--?[A-Za-z0-9][A-Za-z0-9_.-]*)(=|\s+)('[^']*'|"[^"]*"|[^\s'"-][^\s'"]*)`)
	// scheme://user:password@host
	urlCreds = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)([^/\s@]+)@`)
	// Authorization: Bearer x, X-Api-Key: x (curl -H).
	authHeader = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-goog-api-key)(\s*:\s*)((?:bearer|basic|token)\s+)?([^\s'"]+)`)
)

// secretFlag reports whether a flag (with its dashes) names a secret:
// --api-key, --openai-api-key, -token. --no-X is a switch, not a value.
func secretFlag(flag string) bool {
	name := strings.TrimLeft(flag, "-")
	if strings.HasPrefix(name, "no-") {
		return false
	}
	return LooksSecret(strings.ReplaceAll(name, "-", "_"))
}

// RedactArgv returns argv for display: every secret value of the set is
// replaced by "[REDACTED:NAME]", and arguments that look secret whether or
// not the set knows the value have their value shown as "[REDACTED]":
// NAME=value with a secret-looking NAME (also after -e / --env /
// --build-arg), --api-key=value and --api-key value, user:password@ in
// URLs and Authorization / X-Api-Key headers. The same rules apply inside
// a single argument holding a script (sh -c '...'). argv is not modified.
//
// It is for showing commands (logs, journals, `--dry-run`, reports), not for
// running them.
func (s *Set) RedactArgv(argv []string) []string {
	out := make([]string, len(argv))
	redactNext := false
	for i, a := range argv {
		switch {
		case redactNext:
			out[i] = Redacted
			redactNext = false
			continue
		case strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && secretFlag(a):
			out[i] = a
			// The value follows unless the next word is another long flag.
			redactNext = i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "--")
			continue
		}
		if i > 0 && shellScriptFlag.MatchString(argv[i-1]) {
			// A script (sh -c '...'): hide each secret-looking word, keep
			// the rest readable.
			out[i] = s.redactScript(a)
		} else if m := flagArg.FindStringSubmatch(a); m != nil && secretFlag(m[1]) {
			out[i] = m[1] + "=" + Redacted
		} else if m := flagArg.FindStringSubmatch(a); m != nil {
			// --env=NAME=value
			out[i] = m[1] + "=" + s.redactString(m[2])
		} else if m := assignArg.FindStringSubmatch(a); m != nil && LooksSecret(m[1]) {
			out[i] = m[1] + "=" + Redacted
		} else {
			out[i] = s.redactString(a)
		}
	}
	return out
}

// redactString redacts one argument: a whole NAME=value with a secret
// NAME (the value may hold spaces), else as redactScript.
func (s *Set) redactString(str string) string {
	if m := assignArg.FindStringSubmatch(str); m != nil && LooksSecret(m[1]) && !isVarRef(m[2]) {
		return m[1] + "=" + Redacted
	}
	return s.redactScript(str)
}

// redactScript hides secret-looking assignments, flags, URL passwords and
// auth headers inside str, then the set's known values.
func (s *Set) redactScript(str string) string {
	str = assignIn.ReplaceAllStringFunc(str, func(m string) string {
		name, _, _ := strings.Cut(m, "=")
		if LooksSecret(name) && !isVarRef(m[len(name)+1:]) {
			return name + "=" + Redacted
		}
		return m
	})
	str = flagIn.ReplaceAllStringFunc(str, func(m string) string {
		sm := flagIn.FindStringSubmatch(m)
		if secretFlag(sm[2]) && !isVarRef(sm[4]) {
			return sm[1] + sm[2] + sm[3] + Redacted
		}
		return m
	})
	str = urlCreds.ReplaceAllString(str, "${1}"+Redacted+"@")
	str = authHeader.ReplaceAllString(str, "${1}${2}${3}"+Redacted)
	return s.ScrubString(str)
}

// isVarRef reports whether a value is a shell variable reference
// ("$OPENAI_API_KEY", "${TOKEN}"): it names the secret, it does not hold it,
// and seeing it helps whoever reads the command.
func isVarRef(v string) bool {
	v = strings.TrimLeft(v, `"`)
	return strings.HasPrefix(v, "$") && !strings.HasPrefix(v, "$(")
}

// Display returns argv redacted and quoted for a POSIX shell: the one way
// perfbench prints a command.
func (s *Set) Display(argv []string) string { return ShellQuote(s.RedactArgv(argv)) }

// ShellQuote quotes argv for a POSIX shell: words made only of safe
// characters are left bare, others are single-quoted, each quote inside
// written as
//
//	'\''
func ShellQuote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(a))
	}
	return b.String()
}

func quote(a string) string {
	if a == "" {
		return "''"
	}
	safe := true
	for _, c := range []byte(a) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_@%+=:,./-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// HasURLCredentials reports whether s holds a URL with a password
// (scheme://user:password@host): a value that must not be stored where
// others read it, as a build arg in an image's history.
func HasURLCredentials(s string) bool { return urlCreds.MatchString(s) }
