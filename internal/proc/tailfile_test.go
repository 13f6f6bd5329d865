package proc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// text returns n bytes of numbered lines, so a wrong tail cannot pass by
// accident.
func text(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %06d of the agent log\n", i)
	}
	return b.Bytes()[:n]
}

func readLog(t *testing.T, path string) (header string, body []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(data, []byte("[perfbench: ")) {
		i := bytes.IndexByte(data, '\n')
		return string(data[:i+1]), data[i+1:]
	}
	return "", data
}

func TestTailFileKeepsTail(t *testing.T) {
	const limit = 1000
	path := filepath.Join(t.TempDir(), "agent_stdout.txt")
	tf, err := NewTailFile(path, limit)
	if err != nil {
		t.Fatal(err)
	}
	all := text(10 * limit)
	rng := rand.New(rand.NewPCG(1, 2))
	for rest := all; len(rest) > 0; {
		n := min(1+rng.IntN(37), len(rest))
		if m, err := tf.Write(rest[:n]); err != nil || m != n {
			t.Fatalf("Write = %d, %v", m, err)
		}
		rest = rest[n:]
		// While writing, the file never holds more than 2*cap of data.
		hdr, body := readLog(t, path)
		if len(body) > 2*limit {
			t.Fatalf("file holds %d bytes (+%d header) during the run, cap %d", len(body), len(hdr), limit)
		}
		if !bytes.HasSuffix(all[:len(all)-len(rest)], body) {
			t.Fatalf("file content is not the tail of what was written")
		}
	}
	if err := tf.Close(); err != nil {
		t.Fatal(err)
	}
	hdr, body := readLog(t, path)
	if len(body) != limit {
		t.Errorf("kept %d bytes, want %d", len(body), limit)
	}
	if !bytes.Equal(body, all[len(all)-len(body):]) {
		t.Errorf("kept bytes are not the tail of what was written")
	}
	dropped := len(all) - len(body)
	if want := fmt.Sprintf("[perfbench: %d earlier bytes dropped, cap %d bytes]\n", dropped, limit); hdr != want {
		t.Errorf("header %q, want %q", hdr, want)
	}
	st := tf.Stats()
	want := LogStats{Path: path, Bytes: int64(len(all)), Kept: int64(len(body)), Dropped: int64(dropped), Cap: limit, Truncated: true}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	if _, err := tf.Write([]byte("x")); err == nil {
		t.Errorf("Write after Close succeeded")
	}
	if err := tf.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temp files left behind: %v", ents)
	}
}

func TestTailFileUnderCapIsUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.txt")
	tf, err := NewTailFile(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	all := text(999)
	for i := 0; i < len(all); i += 100 {
		tf.Write(all[i:min(i+100, len(all))])
	}
	if err := tf.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Equal(data, all) {
		t.Errorf("content changed under the cap")
	}
	if st := tf.Stats(); st.Truncated || st.Dropped != 0 || st.Kept != 999 || st.Bytes != 999 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestTailFileBetweenCapAndTwiceCapIsCutAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.txt")
	tf, _ := NewTailFile(path, 100)
	all := text(150)
	tf.Write(all)
	if data, _ := os.ReadFile(path); !bytes.Equal(data, all) {
		t.Errorf("under 2*cap the file must hold everything while running")
	}
	tf.Close()
	hdr, body := readLog(t, path)
	if hdr != "[perfbench: 50 earlier bytes dropped, cap 100 bytes]\n" || !bytes.Equal(body, all[50:]) {
		t.Errorf("got %q + %q", hdr, body)
	}
}

func TestTailFileHugeSingleWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.txt")
	tf, _ := NewTailFile(path, 64)
	tf.Write(text(10))
	all := append(text(10), text(5000)...)
	tf.Write(all[10:])
	tf.Close()
	_, body := readLog(t, path)
	if !bytes.Equal(body, all[len(all)-64:]) {
		t.Errorf("body %q", body)
	}
}

func TestTailFileKeepsUTF8Valid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.txt")
	tf, _ := NewTailFile(path, 100)
	all := []byte(strings.Repeat("héllo wörld → ✓ 日本語 🙂\n", 40))
	for i := 0; i < len(all); i += 7 {
		tf.Write(all[i:min(i+7, len(all))])
	}
	tf.Close()
	hdr, body := readLog(t, path)
	if !utf8.Valid(body) || len(body) > 100 || len(body) < 97 || !bytes.HasSuffix(all, body) {
		t.Errorf("body (%d bytes, valid=%v) %q", len(body), utf8.Valid(body), body)
	}
	if want := fmt.Sprintf("[perfbench: %d earlier", len(all)-len(body)); !strings.HasPrefix(hdr, want) {
		t.Errorf("header %q, want prefix %q", hdr, want)
	}
}

func TestTailFileNoCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.txt")
	tf, _ := NewTailFile(path, 0)
	all := text(5000)
	tf.Write(all)
	tf.Close()
	if data, _ := os.ReadFile(path); !bytes.Equal(data, all) {
		t.Errorf("cap 0 must keep everything")
	}
}

func TestTailFileConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.txt")
	const limit = 4096
	tf, _ := NewTailFile(path, limit)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(tf, "goroutine %d line %04d\n", g, i)
				_ = tf.Stats()
			}
		}()
	}
	wg.Wait()
	tf.Close()
	_, body := readLog(t, path)
	st := tf.Stats()
	if int64(len(body)) != st.Kept || st.Kept+st.Dropped != st.Bytes || st.Kept > limit {
		t.Fatalf("Stats %+v, body %d bytes", st, len(body))
	}
	// Every Write is a whole line: all complete lines of the body are
	// well formed (only the first may be cut).
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	for _, l := range lines[1:] {
		var g, i int
		if n, err := fmt.Sscanf(l, "goroutine %d line %04d", &g, &i); n != 2 || err != nil {
			t.Fatalf("torn line %q", l)
		}
	}
}

// observer records what it is given and whether it was closed.
type observer struct {
	bytes.Buffer
	closed bool
}

func (o *observer) Close() error { o.closed = true; return nil }

// The observer sees every byte, in order, including those the cap drops
// from the file, and is closed with the log.
func TestTailFileObserve(t *testing.T) {
	const limit = 1000
	path := filepath.Join(t.TempDir(), "agent_stdout.txt")
	tf, err := NewTailFile(path, limit)
	if err != nil {
		t.Fatal(err)
	}
	var o observer
	tf.Observe(&o)
	data := text(10 * limit)
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rand.IntN(700))
		if _, err := tf.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := tf.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(o.Bytes(), data) || !o.closed {
		t.Errorf("observer got %d bytes (want %d), closed %v", o.Len(), len(data), o.closed)
	}
	if _, body := readLog(t, path); !bytes.Equal(body, data[len(data)-limit:]) {
		t.Errorf("file kept %d bytes, not the tail", len(body))
	}
}
