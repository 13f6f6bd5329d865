// Package secrets keeps credentials out of everything perfbench writes or
// prints.
//
// API keys and tokens reach agents through the environment only. A Set
// holds their values and replaces every occurrence with a placeholder
// naming the variable ("[REDACTED:OPENAI_API_KEY]"), never the value: in
// byte slices (Scrub), in streams such as agent logs (Writer), in files
// copied from agents such as trajectories and event logs (ScrubFile,
// ScrubTree), and in command lines shown to users (RedactArgv, which also
// hides arguments that merely look secret).
//
// Scrubbing matches exact values. It cannot recognise a secret that an
// agent transformed otherwise (split across lines, partially printed); the
// JSON- and URL-escaped forms of each value, and for values of at least
// MinBase64Len bytes their base64 forms (inside a basic-auth header or a
// docker config's auth, at any offset; also URL- or "\/"-escaped), are
// added automatically because agents commonly write those. Base64 is
// matched on one line only: an encoding wrapped at a fixed width
// (coreutils base64 and MIME at 76 columns, openssl at 64) splits the
// secret's characters across lines like any split value, and is scrubbed
// only where the secret's part of it lies within one line.
//
// FilterEnv and SearchKeyDenyList keep the credentials of web-search APIs
// away from agents altogether: an agent that can search the web can find
// the human's commit.
package secrets

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// MinLen is the shortest value scrubbed. Shorter values ("1", "true",
// "gpt-4") are not credentials, and replacing them everywhere would mangle
// logs; FromEnv and Add ignore them.
const MinLen = 6

// MinBase64Len is the shortest value whose base64 forms are scrubbed too.
// The stable core of a shorter value's encoding inside a longer string is
// a handful of characters, which random base64 (hashes, image layers)
// would match.
const MinBase64Len = 8

// minBase64Core is the shortest base64 core scrubbed; with MinBase64Len
// bytes every core is longer, it guards the arithmetic.
const minBase64Core = 8

// Redacted replaces values that are hidden without a known name.
const Redacted = "[REDACTED]"

// Set holds secret values to scrub. The zero value and a nil *Set are
// empty sets. A Set is safe for concurrent use; values added while a
// Writer streams apply from its next Write.
type Set struct {
	mu    sync.Mutex // serialises Add
	byVal map[string]string
	order []string // values in the order added, for a stable index
	index atomic.Pointer[index]
}

// index is an immutable snapshot used by the scanners, so scrubbing never
// takes a lock. Entries are keyed by their first two bytes (every entry has
// at least MinLen): keyed by one byte, base64 forms, which start with
// letters and digits, made nearly every position of a log a candidate.
type index struct {
	pairs  [1 << 16 / 64]uint64 // bit a<<8|b: some entry starts with a, b
	first  [256]bool            // some entry starts with this byte
	byPair map[uint16][]entry   // entries by first two bytes, longest first
	n      int
	maxLen int
}

// Every entry has two bytes to key on.
const _ = uint(MinLen - 2)

func pair(a, b byte) uint16 { return uint16(a)<<8 | uint16(b) }

func (ix *index) hasPair(k uint16) bool { return ix.pairs[k>>6]&(1<<(k&63)) != 0 }

type entry struct {
	val  []byte
	repl []byte
	name string
}

// FromEnv collects the values of the variables in env ("NAME=value") whose
// name LooksSecret, plus those named in extraNames (compared
// case-insensitively). Values shorter than MinLen are ignored: too short to
// be a credential, and scrubbing them would mangle logs.
func FromEnv(env []string, extraNames []string) *Set {
	s := &Set{}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if LooksSecret(name) || slices.ContainsFunc(extraNames, func(n string) bool { return strings.EqualFold(n, name) }) {
			s.AddNamed(name, val)
		}
	}
	return s
}

// Add adds values replaced by "[REDACTED]". Values shorter than MinLen are
// ignored.
func (s *Set) Add(values ...string) { s.AddNamed("", values...) }

// AddNamed adds values replaced by "[REDACTED:name]" (or "[REDACTED]" when
// name is ""). Values shorter than MinLen are ignored. A value already in
// the set keeps its first name. Each line of a multi-line value (a PEM key)
// is added too, since logs often show such values a line at a time.
func (s *Set) AddNamed(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byVal == nil {
		s.byVal = map[string]string{}
	}
	changed := false
	add := func(v string) {
		if len(v) < MinLen {
			return
		}
		if _, ok := s.byVal[v]; ok {
			return
		}
		s.byVal[v] = name
		s.order = append(s.order, v)
		changed = true
	}
	for _, v := range values {
		for _, form := range variants(v) {
			add(form)
		}
		if strings.Contains(v, "\n") {
			for line := range strings.Lines(v) {
				line = strings.TrimSpace(line)
				for _, form := range variants(line) {
					add(form)
				}
			}
		}
	}
	if changed {
		s.index.Store(s.build())
	}
}

