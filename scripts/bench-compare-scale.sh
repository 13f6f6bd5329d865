#!/bin/sh
# bench-compare-scale.sh: time and peak memory of `bench compare` over 20
# runs × 1,000 items of synthetic records (10 timed rounds per item; the
# mix of BenchmarkCompareScale in internal/compare/scale_test.go), every
# interval included (B = 2,000) and the 45 pairs of 10 rows. Issue 12's
# target: under 10 s and 500 MB peak RSS. Prints the wall time and the
# maximum resident set size that /usr/bin/time -v reports (bench starts no
# child), then runs the Go benchmark (the load alone, in-process).
#
#   scripts/bench-compare-scale.sh        (needs ~1 GB of disk, a few minutes)
set -eu
repo_root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$repo_root"
go build -o "$work/bench" ./cmd/bench
echo "writing the synthetic runs..."
BENCH_SCALE_STATE="$work/state" go test ./internal/compare -run '^TestWriteScaleState$' -count=1 >/dev/null
pairs=""
i=0
while [ $i -lt 10 ]; do
	j=$((i + 1))
	while [ $j -lt 10 ]; do
		pairs="$pairs --pairs scale-run0$i,scale-run0$j"
		j=$((j + 1))
	done
	i=$((i + 1))
done
# shellcheck disable=SC2086 # the pairs are separate arguments
/usr/bin/time -v "$work/bench" compare --state-root "$work/state" --format json --out "$work/board.json" $pairs 2>"$work/time.txt"
grep -E 'Elapsed \(wall clock\)|Maximum resident set size|User time|System time' "$work/time.txt"
echo "board.json: $(wc -c <"$work/board.json") bytes"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
BENCH_SCALE_STATE="$work/state" go test ./internal/compare -run '^$' -bench '^BenchmarkCompareScale$' -benchtime 1x -count=1 | grep Benchmark
