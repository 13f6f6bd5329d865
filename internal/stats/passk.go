package stats

import "fmt"

// PassAtK is the unbiased pass@k estimator of Chen et al. (2021) for an item
// with n samples of which c passed: 1 - C(n-c, k)/C(n, k), computed as the
// product 1 - Π_{i=n-c+1..n} (1 - k/i), which neither overflows nor loses
// precision. Opt@K is the same estimator with c the number of samples that
// reached the optimisation target. It needs 1 <= k <= n and 0 <= c <= n.
func PassAtK(n, c, k int) (float64, error) {
	switch {
	case n < 1:
		return 0, fmt.Errorf("pass@k: need n >= 1 samples, got %d", n)
	case c < 0 || c > n:
		return 0, fmt.Errorf("pass@k: need 0 <= c <= n=%d, got c=%d", n, c)
	case k < 1 || k > n:
		return 0, fmt.Errorf("pass@k: need 1 <= k <= n=%d, got k=%d", n, k)
	}
	if n-c < k {
		return 1, nil
	}
	prod := 1.0
	for i := n - c + 1; i <= n; i++ {
		prod *= 1 - float64(k)/float64(i)
	}
	return 1 - prod, nil
}

// Count is one item's number of samples N and successes C.
type Count struct {
	N int `json:"n"`
	C int `json:"c"`
}

// MeanAtK is the mean of PassAtK(N, C, k) over items (pass@k or Opt@K of a
// run). It fails on an empty list or on the first invalid item.
func MeanAtK(items []Count, k int) (float64, error) {
	if len(items) == 0 {
		return 0, fmt.Errorf("pass@k: no items")
	}
	var sum float64
	for i, it := range items {
		p, err := PassAtK(it.N, it.C, k)
		if err != nil {
			return 0, fmt.Errorf("item %d: %w", i, err)
		}
		sum += p
	}
	return sum / float64(len(items)), nil
}
