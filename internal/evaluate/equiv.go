package evaluate

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Equivalent compares a candidate's workload output with the baseline's.
//
// "exact": the bytes must be equal. "numeric": both outputs are split into
// numbers and the text around them; the text (with runs of white space
// made one space) must be equal, there must be as many numbers, and each
// pair a, b must satisfy |a-b| <= tol·max(|a|,|b|) or |a-b| <= tol (a
// relative or an absolute tolerance, like Python's math.isclose with
// rel_tol = abs_tol = tol; tolerance 0 means numerically equal, so 1.0
// equals 1). When they differ, detail says where.
func Equivalent(q records.Equivalence, base, cand []byte) (ok bool, detail string) {
	switch q.Mode {
	case "numeric":
		return numericEqual(base, cand, q.Tolerance)
	default:
		if bytes.Equal(base, cand) {
			return true, ""
		}
		return false, firstLineDiff(base, cand)
	}
}

var numberRE = regexp.MustCompile(`[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?`)

func numericEqual(base, cand []byte, tol float64) (bool, string) {
	bs, bn := skeleton(string(base))
	cs, cn := skeleton(string(cand))
	if bs != cs {
		return false, "the text around the numbers differs: " + firstLineDiff([]byte(bs), []byte(cs))
	}
	if len(bn) != len(cn) {
		return false, fmt.Sprintf("baseline prints %d numbers, candidate %d", len(bn), len(cn))
	}
	for i := range bn {
		a, _ := strconv.ParseFloat(bn[i], 64)
		b, _ := strconv.ParseFloat(cn[i], 64)
		if !isClose(a, b, tol) {
			return false, fmt.Sprintf("number %d: baseline %s, candidate %s (tolerance %g)", i+1, bn[i], cn[i], tol)
		}
	}
	return true, ""
}

func isClose(a, b, tol float64) bool {
	if a == b {
		return true
	}
	d := math.Abs(a - b)
	return d <= tol || d <= tol*math.Max(math.Abs(a), math.Abs(b))
}

// skeleton replaces every number by "#" and normalises white space.
func skeleton(s string) (string, []string) {
	nums := numberRE.FindAllString(s, -1)
	sk := numberRE.ReplaceAllString(s, "#")
	return strings.Join(strings.Fields(sk), " "), nums
}

// firstLineDiff names the first differing line of two outputs.
func firstLineDiff(a, b []byte) string {
	al := strings.SplitAfter(string(a), "\n")
	bl := strings.SplitAfter(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		switch {
		case x == y:
			continue
		case x == "":
			return fmt.Sprintf("line %d: the baseline's output ends, the candidate prints %q", i+1, textx.Truncate(y, 80))
		case y == "":
			return fmt.Sprintf("line %d: the candidate's output ends, the baseline prints %q", i+1, textx.Truncate(x, 80))
		}
		return fmt.Sprintf("line %d: baseline %q, candidate %q", i+1, textx.Truncate(x, 80), textx.Truncate(y, 80))
	}
	return "outputs differ"
}
