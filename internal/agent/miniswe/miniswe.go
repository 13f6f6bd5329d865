// Package miniswe is the mini_swe_agent adapter (work in progress).
package miniswe
