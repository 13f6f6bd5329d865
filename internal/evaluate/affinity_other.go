//go:build !linux

package evaluate

import (
	"errors"
	"time"
)

var errNoAffinity = errors.New("CPU affinity is only supported on Linux")

func allowedCPUs() ([]int, error) { return nil, errNoAffinity }

func setAffinity(int, []int) error { return errNoAffinity }

func checkAffinity(int, []int) error { return nil }

type cpuTimes struct{ user, sys time.Duration }

func childTimes() (cpuTimes, error) { return cpuTimes{}, errNoAffinity }

func restrictProcess([]int) (func(), error) { return nil, errNoAffinity }

func runTimed(int, []string) timedResult { return timedResult{Error: errNoAffinity.Error()} }

func runTraced(int, []string) timedResult { return timedResult{Error: errNoAffinity.Error()} }

func signalNumber(string) int { return 0 }
