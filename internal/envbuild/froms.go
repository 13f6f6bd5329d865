package envbuild

import (
	"regexp"
	"strconv"
	"strings"
)

// Bases returns the images a Dockerfile builds on, in order and once
// each: the FROM images and the images of COPY --from, with the ARGs
// declared before the first FROM substituted (their defaults, or the
// build args given), leaving out scratch and the names (or indices) of
// earlier stages — and first, the frontend image of a `# syntax=`
// directive, which BuildKit pulls. These are what the engine would pull
// when missing, so the build checks each first, and their ids enter the
// hash.
func Bases(dockerfile []byte, buildArgs map[string]string) []string {
	lines := logicalLines(dockerfile)
	global := map[string]string{}
	stages := map[string]bool{}
	nStages := 0
	var out []string
	if ref := syntaxDirective(dockerfile); ref != "" {
		out = append(out, ref)
	}
	add := func(ref string) {
		if ref == "" || strings.EqualFold(ref, "scratch") {
			return
		}
		for _, o := range out {
			if o == ref {
				return
			}
		}
		out = append(out, ref)
	}
	for _, l := range lines {
		instr, rest := splitInstruction(l)
		switch instr {
		case "ARG":
			if nStages > 0 {
				continue // a stage's ARG is not visible in FROM
			}
			for _, w := range strings.Fields(rest) {
				name, def, hasDef := strings.Cut(w, "=")
				val, given := buildArgs[name]
				switch {
				case given:
					global[name] = val
				case hasDef:
					global[name] = expand(unquote(def), global)
				default:
					global[name] = ""
				}
			}
		case "FROM":
			words := strings.Fields(rest)
			var image, name string
			for i := 0; i < len(words); i++ {
				w := words[i]
				if strings.HasPrefix(w, "--") {
					continue
				}
				if image == "" {
					image = expand(w, global)
					continue
				}
				if strings.EqualFold(w, "as") && i+1 < len(words) {
					name = strings.ToLower(words[i+1])
				}
				break
			}
			if image != "" && !stages[strings.ToLower(image)] {
				add(image)
			}
			if name != "" {
				stages[name] = true
			}
			nStages++
		case "COPY":
			for _, w := range strings.Fields(rest) {
				if !strings.HasPrefix(w, "--") {
					break
				}
				if len(w) <= len("--from=") || !strings.EqualFold(w[:len("--from=")], "--from=") {
					continue
				}
				from := expand(w[len("--from="):], global)
				if _, err := strconv.Atoi(from); err == nil || stages[strings.ToLower(from)] {
					continue
				}
				add(from)
			}
		}
	}
	return out
}

var escapeDirective = regexp.MustCompile(`^#\s*escape\s*=\s*(\S)\s*$`)
var directive = regexp.MustCompile(`^#\s*[a-zA-Z]+\s*=`)

var syntaxLine = regexp.MustCompile(`(?i)^#\s*syntax\s*=\s*(\S+)\s*$`)

// syntaxDirective is the image of a `# syntax=` parser directive ("" when
// none): directives stand before any other line.
func syntaxDirective(src []byte) string {
	text := strings.TrimPrefix(strings.ReplaceAll(string(src), "\r\n", "\n"), "\ufeff")
	for _, raw := range strings.Split(text, "\n") {
		t := strings.TrimSpace(raw)
		if m := syntaxLine.FindStringSubmatch(t); m != nil {
			return m[1]
		}
		if !directive.MatchString(t) {
			return ""
		}
	}
	return ""
}

// logicalLines splits a Dockerfile into its instructions: comments and
// blank lines dropped, lines ending in the escape character (\, or ` by
// the escape directive) joined.
func logicalLines(src []byte) []string {
	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	escape := byte('\\')
	var out []string
	var cur strings.Builder
	inDirectives := true
	for _, raw := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(raw)
		if inDirectives {
			if m := escapeDirective.FindStringSubmatch(trimmed); m != nil && (m[1] == "\\" || m[1] == "`") {
				escape = m[1][0]
				continue
			}
			if directive.MatchString(trimmed) {
				continue
			}
			inDirectives = false
		}
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() > 0) {
			continue // comments and blank lines inside a continuation too
		}
		if trimmed == "" {
			continue
		}
		if trimmed[len(trimmed)-1] == escape {
			cur.WriteString(trimmed[:len(trimmed)-1])
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func splitInstruction(l string) (string, string) {
	instr, rest, _ := strings.Cut(strings.TrimSpace(l), " ")
	if i := strings.IndexByte(instr, '\t'); i >= 0 {
		instr, rest = instr[:i], instr[i+1:]+" "+rest
	}
	return strings.ToUpper(instr), strings.TrimSpace(rest)
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// expand substitutes $NAME, ${NAME}, ${NAME:-word} and ${NAME:+word} as
// the Dockerfile does in FROM; an unknown name is empty.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			body := s[i+2 : i+2+end]
			i += 2 + end
			name, word, op := body, "", ""
			if j := strings.Index(body, ":"); j >= 0 && j+1 < len(body) && (body[j+1] == '-' || body[j+1] == '+') {
				name, op, word = body[:j], body[j:j+2], body[j+2:]
			}
			v, set := vars[name]
			switch op {
			case ":-":
				if !set || v == "" {
					v = expand(word, vars)
				}
			case ":+":
				if set && v != "" {
					v = expand(word, vars)
				} else {
					v = ""
				}
			}
			b.WriteString(v)
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j == i+1 {
			b.WriteByte(c)
			continue
		}
		b.WriteString(vars[s[i+1:j]])
		i = j - 1
	}
	return b.String()
}
