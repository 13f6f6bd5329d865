package workspace

// SetCheckoutWorkers sets git's checkout.workers for Create, for benchmarks.
func SetCheckoutWorkers(n int) (restore func()) {
	old := checkoutWorkers
	checkoutWorkers = n
	return func() { checkoutWorkers = old }
}
