// Package trae is the trae adapter (work in progress).
package trae
