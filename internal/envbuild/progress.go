// The Condenser: an engine's build output, on a terminal, as one line per
// Dockerfile step. It reads three formats, as their engines print them:
//
//   - the legacy Docker builder (docker/cli's `docker build` with
//     DOCKER_BUILDKIT=0, the builder of Docker 20.10 here): "Step 3/4 : RUN
//     ...", " ---> Running in <container>", " ---> Using cache",
//     " ---> <image id>" ending a step, "Removing intermediate container",
//     "Successfully built" and "Successfully tagged", the RUN's own output
//     unprefixed in between (its stderr coloured "\x1b[91m...\x1b[0m"), and
//     on failure "The command '...' returned a non-zero code: N" or, for
//     the other instructions, the daemon's message ("COPY failed: ...").
//     Docker 23+ (and Debian's 20.10) open it with the banner "DEPRECATED:
//     The legacy builder is deprecated...". testdata/progress/legacy_*.txt
//     are captured from that engine.
//   - BuildKit's plain progress (moby/buildkit util/progress/progressui,
//     printer.go, textMux.printVtx): a vertex opens with "#N <name>", the
//     Dockerfile steps named "[2/3] RUN ..." or "[stage 2/3] ..."; its logs
//     and statuses follow as "#N <seconds> <line>" or "#N <status>"; it
//     ends with "#N DONE 0.4s", "#N CACHED", "#N ERROR: <message>" or
//     "#N CANCELED"; "#N ..." marks a vertex put aside while another
//     prints. After the vertices, a failed build prints a "------" block
//     quoting the step and "ERROR: failed to solve: ...".
//   - podman's, from buildah (containers/buildah imagebuildah,
//     stage_executor.go): "STEP 2/3: RUN ..." (with "[1/2] " before it in
//     a multi-stage build), "--> Using cache <id>", "--> <id>" after a
//     step's commit, "COMMIT <tag>", "Successfully tagged <name>", the full
//     image id, and on failure `Error: building at STEP "RUN ...": while
//     running runtime: exit status 1` (older: "error building at STEP").
//
// The steps' own output is never printed: each step keeps its last lines
// (tailLines of at most maxTailLine bytes, in buffers reused line after
// line), so a step printing 100 MB holds no more memory than one printing
// a line, and Failure reports the step that failed with those lines.
// Output is read in any chunks: lines end at \n, \r\n or a lone \r (a
// progress line rewritten in place), and lines longer than maxLine are
// cut. Escape sequences and control characters never reach the terminal.

package envbuild

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/perfbench/perfbench/internal/textx"
)

const (
	// tailLines is how many of a step's last lines a failure shows.
	tailLines = 20
	// maxTailLine bounds one kept line, maxLine one input line (the rest
	// of a longer one is dropped), maxLabel a step's text on its line.
	maxTailLine = 512
	maxLine     = 4096
	maxLabel    = 100
	// maxActive bounds the BuildKit vertices followed at once: past it
	// the oldest is forgotten (parallel stages are a handful).
	maxActive = 32
)

type buildFormat int

const (
	formatUnknown buildFormat = iota
	formatLegacy
	formatBuildKit
	formatPodman
)

// Condenser turns an engine's build output (the legacy builder's, BuildKit's
// plain progress, podman's) into one line per step on a terminal, and
// keeps what a failure report needs.
//
// A step's line is written when the step starts, without its end, and
// finished when the step is: "step 3/4: RUN make (12.5s)", "(cached)",
// "(failed after 2.0s)", "(canceled)", "(did not finish)". When BuildKit
// runs steps in parallel, a step that ends while another's line is open
// gets a whole line of its own, and the open step's line is written again,
// whole, when it ends. Write never fails, so an engine is never stopped by
// its progress display; it is safe for concurrent use.
type Condenser struct {
	w io.Writer
	// now is the clock of the legacy builder's and podman's step times
	// (BuildKit prints its own).
	now func() time.Time

	mu      sync.Mutex
	line    []byte // the line being read, at most maxLine bytes
	cr      bool   // the last byte read was \r: a \n right after it ends nothing
	scratch []byte // the line cleaned of control characters
	format  buildFormat
	seq     int
	active  []*step // started, not ended (more than one only with BuildKit)
	open    *step   // the step whose line is written but not finished
	failed  *step   // the first step that failed
	general ring    // the lines outside any step
	// buildErr is the first error line outside any step (an engine's
	// "Error response from daemon: ...", BuildKit's "ERROR: failed to
	// solve: ..."): the failure when no step failed.
	buildErr string
	closed   bool
}

