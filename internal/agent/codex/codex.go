// Package codex is the codex adapter (work in progress).
package codex
