package forensics

import "strings"

// maxShellDepth bounds the recursion into bash -c '...' and eval: a
// hostile command nesting them deeper is scanned to this depth only.
const maxShellDepth = 4

// maxWords bounds the words of one command line the splitter keeps.
const maxWords = 4096

// SimpleCommands splits a shell command line into its simple commands'
// words, with the reasonable cut of a scanner rather than a shell: quotes
// ('…', "…", backslash) group words; ; & && || | newlines, ( ) { } $( and
// backquotes separate commands; leading VAR=value assignments and the
// wrappers sudo, env, time, nohup, timeout, nice, command, exec and
// xargs are dropped; bash/sh/zsh -c SCRIPT and eval are split again.
// Variables are not expanded and redirections stay words (a path after >
// or < is still a path the command names).
func SimpleCommands(line string) [][]string {
	var out [][]string
	splitInto(line, 0, &out)
	return out
}

func splitInto(line string, depth int, out *[][]string) {
	for _, words := range tokenize(line) {
		words = unwrap(words)
		if len(words) == 0 {
			continue
		}
		if script, ok := shellScript(words); ok && depth < maxShellDepth {
			splitInto(script, depth+1, out)
			continue
		}
		*out = append(*out, words)
	}
}

// tokenize cuts line into commands of words.
func tokenize(line string) [][]string {
	var (
		cmds   [][]string
		words  []string
		cur    strings.Builder
		inWord bool
		total  int
	)
	endWord := func() {
		if inWord && total < maxWords {
			words = append(words, cur.String())
			total++
		}
		cur.Reset()
		inWord = false
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			if line[i] != '\n' {
				cur.WriteByte(line[i])
				inWord = true
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				cur.WriteString(line[i+1:])
				i = len(line)
				break
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
		case c == '$' && i+1 < len(line) && line[i+1] == '(':
			endCmd()
			i++
		case c == '&' && (i > 0 && line[i-1] == '>' || i+1 < len(line) && line[i+1] == '>'):
			// 2>&1, &>file: a redirection, not a separator.
			cur.WriteByte(c)
			inWord = true
		case c == ';' || c == '&' || c == '|' || c == '\n' || c == '(' || c == ')' || c == '`':
			endCmd()
		case (c == '{' || c == '}') && !inWord:
			endCmd()
		case c == ' ' || c == '\t' || c == '\r':
			endWord()
		case c == '#' && !inWord:
			// A comment runs to the end of the line.
			j := strings.IndexByte(line[i:], '\n')
			if j < 0 {
				i = len(line)
			} else {
				i += j - 1
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	endCmd()
	return cmds
}

// unwrap drops leading assignments and wrapper programs with their
// options.
func unwrap(words []string) []string {
	for len(words) > 0 {
		w := words[0]
		if isAssignment(w) {
			words = words[1:]
			continue
		}
		switch base(w) {
		case "sudo", "env", "nohup", "nice", "command", "exec", "xargs", "stdbuf", "time", "builtin":
			words = words[1:]
			for len(words) > 0 && strings.HasPrefix(words[0], "-") {
				words = words[1:]
			}
			continue
		case "timeout":
			words = words[1:]
			for len(words) > 0 && strings.HasPrefix(words[0], "-") {
				words = words[1:]
			}
			if len(words) > 0 {
				words = words[1:] // the duration
			}
			continue
		}
		return words
	}
	return nil
}

func isAssignment(w string) bool {
	i := strings.IndexByte(w, '=')
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		c := w[j]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || j > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// shellScript returns the script of bash -c SCRIPT (any shell, any
// option cluster holding c: -lc, -ec) and of eval WORDS.
func shellScript(words []string) (string, bool) {
	switch base(words[0]) {
	case "bash", "sh", "zsh", "dash", "ksh":
		for i := 1; i < len(words); i++ {
			w := words[i]
			if !strings.HasPrefix(w, "-") || strings.HasPrefix(w, "--") {
				if w == "--" {
					continue
				}
				return "", false
			}
			if strings.ContainsRune(w[1:], 'c') && i+1 < len(words) {
				return words[i+1], true
			}
		}
	case "eval":
		return strings.Join(words[1:], " "), len(words) > 1
	}
	return "", false
}

// base is a program's name without its directory.
func base(w string) string {
	if i := strings.LastIndexByte(w, '/'); i >= 0 {
		return w[i+1:]
	}
	return w
}
