package report

import (
	"fmt"
	"io"
	"strings"
)

// Format is one rendering of a document D (a run's Report, or All runs).
type Format[D any] struct {
	Name    string
	Aliases []string // also accepted, never listed
	Doc     string   // one line for the command's help
	Write   func(io.Writer, D) error
}

// Formats is the table of a document's formats, in the order help texts
// list them; the first is the default. It is the one place that knows
// which formats exist: the CLI dispatches on it and builds its usage line,
// flag help, help section and error messages from it.
type Formats[D any] []Format[D]

// RunFormats are the formats of `bench report`.
var RunFormats = Formats[*Report]{
	{Name: "table", Doc: "counts by status, then one row per item", Write: WriteTable},
	{Name: "json", Doc: "the same data for machines", Write: writeJSON[*Report]},
	{Name: "md", Aliases: []string{"markdown"}, Doc: "a Markdown document", Write: WriteMarkdown},
	{Name: "html", Doc: "one self-contained page (inline CSS and SVG charts, no script, nothing fetched): " +
		"counts by status, per-item speedups on a log scale with the agent's 95% CI once evaluated, " +
		"cost per item, then the table", Write: WriteHTML},
}

// AllFormats are the formats of `bench report-all`.
var AllFormats = Formats[*All]{
	{Name: "table", Doc: "one row per run", Write: WriteAllTable},
	{Name: "json", Doc: "the same data for machines", Write: writeJSON[*All]},
	{Name: "md", Aliases: []string{"markdown"}, Doc: "a Markdown document, one row per run", Write: WriteAllMarkdown},
	{Name: "html", Doc: "one self-contained page with a bar of the statuses per run, ending with the leaderboard " +
		"of the evaluated runs (bench compare's; a small inline script only sorts its tables)", Write: WriteAllHTML},
}

func writeJSON[D any](w io.Writer, d D) error { return WriteJSON(w, d) }

// Lookup returns the writer of the format called name (or one of its
// aliases).
func (fs Formats[D]) Lookup(name string) (func(io.Writer, D) error, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f.Write, true
		}
		for _, a := range f.Aliases {
			if a == name {
				return f.Write, true
			}
		}
	}
	return nil, false
}

// Default is the name of the first format.
func (fs Formats[D]) Default() string { return fs[0].Name }

// Names are the formats' names, in order, without aliases.
func (fs Formats[D]) Names() []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return names
}

// Choices is the names for a usage line: "table|json|md|html".
func (fs Formats[D]) Choices() string { return strings.Join(fs.Names(), "|") }

// List is the names in prose: "table, json, md or html".
func (fs Formats[D]) List() string {
	n := fs.Names()
	if len(n) == 1 {
		return n[0]
	}
	return strings.Join(n[:len(n)-1], ", ") + " or " + n[len(n)-1]
}

// Help is a help section listing each format and what it gives, its lines
// wrapped at 80 columns.
func (fs Formats[D]) Help() string {
	var b strings.Builder
	b.WriteString("FORMATS (--format)\n")
	width := 0
	for _, f := range fs {
		width = max(width, len(f.Name))
	}
	indent := strings.Repeat(" ", 2+width+2)
	for _, f := range fs {
		doc := f.Doc
		if len(f.Aliases) > 0 {
			doc += " (also: " + strings.Join(f.Aliases, ", ") + ")"
		}
		if f.Name == fs.Default() {
			doc += " (the default)"
		}
		fmt.Fprintf(&b, "  %-*s  %s\n", width, f.Name, wrap(doc, 80-len(indent), indent))
	}
	return b.String()
}

// wrap breaks s into lines of at most width bytes where it can, each line
// after the first starting with indent.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		switch {
		case i == 0:
		case n+1+len(w) > width:
			b.WriteString("\n" + indent)
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