// variants returns v and the forms in which agents commonly write it:
// JSON-escaped (trajectories, event files), URL-escaped and base64-encoded.
func variants(v string) []string {
	forms := []string{v}
	for _, html := range []bool{false, true} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) == nil {
			j := strings.TrimSuffix(b.String(), "\n")
			forms = append(forms, j[1:len(j)-1])
		}
	}
	forms = append(forms, url.QueryEscape(v), url.PathEscape(v))
	forms = append(forms, base64Forms(v)...)
	slices.Sort(forms)
	return slices.Compact(forms)
}

// base64Forms returns, for a value of at least MinBase64Len bytes, what
// its base64 encoding always contains, in the standard and URL alphabets:
// the whole encoding, padded and not (the value encoded alone), and for
// each of the three offsets mod 3 at which the value can start inside a
// longer encoded string ("user:KEY" in a basic-auth header) the core of
// characters that depend on the value's bytes only. The characters at the
// core's ends mix in the neighbouring bytes and stay visible: a few bits,
// not the secret. Each form holding '+', '/' or '=' comes escaped too: in a
// URL query (%2B, %2F, %3D), a URL path (%2F) and as JSON that escapes '/'
// ("\/", as PHP's json_encode writes it).
func base64Forms(v string) []string {
	if len(v) < MinBase64Len {
		return nil
	}
	var forms []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		forms = append(forms, enc.EncodeToString([]byte(v)), enc.WithPadding(base64.NoPadding).EncodeToString([]byte(v)))
		raw := enc.WithPadding(base64.NoPadding)
		for off := range 3 {
			// Encode the value after off placeholder bytes: the first
			// characters that involve a placeholder bit are not the
			// value's (none at offset 0, 2 at 1, 3 at 2); the last one is
			// mixed with the next byte unless the value ends a group.
			buf := make([]byte, off+len(v))
			copy(buf[off:], v)
			e := raw.EncodeToString(buf)
			head := [3]int{0, 2, 3}[off]
			tail := 0
			if len(buf)%3 != 0 {
				tail = 1
			}
			if core := e[head : len(e)-tail]; len(core) >= minBase64Core {
				forms = append(forms, core)
			}
		}
	}
	// Escaping is per character, so the escaped core is what the escaped
	// encoding of a longer string contains. variants drops duplicates.
	var escaped []string
	for _, f := range forms {
		if strings.ContainsAny(f, "+/=") {
			escaped = append(escaped, url.QueryEscape(f), url.PathEscape(f), strings.ReplaceAll(f, "/", `\/`))
		}
	}
	return append(forms, escaped...)
}

func (s *Set) build() *index {
	ix := &index{byPair: map[uint16][]entry{}}
	for _, v := range s.order {
		repl := Redacted
		if n := s.byVal[v]; n != "" {
			repl = "[REDACTED:" + n + "]"
		}
		k := pair(v[0], v[1])
		ix.byPair[k] = append(ix.byPair[k], entry{val: []byte(v), repl: []byte(repl), name: s.byVal[v]})
		ix.pairs[k>>6] |= 1 << (k & 63)
		ix.first[v[0]] = true
		ix.maxLen = max(ix.maxLen, len(v))
		ix.n++
	}
	for _, es := range ix.byPair {
		// Longest first: of two secrets matching at one position the
		// longer one wins, so no tail of a secret is left visible.
		slices.SortStableFunc(es, func(a, b entry) int { return cmp.Compare(len(b.val), len(a.val)) })
	}
	return ix
}

func (s *Set) snapshot() *index {
	if s == nil {
		return nil
	}
	return s.index.Load()
}

// Len returns the number of values scrubbed (escaped variants included).
func (s *Set) Len() int {
	ix := s.snapshot()
	if ix == nil {
		return 0
	}
	return ix.n
}

// Scrub returns b with every occurrence of a secret replaced by
// "[REDACTED:NAME]". Matching is leftmost, then longest. When there is
// nothing to replace it may return b itself.
func (s *Set) Scrub(b []byte) []byte {
	ix := s.snapshot()
	if ix == nil {
		return b
	}
	// Sized for the common case, a few or no replacements: growing from
	// nil copied a large input several times.
	out, _, _ := ix.scan(make([]byte, 0, len(b)), b, true, nil)
	return out
}

