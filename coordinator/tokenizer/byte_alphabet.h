#pragma once
// GPT-2's byte-level alphabet: every byte maps to a printable code point (printable
// Latin-1 bytes to themselves, the rest to U+0100 upwards), so BPE works on text.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsm {

class ByteAlphabet {
 public:
  static const ByteAlphabet& Get();

  // The UTF-8 encoding of the code point standing for `byte`.
  const std::string& Encode(uint8_t byte) const { return byte_to_text_[byte]; }
  // Maps every byte of `bytes` to its alphabet character.
  std::string EncodeBytes(std::string_view bytes) const;
  // The byte a code point stands for, if it is in the alphabet.
  std::optional<uint8_t> Decode(char32_t code_point) const;

 private:
  ByteAlphabet();

  std::array<std::string, 256> byte_to_text_;
  std::array<int16_t, 512> code_point_to_byte_;  // the alphabet lies below U+0200
};

}  // namespace dsm
