#!/bin/sh
# Known values of sum_squares.
cd "$(dirname "$0")" || exit 1
. ./lib/sumsq.sh
fail=0
check() {
	got=$(sum_squares "$1")
	if [ "$got" != "$2" ]; then
		echo "sum_squares $1 = $got, want $2"
		fail=1
	fi
}
check 0 0
check 1 1
check 10 385
check 100 338350
check 1000 333833500
exit $fail
