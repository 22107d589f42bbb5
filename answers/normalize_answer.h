#pragma once
// A canonical form for math answers, so that equivalent ways of writing one compare
// equal: "\dfrac12", "1/2", "0.50" and "$\frac{1}{2}$" all become "1/2".

#include <string>

#include "absl/strings/string_view.h"

namespace dsm::answers {

// What it does, in order: maps Unicode minus/∞/π, drops $ and \$, \%, %, degree marks,
// \left/\right, spacing commands and math delimiters; \dfrac/\tfrac -> \frac; unwraps
// \text{...} (\textbf, \mathrm, \mbox ...), dropping it when it is a unit after a number,
// and drops unit words after a number ("5 cm", "12 dollars"); removes whitespace, a
// trailing ".", redundant outer braces and thousands separators ("1,000" -> 1000); takes
// the right side of "x = 5"; completes \frac12 and \sqrt2; writes a/b as \frac{a}{b};
// turns exact numbers into reduced integers or fractions ("0.50" -> "1/2", "5.0" ->
// "5"); lowercases plain words and "(A)" -> "a". Comma-separated answers become sets
// (elements normalized and sorted: order-insensitive), except in ( ) or [ ], which are
// tuples and intervals and keep their order.
std::string NormalizeAnswer(absl::string_view answer);

// Both non-empty and equal once normalized.
bool SameAnswer(absl::string_view a, absl::string_view b);

}  // namespace dsm::answers
