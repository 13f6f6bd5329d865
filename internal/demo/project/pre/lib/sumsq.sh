# sum_squares N prints 1^2 + 2^2 + ... + N^2.
sum_squares() {
	n=$1
	i=1
	total=0
	while [ "$i" -le "$n" ]; do
		total=$((total + i * i))
		i=$((i + 1))
	done
	echo "$total"
}
