#!/bin/sh
# Workload: the sum of squares up to 30000.
cd "$(dirname "$0")" || exit 1
. ./lib/sumsq.sh
sum_squares "${N:-30000}"
