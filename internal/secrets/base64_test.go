package secrets

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// b64Secret holds '~' and '?', whose encodings contain '+' and '/': the
// standard and URL alphabets differ on it.
const b64Secret = "sk-~~~?>?>~~~-live-0123456789"

var b64Encodings = map[string]*base64.Encoding{
	"std":     base64.StdEncoding,
	"std-raw": base64.RawStdEncoding,
	"url":     base64.URLEncoding,
	"url-raw": base64.RawURLEncoding,
}

// pureSpan returns the characters [lo, hi) of an encoding that depend on
// the bytes [p, p+n) only: those a scrub must hide.
func pureSpan(p, n int) (lo, hi int) {
	lo = (8*p + 5) / 6     // first character starting at or after bit 8p
	hi = (8 * (p + n)) / 6 // characters ending at or before bit 8(p+n)
	return lo, hi
}

func TestScrubBase64AtEveryAlignment(t *testing.T) {
	if e := base64.StdEncoding.EncodeToString([]byte(b64Secret)); !strings.ContainsAny(e, "+/") {
		t.Fatalf("test secret's encoding %q has no '+' or '/'", e)
	}
	var s Set
	s.AddNamed("K", b64Secret)
	const repl = "[REDACTED:K]"
	for name, enc := range b64Encodings {
		for pre := range 7 { // offsets 0, 1, 2 mod 3, twice
			for suf := range 4 {
				plain := strings.Repeat("u", pre) + b64Secret + strings.Repeat("v", suf)
				e := enc.EncodeToString([]byte(plain))
				in := "Authorization: Basic " + e + "\n"
				out := s.ScrubString(in)
				head, tail, ok := strings.Cut(strings.TrimPrefix(strings.TrimSuffix(out, "\n"), "Authorization: Basic "), repl)
				if !ok || strings.Contains(tail, repl) {
					t.Errorf("%s pre=%d suf=%d: %q scrubbed to %q, want one %s", name, pre, suf, in, out, repl)
					continue
				}
				lo, hi := pureSpan(pre, len(b64Secret))
				// What is left on either side is the encoding's own text,
				// and none of the characters only the secret decides.
				if !strings.HasPrefix(e, head) || !strings.HasSuffix(e, tail) || len(head) > lo || len(e)-len(tail) < hi {
					t.Errorf("%s pre=%d suf=%d: %q scrubbed to %q: secret characters [%d,%d) left visible", name, pre, suf, e, out, lo, hi)
				}
			}
		}
	}
}

func TestScrubBase64Escaped(t *testing.T) {
	var s Set
	s.AddNamed("K", b64Secret)
	unescape := strings.NewReplacer("%2B", "+", "%2F", "/", "%3D", "=", `\/`, "/")
	tested := map[string]int{}
	for pre := range 3 {
		e := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("u", pre) + b64Secret))
		for name, esc := range map[string]string{
			"query": url.QueryEscape(e),
			"path":  url.PathEscape(e),
			"json":  strings.ReplaceAll(e, "/", `\/`),
		} {
			if esc == e {
				continue // nothing to escape at this offset
			}
			tested[name]++
			in := "GET /v1?auth=" + esc + "&x=1"
			out := s.ScrubString(in)
			if !strings.Contains(out, "[REDACTED:K]") || recoverable(unescape.Replace(out), b64Secret) {
				t.Errorf("%s-escaped, offset %d: %q scrubbed to %q", name, pre, in, out)
			}
		}
	}
	if len(tested) != 3 {
		t.Errorf("escapings that changed an encoding: %v, want all three", tested)
	}
}

// A wrapped encoding (coreutils base64 at 76 columns, openssl at 64) is a
// split value: documented as not scrubbed. The test pins that down, so a
// change in either direction updates the docs too.
func TestScrubBase64WrappedIsLikeASplitValue(t *testing.T) {
	var s Set
	s.AddNamed("K", b64Secret)
	e := base64.StdEncoding.EncodeToString([]byte("user:" + strings.Repeat("x", 40) + b64Secret))
	wrapped := e[:76] + "\n" + e[76:]
	if out := s.ScrubString(e); strings.Contains(out, wrapped[76:]) || !strings.Contains(out, "[REDACTED:K]") {
		t.Fatalf("unwrapped encoding not scrubbed: %q", out)
	}
	if out := s.ScrubString(wrapped); out != wrapped {
		t.Errorf("wrapped encoding changed to %q: update the docs on what scrubbing covers", out)
	}
}

func TestScrubBase64DockerConfig(t *testing.T) {
	s := FromEnv([]string{"REGISTRY_PASSWORD=hunter2-registry-pass"}, nil)
	auth := base64.StdEncoding.EncodeToString([]byte("robot$ci:hunter2-registry-pass"))
	out := s.ScrubString(`{"auths":{"r.example":{"auth":"` + auth + `"}}}`)
	if !strings.Contains(out, "[REDACTED:REGISTRY_PASSWORD]") || strings.Contains(out, auth[12:]) {
		t.Errorf("docker config auth not scrubbed: %q", out)
	}
}

