// Package aider is the aider adapter (work in progress).
package aider
