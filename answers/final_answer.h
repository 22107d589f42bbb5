#pragma once
// Where a math completion states its final answer, as people score DeepSeek-Math: the
// content of the last \boxed{...} (or \fbox{...}), else what follows the last "####"
// (GSM8K), else what follows the last "The answer is" / "答案是".

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace dsm::answers {

// The raw final answer of a completion (not normalized), or nullopt when it states none.
// Nested braces are matched (escaped \{ \} are content); "\boxed 5" without braces takes
// the next token; empty boxes are skipped.
std::optional<std::string> ExtractFinalAnswer(absl::string_view completion);

// The reference answer of a dataset line: GSM8K's worked solution ending "#### n" gives
// n; any other text is the answer itself.
std::string ReferenceAnswer(absl::string_view answer);

}  // namespace dsm::answers
