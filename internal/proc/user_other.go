//go:build !linux

package proc

import "errors"

// KillUser is only implemented on Linux, like Run.
func KillUser(uid int) error { return errors.New("kill a user's processes: needs linux") }

// UserProcesses is only implemented on Linux, like Run.
func UserProcesses(uid int) ([]int, error) {
	return nil, errors.New("list a user's processes: needs linux")
}
