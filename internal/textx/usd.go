package textx

import "fmt"

// Dollar amounts print in one of three ways, each with one meaning; tests
// and users' scripts match these outputs, so they are kept as they are:
//
//   - USD, a figure: totals and table cells (the run's spend, an item's
//     cost). Four decimals, so that sub-cent costs show and columns line up:
//     $0.0600, $2.5000.
//   - USDShort, an amount in a sentence (a reason, a log line), notably a
//     limit the user set, which reads as it was written: $0.05, $1, $0.045.
//     Four significant digits, no trailing zeros.
//   - USDCents, the live progress line, rounded to the cent so that it
//     stays short and steady while the spend grows: $0.06.

// USD prints a figure with four decimals: "$0.0600".
func USD(v float64) string { return fmt.Sprintf("$%.4f", v) }

// USDShort prints an amount in a sentence with four significant digits
// and no trailing zeros: "$0.05", "$1".
func USDShort(v float64) string { return fmt.Sprintf("$%.4g", v) }

// USDCents prints an amount rounded to the cent: "$0.06".
func USDCents(v float64) string { return fmt.Sprintf("$%.2f", v) }
