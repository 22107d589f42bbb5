#include "coordinator/tokenizer/chat_template.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "coordinator/tokenizer/utf8.h"

namespace dsm {
namespace {

// DeepSeek-LLM / DeepSeek-Math's template, as shipped in their tokenizer_config.json.
constexpr char kDeepSeekJinja[] =
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}"
    "{% endif %}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ 'User: ' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}"
    "{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}"
    "{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "{{ 'Assistant:' }}{% endif %}";

// Whitespace outside string literals does not change what a template renders.
std::string WithoutWhitespace(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  }
  return out;
}

// One piece of a rendered conversation: text, or BOS/EOS.
struct Piece {
  std::string text;
  int special = 0;  // 0 text, 1 BOS, 2 EOS
};

absl::StatusOr<std::vector<Piece>> RenderDeepSeek(const std::vector<ChatMessage>& messages,
                                                  bool add_generation_prompt) {
  std::vector<Piece> pieces = {{"", 1}};
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (absl::Status s = ValidateUtf8(m.content); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("messages[", i, "].content: ", s.message()));
    }
    if (m.role == "user") {
      pieces.push_back({absl::StrCat("User: ", m.content, "\n\n")});
    } else if (m.role == "assistant") {
      pieces.push_back({absl::StrCat("Assistant: ", m.content)});
      pieces.push_back({"", 2});
    } else if (m.role == "system") {
      pieces.push_back({absl::StrCat(m.content, "\n\n")});
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("messages[", i, "].role \"", m.role, "\" is not system, user or assistant"));
    }
  }
  if (add_generation_prompt) pieces.push_back({"Assistant:"});
  return pieces;
}

}  // namespace

const char* DeepSeekChatTemplateJinja() { return kDeepSeekJinja; }

ChatTemplate ChatTemplate::FromJinja(const std::string& jinja) {
  if (jinja.empty()) return ChatTemplate(Kind::kNone);
  if (WithoutWhitespace(jinja) == WithoutWhitespace(kDeepSeekJinja)) {
    return ChatTemplate(Kind::kDeepSeek);
  }
  return ChatTemplate(Kind::kUnrecognized);
}

absl::StatusOr<std::vector<int32_t>> ChatTemplate::Encode(const Tokenizer& tokenizer,
                                                          const std::vector<ChatMessage>& messages,
                                                          bool add_generation_prompt,
                                                          int32_t bos_id, int32_t eos_id) const {
  if (kind_ == Kind::kNone) {
    return absl::FailedPreconditionError("the model has no chat template; use a completion");
  }
  if (kind_ == Kind::kUnrecognized) {
    return absl::FailedPreconditionError(
        "the model's chat template is not one dsmserve understands; use a completion");
  }
  absl::StatusOr<std::vector<Piece>> pieces = RenderDeepSeek(messages, add_generation_prompt);
  if (!pieces.ok()) return pieces.status();
  std::vector<EncodeItem> items;
  for (const Piece& p : *pieces) {
    items.push_back(p.special == 0 ? EncodeItem{p.text}
                                   : EncodeItem{"", p.special == 1 ? bos_id : eos_id});
  }
  return tokenizer.EncodeItems(items, /*add_special_tokens=*/false, /*parse_special=*/false);
}

absl::StatusOr<std::string> ChatTemplate::Render(const std::vector<ChatMessage>& messages,
                                                 bool add_generation_prompt, const std::string& bos,
                                                 const std::string& eos) const {
  if (kind_ != Kind::kDeepSeek) {
    return absl::FailedPreconditionError("the model's chat template is missing or not understood");
  }
  absl::StatusOr<std::vector<Piece>> pieces = RenderDeepSeek(messages, add_generation_prompt);
  if (!pieces.ok()) return pieces.status();
  std::string text;
  for (const Piece& p : *pieces) text += p.special == 1 ? bos : p.special == 2 ? eos : p.text;
  return text;
}

}  // namespace dsm