func TestScrubBase64ShortSecretsUntouched(t *testing.T) {
	var s Set
	s.AddNamed("SHORT", "abc-1234") // MinBase64Len exactly: encoded forms scrubbed
	s.AddNamed("TINY", "pw-0123")   // MinLen ≤ len < MinBase64Len: raw form only
	for _, v := range []string{"pw-0123", "pw-0123" + "x", "u" + "pw-0123", "uu" + "pw-0123"} {
		for _, enc := range b64Encodings {
			e := enc.EncodeToString([]byte(v))
			if got := s.ScrubString(e); got != e {
				t.Errorf("encoding %q of a %d-byte secret changed to %q", e, len("pw-0123"), got)
			}
		}
	}
	if got := s.ScrubString("pw-0123"); got != "[REDACTED:TINY]" {
		t.Errorf("raw short secret: %q", got)
	}
	for pre := range 3 {
		e := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("u", pre) + "abc-1234"))
		if got := s.ScrubString(e); !strings.Contains(got, "[REDACTED:SHORT]") {
			t.Errorf("offset %d: %q of an 8-byte secret not scrubbed: %q", pre, e, got)
		}
	}
	for _, v := range []string{"", "1234567"} {
		if f := base64Forms(v); f != nil {
			t.Errorf("base64Forms(%q) = %q, want none", v, f)
		}
	}
}

// recoverable reports whether some run of base64 characters in out,
// decoded from any of its four character offsets in either alphabet,
// holds secret: whether a reader could get the secret back.
func recoverable(out, secret string) bool {
	isB64 := func(c rune) bool {
		return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("+/-_", c)
	}
	for _, run := range strings.FieldsFunc(out, func(c rune) bool { return !isB64(c) }) {
		run = strings.NewReplacer("-", "+", "_", "/").Replace(run)
		for off := range 4 {
			if off >= len(run) {
				break
			}
			r := run[off:]
			if len(r)%4 == 1 { // a lone last character decodes to no byte
				r = r[:len(r)-1]
			}
			if d, err := base64.RawStdEncoding.DecodeString(r); err == nil && strings.Contains(string(d), secret) {
				return true
			}
		}
	}
	return false
}

func FuzzScrubBase64(f *testing.F) {
	f.Add("sk-live-0123456789", []byte("user:"), []byte("\n"), false)
	f.Add(b64Secret, []byte{0}, []byte{}, true)
	f.Add("aaaaaaaaaaaaaaaa", []byte("aaaaa"), []byte("aaaa"), false)
	f.Fuzz(func(t *testing.T, secret string, pre, suf []byte, url bool) {
		if len(secret) < MinBase64Len {
			return
		}
		var s Set
		s.AddNamed("K", secret)
		enc := base64.StdEncoding
		if url {
			enc = base64.URLEncoding
		}
		e := enc.EncodeToString(append(append(append([]byte{}, pre...), secret...), suf...))
		if !recoverable(e, secret) {
			t.Fatalf("the check does not find %q in its own encoding %q", secret, e)
		}
		if out := s.ScrubString("a " + e + " b"); recoverable(out, secret) {
			t.Fatalf("secret %q recoverable from %q", secret, out)
		}
	})
}

// BenchmarkScrubString scrubs a 1 MiB agent log holding 5 secrets (each a
// few times, raw and base64-encoded) among log lines and unrelated base64.
func BenchmarkScrubString(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s Set
	var secrets []string
	for i := range 5 {
		v := fmt.Sprintf("sk-%d-%016x%08x", i, rng.Uint64(), rng.Uint32())
		secrets = append(secrets, v)
		s.AddNamed(fmt.Sprintf("KEY_%d", i), v)
	}
	words := []string{"INFO", "step", "tool=bash", `cmd="ls -la /work/repo"`, "exit=0", "tokens=1234", `{"role":"assistant","content":"`, "Running", "tests", "passed", "def", "return", "self.value", "import", "numpy", "as", "np"}
	var log strings.Builder
	for line := 0; log.Len() < 1<<20; line++ {
		fmt.Fprintf(&log, "2026-12-06T21:%02d:%02dZ", line/60%60, line%60)
		for range 4 + rng.IntN(12) {
			log.WriteString(" " + words[rng.IntN(len(words))])
		}
		switch rng.IntN(50) {
		case 0:
			log.WriteString(" key=" + secrets[rng.IntN(5)])
		case 1:
			log.WriteString(" Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+secrets[rng.IntN(5)])))
		case 2, 3:
			blob := make([]byte, 48)
			for i := range blob {
				blob[i] = byte(rng.Uint32())
			}
			log.WriteString(" sha=" + base64.StdEncoding.EncodeToString(blob))
		}
		log.WriteByte('\n')
	}
	in := log.String()
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for b.Loop() {
		_ = s.ScrubString(in)
	}
}

// BenchmarkScrubBase64Heavy scrubs 1 MiB of mostly base64 text (layer
// digests, encoded blobs, basic-auth headers) with 20 secrets: the input
// where candidates keyed by one byte rarely let the scanner skip ahead.
func BenchmarkScrubBase64Heavy(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	var s Set
	var secrets []string
	for i := range 20 {
		v := fmt.Sprintf("tok-%02d-%016x%016x", i, rng.Uint64(), rng.Uint64())
		secrets = append(secrets, v)
		s.AddNamed(fmt.Sprintf("KEY_%02d", i), v)
	}
	var in strings.Builder
	blob := make([]byte, 96)
	for in.Len() < 1<<20 {
		switch rng.IntN(8) {
		case 0:
			in.WriteString(`{"auth":"` + base64.StdEncoding.EncodeToString([]byte("robot:"+secrets[rng.IntN(20)])) + `"}`)
		case 1:
			in.WriteString("Authorization: Basic " + base64.URLEncoding.EncodeToString([]byte("u:"+secrets[rng.IntN(20)])))
		default:
			for i := range blob {
				blob[i] = byte(rng.Uint32())
			}
			in.WriteString(`"layer":"` + base64.StdEncoding.EncodeToString(blob) + `"`)
		}
		in.WriteByte('\n')
	}
	str := in.String()
	b.SetBytes(int64(len(str)))
	b.ResetTimer()
	for b.Loop() {
		_ = s.ScrubString(str)
	}
}
