# sum_squares N prints 1^2 + 2^2 + ... + N^2, by the closed form
# N(N+1)(2N+1)/6 instead of a loop.
sum_squares() {
	n=$1
	echo $((n * (n + 1) * (2 * n + 1) / 6))
}
