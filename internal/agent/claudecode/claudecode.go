// Package claudecode is the claude_code adapter (work in progress).
package claudecode
