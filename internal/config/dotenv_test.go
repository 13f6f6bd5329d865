package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeDotEnv(t *testing.T, dir, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadDotEnvSyntax(t *testing.T) {
	dir := writeDotEnv(t, t.TempDir(), `# a comment

export EXPORTED=yes
PLAIN=value # trailing comment
SINGLE='literal $PLAIN # not a comment'
DOUBLE="line1\nline2 ${PLAIN}"
   SPACED = padded   
EMPTY=
`)
	got, err := LoadDotEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"EXPORTED": "yes",
		"PLAIN":    "value",
		"SINGLE":   "literal $PLAIN # not a comment",
		"DOUBLE":   "line1\nline2 value",
		"SPACED":   "padded",
		"EMPTY":    "",
	}
	if !maps.Equal(got, want) {
		t.Errorf("LoadDotEnv = %q\nwant %q", got, want)
	}
}

func TestLoadDotEnvFirstDirWins(t *testing.T) {
	first := writeDotEnv(t, t.TempDir(), "A=first\n")
	second := writeDotEnv(t, t.TempDir(), "A=second\nB=second\n")
	missing := t.TempDir()
	got, err := LoadDotEnv(missing, first, second, first)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"A": "first", "B": "second"}; !maps.Equal(got, want) {
		t.Errorf("LoadDotEnv = %q, want %q", got, want)
	}
	if got, err := LoadDotEnv(); err != nil || len(got) != 0 {
		t.Errorf("LoadDotEnv() = %q, %v", got, err)
	}
}

func TestLoadDotEnvSameDirOnce(t *testing.T) {
	dir := writeDotEnv(t, t.TempDir(), "A=1\n")
	t.Chdir(dir)
	got, err := LoadDotEnv(".", dir, "")
	if err != nil || !maps.Equal(got, map[string]string{"A": "1"}) {
		t.Errorf("LoadDotEnv = %q, %v", got, err)
	}
}

func TestEnvProcessWinsOverDotEnv(t *testing.T) {
	env := Vars{
		Process: lookupIn(map[string]string{"A": "process", "EMPTY": ""}),
		Dot:     map[string]string{"A": "dot", "B": "dot", "EMPTY": "dot"},
	}
	for name, want := range map[string]string{"A": "process", "B": "dot", "EMPTY": ""} {
		if v, ok := env.Lookup(name); !ok || v != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", name, v, ok, want)
		}
	}
	if _, ok := env.Lookup("C"); ok {
		t.Error("Lookup(C) found an unset variable")
	}
	if _, ok := (Vars{}).Lookup("PATH"); ok {
		t.Error("the zero Env must not read the process environment")
	}
}

func TestLoadDotEnvErrors(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{"A=1\nB=2\nC='unterminated\nD=4\n", ":3: unterminated quoted value"},
		{"A=1\n\n# c\nBAD-NAME=1\n", `:4: unexpected character "-" in variable name`},
		{"A='multi\nline'\nB=1\nC D=1\n", `:4: invalid variable name "C D"`},
		{"=x\n", `:1: invalid variable name ""`},
	} {
		dir := writeDotEnv(t, t.TempDir(), tc.content)
		_, err := LoadDotEnv(dir)
		path := filepath.Join(dir, ".env")
		if err == nil || err.Error() != path+tc.want {
			t.Errorf("%q: err = %v, want %s%s", tc.content, err, path, tc.want)
			continue
		}
		if !isBadInput(err) {
			t.Errorf("%q: %T is not bad input", tc.content, err)
		}
	}
}

func TestLoadDotEnvUnreadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".env"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDotEnv(dir)
	if err == nil || !isBadInput(err) {
		t.Errorf("a directory named .env: err = %v", err)
	}
}

// renderDotEnv writes vars back in .env syntax, or reports that a value
// cannot be written so that godotenv reads it back: godotenv finds the
// closing quote by "not preceded by \" and then trims every quote
// character from both ends, so a value ending in \ cannot be quoted at
// all, and one ending in " only in single quotes; single quotes cannot
// hold ' (there is no escape) nor \r (CRLF is normalised before parsing).
func renderDotEnv(vars map[string]string) (string, bool) {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		v := vars[k]
		switch {
		case strings.HasSuffix(v, `\`):
			return "", false
		case !strings.ContainsAny(v, "'\r"):
			b.WriteString(k + "='" + v + "'\n")
		case strings.HasSuffix(v, `"`):
			return "", false
		default:
			escaped := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`, "\r", `\r`).Replace(v)
			b.WriteString(k + `="` + escaped + "\"\n")
		}
	}
	return b.String(), true
}

// FuzzDotEnv checks that parsing never panics, that errors are one line
// naming the file and a line, and that a parsed file means the same when
// written back out (for every value godotenv's quoting can represent; see
// renderDotEnv).
func FuzzDotEnv(f *testing.F) {
	for _, seed := range []string{
		"", "A=1", "export A=1\n", "A='x'\nB=\"y\\n$A\"\n", "# c\n\nA = b # c\n", "A: yaml\n",
		"A='multi\nline'\n", "A=\"unterminated\n", "BAD-KEY=1\n", "A B=1\n", "=x\n", "A=\"\\\"q\\\"\"\n",
		"A=\"a\r\nb\"\r\n", "A=${B}\n", "A='\\'\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) {
		vars, err := parseDotEnv("f.env", []byte(content))
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "f.env:") {
				t.Fatalf("bad error message %q", msg)
			}
			var cerr *Error
			if !errors.As(err, &cerr) || cerr.Pos.Line < 1 {
				t.Fatalf("error without a line: %#v", err)
			}
			return
		}
		rendered, ok := renderDotEnv(vars)
		if !ok {
			return
		}
		again, err := parseDotEnv("f.env", []byte(rendered))
		if err != nil {
			t.Fatalf("rendering %q of %q does not parse: %v", rendered, vars, err)
		}
		if !maps.Equal(vars, again) {
			t.Fatalf("round trip of %q:\n first %q\nrender %q\n again %q", content, vars, rendered, again)
		}
	})
}
