package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
)

// NewTrajectory starts the trajectory an adapter converts its agent's
// output into (Outcome.Trajectory): structured, naming the rollout's
// agent, and scrubbing every text it is given of the rollout's secrets
// before it is bounded. source says what is converted.
func (r *Rollout) NewTrajectory(source string) *records.Trajectory {
	t := &records.Trajectory{Structured: true, Source: source}
	if r.Agent != nil {
		t.Agent = records.RunAgentRef{Name: r.Agent.Name, Type: r.Agent.Type, Model: r.Agent.Model}
	}
	if r.Secrets != nil {
		t.SetScrub(r.Secrets.ScrubString)
	}
	if r.ObserveTrajectory != nil {
		t.SetObserve(r.ObserveTrajectory)
	}
	return t
}

// Unstructured marks t as an adapter's trajectory whose source could not
// be read (err says why, in a warning naming t.Source): the scans then
// read the agent's stdout instead, and the export says so.
func Unstructured(t *records.Trajectory, err error) {
	t.Structured = false
	t.Warn("%s: %v", t.Source, err)
}

// maxTrajectoryLine bounds a line of an agent's file read by ReadLines:
// a longer one is skipped, as LineWriter skips it in a stream.
const maxTrajectoryLine = 16 << 20

// ReadLines calls fn with each line of the agent's file at path (without
// following a link: the agent wrote it), skipping lines over 16 MiB. It
// is how adapters read JSONL logs after the rollout for their trajectory.
func ReadLines(path string, fn func(line []byte)) error {
	f, err := fsx.OpenNoFollow(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var buf []byte
	skip := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !skip {
			buf = append(buf, chunk...)
			if len(buf) > maxTrajectoryLine {
				buf, skip = buf[:0], true
			}
		}
		if err == nil {
			if !skip {
				fn(bytes.TrimRight(buf, "\r\n"))
			}
			buf, skip = buf[:0], false
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(buf) > 0 && !skip {
				fn(bytes.TrimRight(buf, "\r\n"))
			}
			return nil
		}
		return err
	}
}

// MaxAgentFileBytes bounds an agent's file that an adapter reads whole
// for its trajectory (a trajectory file, a chat history): the agent
// chose its size, and a larger one is converted to nothing (the scans
// then read the raw logs) rather than held in memory.
const MaxAgentFileBytes = 128 << 20

// ReadAgentFile reads an agent's file whole, without following a link,
// refusing one larger than MaxAgentFileBytes.
func ReadAgentFile(path string) ([]byte, error) {
	f, err := fsx.OpenNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadBounded(f, MaxAgentFileBytes)
}

// ReadBounded reads f whole, or fails when it holds more than max bytes
// (its size, or what it gave while read: it may grow meanwhile).
func ReadBounded(f *os.File, max int64) ([]byte, error) {
	tooLarge := fmt.Errorf("%s: larger than %d bytes, not read", filepath.Base(f.Name()), max)
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		return nil, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, tooLarge
	}
	return data, nil
}

// ParseTime reads the timestamps agents write: RFC 3339, or ISO 8601
// without a zone (OpenHands' datetime.isoformat(), taken as UTC); the
// zero time for anything else.
func ParseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// ShellCommand is the command line of a shell tool's argv (["bash",
// "-lc", "make"] → "make"), or the argv joined with spaces.
func ShellCommand(argv []string) string {
	if len(argv) == 3 && (argv[1] == "-lc" || argv[1] == "-c") {
		switch base := argv[0][strings.LastIndexByte(argv[0], '/')+1:]; base {
		case "bash", "sh", "zsh", "dash":
			return argv[2]
		}
	}
	return strings.Join(argv, " ")
}
