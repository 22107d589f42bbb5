#pragma once
// Chat templates. Checkpoints ship a Jinja template in tokenizer_config.json; dsmserve
// recognises known templates and renders them natively (no Jinja engine). A template
// it does not recognise makes chat requests fail with a clear error, while completion
// requests keep working.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace dsm {

struct ChatMessage {
  std::string role;  // system, user, assistant
  std::string content;
};

// DeepSeek-LLM / DeepSeek-Math's chat template (Jinja), as their checkpoints ship it.
const char* DeepSeekChatTemplateJinja();

class ChatTemplate {
 public:
  enum class Kind { kNone, kDeepSeek, kUnrecognized };

  // Recognises `jinja` (tokenizer_config.json's chat_template; empty = none).
  static ChatTemplate FromJinja(const std::string& jinja);
  static ChatTemplate DeepSeek() { return ChatTemplate(Kind::kDeepSeek); }

  Kind kind() const { return kind_; }

  // Token ids of the rendered conversation. Message text is encoded as plain text:
  // special-token strings typed by a user stay ordinary text. FAILED_PRECONDITION when
  // the template is missing or not understood; INVALID_ARGUMENT for an unknown role or
  // invalid UTF-8 (naming the message).
  absl::StatusOr<std::vector<int32_t>> Encode(const Tokenizer& tokenizer,
                                              const std::vector<ChatMessage>& messages,
                                              bool add_generation_prompt, int32_t bos_id,
                                              int32_t eos_id) const;

  // The rendered text (BOS/EOS as their strings), as HF's apply_chat_template gives it.
  absl::StatusOr<std::string> Render(const std::vector<ChatMessage>& messages,
                                     bool add_generation_prompt, const std::string& bos,
                                     const std::string& eos) const;

 private:
  explicit ChatTemplate(Kind kind) : kind_(kind) {}
  Kind kind_;
};

}  // namespace dsm
