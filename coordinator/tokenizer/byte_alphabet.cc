#include "coordinator/tokenizer/byte_alphabet.h"

#include "coordinator/tokenizer/utf8.h"

namespace dsm {

const ByteAlphabet& ByteAlphabet::Get() {
  static const ByteAlphabet* alphabet = new ByteAlphabet();
  return *alphabet;
}

ByteAlphabet::ByteAlphabet() {
  code_point_to_byte_.fill(-1);
  auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = printable(b) ? b : next++;
    AppendUtf8(cp, byte_to_text_[b]);
    code_point_to_byte_[cp] = static_cast<int16_t>(b);
  }
}

std::string ByteAlphabet::EncodeBytes(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += byte_to_text_[b];
  return out;
}

std::optional<uint8_t> ByteAlphabet::Decode(char32_t cp) const {
  if (cp >= code_point_to_byte_.size() || code_point_to_byte_[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(code_point_to_byte_[cp]);
}

}  // namespace dsm