// ScrubString is Scrub for strings.
func (s *Set) ScrubString(str string) string {
	if s.snapshot() == nil {
		return str
	}
	return string(s.Scrub([]byte(str)))
}

// scan appends src, scrubbed, to dst. Unless final, it stops at the first
// position where src's remainder is a proper prefix of a secret, because
// the next bytes decide whether it matches; it returns how much of src it
// consumed. Every decision it takes is the one it would take with the
// whole input, which is why streaming and whole-buffer scrubbing agree.
// The name of every value replaced is added to found when it is not nil.
func (ix *index) scan(dst, src []byte, final bool, found map[string]bool) (out []byte, consumed, replaced int) {
	i := 0
	for i < len(src) {
		if i+1 == len(src) {
			// One byte left: it cannot be a whole entry (two bytes at
			// least), only the start of one the next bytes may complete.
			if !final && ix.first[src[i]] {
				return dst, i, replaced
			}
			dst = append(dst, src[i])
			break
		}
		k := pair(src[i], src[i+1])
		if !ix.hasPair(k) {
			j := i + 1
			for j+1 < len(src) && !ix.hasPair(pair(src[j], src[j+1])) {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j
			continue
		}
		cands := ix.byPair[k]
		rest := src[i:]
		if !final && len(rest) < ix.maxLen {
			for _, e := range cands {
				if len(e.val) > len(rest) && bytes.HasPrefix(e.val, rest) {
					return dst, i, replaced
				}
			}
		}
		matched := false
		for _, e := range cands {
			if bytes.HasPrefix(rest, e.val) {
				dst = append(dst, e.repl...)
				i += len(e.val)
				replaced++
				matched = true
				if found != nil {
					found[e.name] = true
				}
				break
			}
		}
		if !matched {
			dst = append(dst, src[i])
			i++
		}
	}
	return dst, len(src), replaced
}

// Writer returns a writer that scrubs what passes through it to w. A secret
// split across Write calls is still replaced: the writer holds back the
// end of the input while it is a proper prefix of some secret (at most the
// longest secret's length - 1 bytes) until the next Write or Close. Close
// flushes and closes w if it is an io.Closer. The result is exactly
// s.Scrub of everything written. It is safe for concurrent use.
func (s *Set) Writer(w io.Writer) io.WriteCloser {
	return &writer{set: s, w: w}
}

type writer struct {
	set      *Set
	w        io.Writer
	mu       sync.Mutex
	held     []byte
	out      []byte
	replaced int
	found    map[string]bool // names replaced; nil unless a Scrubber
	err      error
	closed   bool
}

// Unnamed is how Scrubber.Found names a value added without a name.
const Unnamed = "unnamed"

// Scrubber is a Writer that also tells which secrets it replaced.
type Scrubber struct{ writer }

// Scrubber returns a writer like Writer's that records the names of the
// secrets it replaces.
func (s *Set) Scrubber(w io.Writer) *Scrubber {
	return &Scrubber{writer{set: s, w: w, found: map[string]bool{}}}
}

// Found returns the names of the secrets replaced so far, sorted (Unnamed
// for values added without a name). Call it after Close for the whole
// input.
func (sc *Scrubber) Found() []string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	names := make([]string, 0, len(sc.found))
	for n := range sc.found {
		names = append(names, cmp.Or(n, Unnamed))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

var errClosed = errors.New("secrets: write to closed writer")

func (sw *writer) Write(p []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return 0, errClosed
	}
	if sw.err != nil {
		return 0, sw.err
	}
	ix := sw.set.snapshot()
	if ix == nil && len(sw.held) == 0 {
		if _, err := sw.w.Write(p); err != nil {
			sw.err = err
			return 0, err
		}
		return len(p), nil
	}
	sw.held = append(sw.held, p...)
	if err := sw.flush(ix, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (sw *writer) flush(ix *index, final bool) error {
	var consumed, n int
	if ix == nil {
		sw.out, consumed = append(sw.out[:0], sw.held...), len(sw.held)
	} else {
		sw.out, consumed, n = ix.scan(sw.out[:0], sw.held, final, sw.found)
	}
	sw.replaced += n
	sw.held = sw.held[:copy(sw.held, sw.held[consumed:])]
	if len(sw.out) > 0 {
		if _, err := sw.w.Write(sw.out); err != nil {
			sw.err = err
			return err
		}
	}
	return nil
}

// Close writes what was held back and closes the underlying writer when it
// is an io.Closer.
func (sw *writer) Close() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return nil
	}
	sw.closed = true
	var errs []error
	if sw.err == nil && len(sw.held) > 0 {
		errs = append(errs, sw.flush(sw.set.snapshot(), true))
	}
	if c, ok := sw.w.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