// step is one Dockerfile step, or a BuildKit vertex that is none
// (label "": "[internal] load metadata ...", "exporting to image").
type step struct {
	key   int
	label string // "step 2/3: RUN ..." as printed
	// name is the BuildKit vertex's name as the engine prints it.
	name  string
	start time.Time
	// cached: the engine reused the step's layer.
	cached bool
	// status is why it failed: "failed", "canceled", "did not finish".
	status string
	tail   ring
}

// title is what a failure names: the step's line, or the vertex's name.
func (s *step) title() string {
	if s.label != "" {
		return s.label
	}
	return textx.Truncate(s.name, maxLabel)
}

// ring keeps the last tailLines lines written to it, each in a buffer of
// its own that later lines reuse.
type ring struct {
	lines [tailLines][]byte
	next  int
	n     int
}

func (r *ring) add(b []byte) {
	slot := r.lines[r.next][:0]
	if len(b) > maxTailLine {
		cut := maxTailLine
		for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(b[cut]); i++ {
			cut--
		}
		slot = append(append(slot, b[:cut]...), textx.Ellipsis...)
	} else {
		slot = append(slot, b...)
	}
	r.lines[r.next] = slot
	r.next = (r.next + 1) % tailLines
	r.n = min(r.n+1, tailLines)
}

// each calls f on the kept lines, oldest first.
func (r *ring) each(f func(string)) {
	for i := range r.n {
		f(string(r.lines[(r.next-r.n+i+tailLines)%tailLines]))
	}
}

// NewCondenser writes condensed progress to w.
func NewCondenser(w io.Writer) *Condenser { return &Condenser{w: w, now: time.Now} }

// Write takes the engine's output in any chunks.
func (c *Condenser) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	if c.closed {
		return n, nil
	}
	for len(p) > 0 {
		if c.cr {
			c.cr = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			c.take(p)
			break
		}
		c.take(p[:i])
		c.cr = p[i] == '\r'
		c.endLine()
		p = p[i+1:]
	}
	return n, nil
}

// take appends to the current line what fits in maxLine.
func (c *Condenser) take(b []byte) {
	if room := maxLine - len(c.line); room < len(b) {
		b = b[:max(room, 0)]
	}
	c.line = append(c.line, b...)
}

// Close flushes a last partial line. A step still running then did not
// finish (the engine was stopped, or its output cut): it counts as failed.
func (c *Condenser) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if len(c.line) > 0 {
		c.endLine()
	}
	for len(c.active) > 0 {
		s := c.active[0]
		if s.label == "" {
			c.drop(s) // a vertex left open, e.g. BuildKit's "#0 building with ..."
			continue
		}
		c.fail(s, "did not finish", "")
	}
	c.closed = true
	return nil
}

// Failure is the failing step and its last lines, "" when none failed.
// When the build failed outside any step (a Dockerfile the engine cannot
// parse, a context it cannot read), it is the engine's error with the
// lines before it. Call it after Close.
func (c *Condenser) Failure() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	var tail *ring
	switch {
	case c.failed != nil:
		fmt.Fprintf(&b, "%s %s:", c.failed.title(), c.failed.status)
		tail = &c.failed.tail
	case c.buildErr != "":
		fmt.Fprintf(&b, "build failed: %s", c.buildErr)
		tail = &c.general
	default:
		return ""
	}
	tail.each(func(l string) {
		if c.failed == nil && l == c.buildErr {
			return
		}
		b.WriteString("\n    ")
		b.WriteString(l)
	})
	return b.String()
}

// endLine hands the line read to the format's parser and starts the next.
func (c *Condenser) endLine() {
	line := cleanLine(c.scratch[:0], c.line)
	c.scratch = line
	c.line = c.line[:0]
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	if c.format == formatUnknown {
		c.format = detectFormat(line)
	}
	switch c.format {
	case formatLegacy:
		c.legacy(line)
	case formatBuildKit:
		c.buildkit(line)
	case formatPodman:
		c.podman(line)
	default:
		c.outside(line)
	}
}

func detectFormat(line []byte) buildFormat {
	switch {
	case legacyStep(line) != "",
		bytes.HasPrefix(line, []byte("Sending build context to Docker daemon")),
		bytes.HasPrefix(line, []byte("DEPRECATED: The legacy builder is deprecated")):
		return formatLegacy
	case line[0] == '#':
		if _, _, ok := vertexLine(line); ok {
			return formatBuildKit
		}
	case bytes.HasPrefix(line, []byte("Emulate Docker CLI using podman")):
		return formatPodman
	}
	if _, _, ok := podmanStep(line); ok {
		return formatPodman
	}
	return formatUnknown
}

