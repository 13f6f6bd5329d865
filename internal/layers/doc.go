// Package layers holds no code: its test enforces the direction of the
// imports between the packages of the module, as docs/design.md
// ("Packages and layers") describes it. The stage order, the leaves, the
// readers and the top packages are declared in the test.
package layers
