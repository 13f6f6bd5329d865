package report

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// render writes d with write, failing the test on an error.
func render[D any](t *testing.T, write func(io.Writer, D) error, d D) string {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// dispatches checks that each name in want finds its format and that the
// format renders d as want's writer does.
func dispatches[D any](t *testing.T, fs Formats[D], want map[string]func(io.Writer, D) error, d D) {
	t.Helper()
	for name, w := range want {
		got, ok := fs.Lookup(name)
		if !ok {
			t.Fatalf("format %q not found", name)
		}
		if render(t, got, d) != render(t, w, d) {
			t.Errorf("format %q renders something else", name)
		}
	}
}

// Each name and alias dispatches to its own writer: the table is the only
// place that wires them.
func TestFormatsDispatch(t *testing.T) {
	dispatches(t, RunFormats, map[string]func(io.Writer, *Report) error{
		"table": WriteTable, "json": writeJSON[*Report], "md": WriteMarkdown, "markdown": WriteMarkdown, "html": WriteHTML,
	}, fixedReport())
	dispatches(t, AllFormats, map[string]func(io.Writer, *All) error{
		"table": WriteAllTable, "json": writeJSON[*All], "md": WriteAllMarkdown, "markdown": WriteAllMarkdown, "html": WriteAllHTML,
	}, fixedAll())
	for _, bad := range []string{"", "pdf", "HTML", "markdown "} {
		if _, ok := RunFormats.Lookup(bad); ok {
			t.Errorf("run format %q found", bad)
		}
	}
	// report and report-all accept the same formats.
	if got, want := AllFormats.Names(), RunFormats.Names(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("report-all formats %v, report formats %v", got, want)
	}
	if md := render(t, WriteAllMarkdown, fixedAll()); !strings.Contains(md, "| run | task | agent |") {
		t.Errorf("report-all md:\n%s", md)
	}
	if len(RunFormats) != 4 || len(AllFormats) != 4 {
		t.Errorf("formats: %v, %v", RunFormats.Names(), AllFormats.Names())
	}
}

func TestFormatsHelpText(t *testing.T) {
	if got := RunFormats.List(); got != "table, json, md or html" {
		t.Errorf("List = %q", got)
	}
	if got := AllFormats.Choices(); got != "table|json|md|html" {
		t.Errorf("Choices = %q", got)
	}
	if RunFormats.Default() != "table" || AllFormats.Default() != "table" {
		t.Error("the default format is table")
	}
	h := RunFormats.Help()
	for _, want := range []string{"FORMATS (--format)\n", "\n  table  counts by status, then one row per item (the default)\n",
		"\n  md     a Markdown document (also: markdown)\n", "\n  html   one self-contained page"} {
		if !strings.Contains(h, want) {
			t.Errorf("help lacks %q:\n%s", want, h)
		}
	}
	for _, l := range strings.Split(h, "\n") {
		if len(l) > 80 {
			t.Errorf("help line longer than 80 columns: %q", l)
		}
	}
}