// outside keeps a line that belongs to no step.
func (c *Condenser) outside(line []byte) {
	c.general.add(line)
	if c.buildErr == "" && len(line) >= 5 && strings.EqualFold(string(line[:5]), "error") {
		c.buildErr = textx.Truncate(string(line), maxTailLine)
	}
}

// current is the step of a sequential engine (legacy, podman).
func (c *Condenser) current() *step {
	if len(c.active) == 0 {
		return nil
	}
	return c.active[len(c.active)-1]
}

// --- the legacy builder ---

func (c *Condenser) legacy(line []byte) {
	cur := c.current()
	if text := legacyStep(line); text != "" {
		c.endAll()
		c.begin(c.nextKey(), "step "+text, "")
		return
	}
	switch {
	case bytes.HasPrefix(line, []byte(" --->")):
		v := bytes.TrimSpace(line[len(" --->"):])
		switch {
		case cur == nil:
			c.outside(line)
		case string(v) == "Using cache":
			cur.cached = true
		case bytes.HasPrefix(v, []byte("Running in ")):
		case len(v) == 0 || isHexID(v): // "FROM scratch" has no id
			c.end(cur, c.since(cur))
		default:
			cur.tail.add(line) // " ---> [Warning] ..."
		}
	case bytes.HasPrefix(line, []byte("Removing intermediate container ")):
	case bytes.HasPrefix(line, []byte("Successfully built ")), bytes.HasPrefix(line, []byte("Successfully tagged ")):
		c.endAll()
	case cur != nil && bytes.HasPrefix(line, []byte("The command '")) && bytes.Contains(line, []byte("returned a non-zero code")):
		c.fail(cur, "failed", string(line))
	case cur != nil:
		cur.tail.add(line)
	default:
		c.outside(line)
	}
}

// legacyStep parses "Step 3/4 : RUN x" (or the older "Step 3 : RUN x")
// into "3/4: RUN x"; "" when line is no step.
func legacyStep(line []byte) string {
	rest, ok := bytes.CutPrefix(line, []byte("Step "))
	if !ok {
		return ""
	}
	num, text, ok := bytes.Cut(rest, []byte(" : "))
	if !ok || !isStepNumber(num) {
		return ""
	}
	return string(num) + ": " + string(text)
}

// isStepNumber reports whether b is "N" or "N/M".
func isStepNumber(b []byte) bool {
	n, m, slash := bytes.Cut(b, []byte("/"))
	return isDigits(n) && (!slash || isDigits(m))
}

