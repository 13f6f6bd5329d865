package forensics

import (
	"regexp"
	"strings"

	"github.com/perfbench/perfbench/internal/records"
)

// Localize scores how well the agent's patch found the places the human
// changed: the overlap of the files, and of the functions (the enclosing
// function of each changed line: the hunk header's, or the nearest
// signature above it in the hunk), as precision (of the agent's), recall
// (of the human's) and F1. blind is false when the prompt named the
// target files (hints.target_files).
func Localize(patch, human []byte, blind bool) *records.Localization {
	af, afn := changedPlaces(ParseDiff(patch))
	hf, hfn := changedPlaces(ParseDiff(human))
	return &records.Localization{Files: overlap(af, hf), Functions: overlap(afn, hfn), Blind: blind}
}

func overlap(agent, human map[string]bool) records.Overlap {
	o := records.Overlap{Agent: len(agent), Human: len(human)}
	for k := range agent {
		if human[k] {
			o.Both++
		}
	}
	if o.Agent > 0 {
		o.Precision = float64(o.Both) / float64(o.Agent)
	}
	if o.Human > 0 {
		o.Recall = float64(o.Both) / float64(o.Human)
	}
	if o.Precision+o.Recall > 0 {
		o.F1 = 2 * o.Precision * o.Recall / (o.Precision + o.Recall)
	}
	return o
}

// changedPlaces are the files and "file:function" keys a diff changes.
func changedPlaces(files []FileDiff) (map[string]bool, map[string]bool) {
	fs, fns := map[string]bool{}, map[string]bool{}
	for i := range files {
		f := &files[i]
		p := f.Path()
		if p == "" {
			continue
		}
		fs[p] = true
		lg := langOf(p)
		for _, h := range f.Hunks {
			cur := funcName(h.Context, lg)
			for _, l := range h.Lines {
				if isSignature(l.Text, lg) || lg == langPython && rePySig.MatchString(l.Text) {
					if n := funcName(l.Text, lg); n != "" {
						cur = n
					}
				}
				if l.Kind != ' ' && cur != "" {
					fns[p+":"+cur] = true
				}
			}
		}
	}
	return fs, fns
}

var (
	reNamePy   = regexp.MustCompile(`\bdef\s+(\w+)`)
	reNameGo   = regexp.MustCompile(`\bfunc\s+(?:\([^)]*\)\s*)?(\w+)`)
	reNameRust = regexp.MustCompile(`\bfn\s+(\w+)`)
	reNameJS   = regexp.MustCompile(`\bfunction\s*\*?\s*(\w+)|^\s*(?:static\s+|async\s+|public\s+|private\s+)*(\w+)\s*\(`)
	reNameC    = regexp.MustCompile(`([A-Za-z_][\w:~]*)\s*\(`)
	reClassPy  = regexp.MustCompile(`\bclass\s+(\w+)`)
)

// funcName is the function a hunk header's context or a signature line
// names, "" when none.
func funcName(s string, lg lang) string {
	var m []string
	switch lg {
	case langPython:
		if m = reNamePy.FindStringSubmatch(s); m == nil {
			m = reClassPy.FindStringSubmatch(s)
		}
	case langGo:
		m = reNameGo.FindStringSubmatch(s)
	case langRust:
		m = reNameRust.FindStringSubmatch(s)
	case langJS:
		m = reNameJS.FindStringSubmatch(s)
	case langC:
		if reControls.MatchString(s) {
			return ""
		}
		m = reNameC.FindStringSubmatch(s)
	default:
		if t := strings.TrimSpace(s); t != "" {
			// Another language: git's header context as it is.
			return t
		}
	}
	for _, g := range m[min(1, len(m)):] {
		if g != "" {
			return g
		}
	}
	return ""
}

// PromptOverlapOf is the share of the human diff's added lines (trimmed,
// non-blank, at least minOverlapChars long) that appear in the prompt.
func PromptOverlapOf(human []byte, prompt string) *records.PromptOverlap {
	o := &records.PromptOverlap{}
	for _, l := range AddedLines(ParseDiff(human)) {
		t := strings.TrimSpace(l)
		if len(t) < minOverlapChars {
			continue
		}
		o.Lines++
		if strings.Contains(prompt, t) {
			o.InPrompt++
		}
	}
	if o.Lines > 0 {
		o.Share = float64(o.InPrompt) / float64(o.Lines)
	}
	return o
}

// minOverlapChars: shorter added lines ("}", "return x") are in any prompt.
const minOverlapChars = 8

// PromptOverlapWarn is the share above which report warns.
const PromptOverlapWarn = 0.10
