package site

import (
	"fmt"
	"math"
	"strconv"
)

// chart is one inline SVG drawing; its geometry is computed here, so the
// page needs no script to show it.
type chart struct {
	ID, Label string
	W, H      string
	Els       []svgEl
}

// svgEl is one SVG element: rect x, y, width, height; line x1 = X, y1 = Y,
// x2 = W, y2 = H; circle cx = X, cy = Y, r = W; polyline points; text x, y.
type svgEl struct {
	Kind       string
	X, Y, W, H string
	Points     string
	Class      string
	Anchor     string
	Text       string
	Tip        string
}

// f1 is a coordinate with at most one decimal, never NaN or Inf.
func f1(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	v = math.Round(v*10) / 10
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func rect(x, y, w, h float64, class, tip string) svgEl {
	return svgEl{Kind: "rect", X: f1(x), Y: f1(y), W: f1(math.Max(w, 0)), H: f1(math.Max(h, 0)), Class: class, Tip: tip}
}

func line(x1, y1, x2, y2 float64, class string) svgEl {
	return svgEl{Kind: "line", X: f1(x1), Y: f1(y1), W: f1(x2), H: f1(y2), Class: class}
}

func circle(cx, cy, r float64, class, tip string) svgEl {
	return svgEl{Kind: "circle", X: f1(cx), Y: f1(cy), W: f1(r), Class: class, Tip: tip}
}

func polyline(xs, ys []float64, class, tip string) svgEl {
	pts := ""
	for i := range xs {
		if i > 0 {
			pts += " "
		}
		pts += f1(xs[i]) + "," + f1(ys[i])
	}
	return svgEl{Kind: "polyline", Points: pts, Class: class, Tip: tip}
}

func text(x, y float64, anchor, class, s string) svgEl {
	return svgEl{Kind: "text", X: f1(x), Y: f1(y), Anchor: anchor, Class: class, Text: s}
}

// niceTicks are about n round values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		t := math.Round(v/step) * step
		if t == 0 {
			t = 0 // not -0, which prints "-0"
		}
		out = append(out, t)
	}
	return out
}

// num is a value with 3 significant digits.
func num(v float64) string {
	if v == 0 {
		return "0" // also for -0
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// times is "1.23×".
func times(v float64) string { return fmt.Sprintf("%.3g×", v) }

// palette classes for one line or point per run (site.css k0..k7).
func paletteClass(i int) string { return "k" + strconv.Itoa(i%8) }