func isDigits(b []byte) bool {
	if len(b) == 0 || len(b) > 9 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isHexID reports whether b is an image id: 12 to 64 hex digits, with or
// without "sha256:".
func isHexID(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("sha256:"))
	if len(b) < 10 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// --- BuildKit ---

func (c *Condenser) buildkit(line []byte) {
	key, rest, ok := vertexLine(line)
	if !ok {
		c.outside(line)
		return
	}
	s := c.vertex(key)
	if s == nil {
		switch {
		case len(rest) == 0, string(rest) == "...", string(rest) == "CACHED", string(rest) == "CANCELED",
			bytes.HasPrefix(rest, []byte("DONE")):
			return // the end of a vertex no longer followed (past maxActive)
		case bytes.HasPrefix(rest, []byte("ERROR")):
			c.outside(rest)
			return
		}
		name := string(rest)
		c.begin(key, vertexLabel(name), name)
		return
	}
	switch {
	case string(rest) == "...":
	case string(rest) == "DONE" || bytes.HasPrefix(rest, []byte("DONE ")):
		d, err := strconv.ParseFloat(strings.TrimSuffix(string(bytes.TrimSpace(rest[len("DONE"):])), "s"), 64)
		if err != nil || d < 0 {
			c.end(s, c.since(s))
		} else {
			c.end(s, time.Duration(d*float64(time.Second)))
		}
	case string(rest) == "CACHED":
		s.cached = true
		c.end(s, 0)
	case string(rest) == "CANCELED":
		c.fail(s, "canceled", "")
	case bytes.HasPrefix(rest, []byte("ERROR")):
		c.fail(s, "failed", string(rest))
	case string(rest) == s.name:
		// the vertex's name again, as it becomes the one printing
	default:
		s.tail.add(stripLogTime(rest))
	}
}

// vertexLine parses "#5 rest" into 5 and "rest".
func vertexLine(line []byte) (int, []byte, bool) {
	if len(line) < 2 || line[0] != '#' {
		return 0, nil, false
	}
	num, rest, _ := bytes.Cut(line[1:], []byte(" "))
	if !isDigits(num) {
		return 0, nil, false
	}
	n := 0
	for _, d := range num {
		n = n*10 + int(d-'0')
	}
	return n, rest, true
}

// vertexLabel is the printed line of a vertex named name: a Dockerfile
// step ("[2/3] RUN x", "[build 2/3] RUN x") becomes "step 2/3: RUN x" or
// "step 2/3 (build): RUN x"; other vertices get no line.
func vertexLabel(name string) string {
	inner, text, ok := strings.Cut(strings.TrimPrefix(name, "["), "] ")
	if !ok || !strings.HasPrefix(name, "[") {
		return ""
	}
	stage, num := "", inner
	if i := strings.LastIndexByte(inner, ' '); i >= 0 {
		stage, num = inner[:i], inner[i+1:]
	}
	if !strings.Contains(num, "/") || !isStepNumber([]byte(num)) {
		return ""
	}
	if stage != "" {
		return "step " + num + " (" + stage + "): " + text
	}
	return "step " + num + ": " + text
}

// stripLogTime drops the seconds BuildKit puts before a log line
// ("0.254 hello" is "hello"); a status line ("transferring context: 2B
// done") stays.
func stripLogTime(b []byte) []byte {
	t, rest, _ := bytes.Cut(b, []byte(" "))
	i := bytes.IndexByte(t, '.')
	if i <= 0 || !isDigits(t[:i]) || !isDigits(t[i+1:]) {
		return b
	}
	return rest
}

func (c *Condenser) vertex(key int) *step {
	for _, s := range c.active {
		if s.key == key {
			return s
		}
	}
	return nil
}

// --- podman (buildah) ---

func (c *Condenser) podman(line []byte) {
	cur := c.current()
	if num, text, ok := podmanStep(line); ok {
		c.endAll()
		c.begin(c.nextKey(), "step "+num+": "+text, "")
		return
	}
	if rest, ok := bytes.CutPrefix(line, []byte("--> ")); ok {
		switch {
		case bytes.HasPrefix(rest, []byte("Using cache ")):
			if cur != nil {
				cur.cached = true
			}
		case isHexID(bytes.TrimSpace(rest)):
			c.endAll()
		case cur != nil:
			cur.tail.add(line)
		default:
			c.outside(line)
		}
		return
	}
	_, afterStage := cutStage(line)
	switch {
	case bytes.HasPrefix(afterStage, []byte("COMMIT")),
		bytes.HasPrefix(line, []byte("Successfully tagged ")):
		c.endAll()
	case cur == nil && isHexID(line):
	case cur != nil && (bytes.HasPrefix(line, []byte("Error: building at STEP")) || bytes.HasPrefix(line, []byte("error building at STEP"))):
		c.fail(cur, "failed", string(line))
	case cur != nil:
		cur.tail.add(line)
	default:
		c.outside(line)
	}
}

// podmanStep parses "STEP 2/3: RUN x" or "[1/2] STEP 2/3: RUN x" into
// "2/3" (or "2/3 (stage 1/2)") and "RUN x".
func podmanStep(line []byte) (num, text string, ok bool) {
	stage, rest := cutStage(line)
	rest, ok = bytes.CutPrefix(rest, []byte("STEP "))
	if !ok {
		return "", "", false
	}
	n, t, ok := bytes.Cut(rest, []byte(": "))
	if !ok || !isStepNumber(n) {
		return "", "", false
	}
	num = string(n)
	if stage != nil {
		num += " (stage " + string(stage) + ")"
	}
	return num, string(t), true
}

// cutStage splits podman's "[1/2] " off a line.
func cutStage(line []byte) (stage, rest []byte) {
	if len(line) > 0 && line[0] == '[' {
		if in, after, ok := bytes.Cut(line[1:], []byte("] ")); ok && isStepNumber(in) {
			return in, after
		}
	}
	return nil, line
}

// --- steps ---

func (c *Condenser) nextKey() int {
	c.seq++
	return c.seq
}

func (c *Condenser) since(s *step) time.Duration { return c.now().Sub(s.start) }

// begin starts a step, writing its line when no other is open.
func (c *Condenser) begin(key int, label, name string) {
	if len(c.active) >= maxActive {
		c.drop(c.active[0])
	}
	if label != "" {
		label = textx.Truncate(textx.OneLine(label), maxLabel)
	}
	s := &step{key: key, label: label, name: name, start: c.now()}
	c.active = append(c.active, s)
	c.showNext()
}

// showNext opens the line of the oldest running step when none is open.
func (c *Condenser) showNext() {
	if c.open != nil {
		return
	}
	for _, s := range c.active {
		if s.label != "" {
			c.open = s
			io.WriteString(c.w, s.label)
			return
		}
	}
}

// end finishes a step that succeeded, after d.
func (c *Condenser) end(s *step, d time.Duration) {
	status := "(" + formatSeconds(d) + ")"
	if s.cached {
		status = "(cached)"
	}
	c.finish(s, status)
}

// endAll ends the running steps of a sequential engine: the next step
// started, or the build ended.
func (c *Condenser) endAll() {
	for len(c.active) > 0 {
		s := c.active[len(c.active)-1]
		c.end(s, c.since(s))
	}
}

// fail finishes a step that failed (why: "failed", "canceled", "did not
// finish"), with msg, the engine's error, as its last line. The first
// failure is the build's; a step canceled after it is not.
func (c *Condenser) fail(s *step, why, msg string) {
	if msg != "" {
		s.tail.add([]byte(msg))
	}
	s.status = why
	status := "(" + why + ")"
	if why == "failed" {
		status = "(failed after " + formatSeconds(c.since(s)) + ")"
	}
	if c.failed == nil || c.failed.status == "canceled" && why != "canceled" {
		c.failed = s
	}
	c.finish(s, status)
}

// finish writes the end of a step's line (or the whole line, when another
// is open) and forgets the step.
func (c *Condenser) finish(s *step, status string) {
	c.remove(s)
	if s.label == "" {
		return
	}
	if c.open == s {
		io.WriteString(c.w, " "+status+"\n")
		c.open = nil
	} else {
		if c.open != nil {
			io.WriteString(c.w, "\n") // written again, whole, when it ends
			c.open = nil
		}
		io.WriteString(c.w, s.label+" "+status+"\n")
	}
	c.showNext()
}

// drop forgets a step without writing anything but the end of its open
// line.
func (c *Condenser) drop(s *step) {
	c.remove(s)
	if c.open == s {
		io.WriteString(c.w, "\n")
		c.open = nil
	}
}

// remove forgets a running step.
func (c *Condenser) remove(s *step) {
	for i, a := range c.active {
		if a == s {
			c.active = append(c.active[:i], c.active[i+1:]...)
			return
		}
	}
}

// formatSeconds prints a step's time: tenths below ten seconds, whole
// seconds above ("1m5s").
func formatSeconds(d time.Duration) string {
	if d < 10*time.Second {
		return strconv.FormatFloat(max(d, 0).Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// cleanLine appends to dst the line without its escape sequences (CSI
// "\x1b[91m", OSC "\x1b]0;title\x07", two-byte ones) and control
// characters (C0 but tab, DEL, C1 and the bytes 0x80–0x9F of invalid
// UTF-8, which a terminal may read as C1), tabs as spaces.
func cleanLine(dst, line []byte) []byte {
	for i := 0; i < len(line); {
		b := line[i]
		switch {
		case b == 0x1b:
			i = skipEscape(line, i)
			continue
		case b == '\t':
			dst = append(dst, ' ')
		case b < 0x20 || b == 0x7f:
		case b < utf8.RuneSelf:
			dst = append(dst, b)
		default:
			r, n := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && n == 1 {
				if b > 0x9f {
					dst = append(dst, b)
				}
			} else if r < 0x80 || r > 0x9f {
				dst = append(dst, line[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return dst
}

// skipEscape returns the index after the escape sequence at line[i].
func skipEscape(line []byte, i int) int {
	i++
	if i >= len(line) {
		return i
	}
	switch line[i] {
	case '[': // CSI: parameters and intermediates, then a final byte
		for i++; i < len(line); i++ {
			if line[i] >= 0x40 && line[i] <= 0x7e {
				return i + 1
			}
		}
		return i
	case ']': // OSC: up to BEL or ST
		for i++; i < len(line); i++ {
			if line[i] == 0x07 {
				return i + 1
			}
			if line[i] == 0x1b && i+1 < len(line) && line[i+1] == '\\' {
				return i + 2
			}
		}
		return i
	}
	// intermediates ("\x1b(B"), then a final byte
	for i < len(line) && line[i] >= 0x20 && line[i] <= 0x2f {
		i++
	}
	return i + 1
}
