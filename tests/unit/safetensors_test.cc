#include <cstring>
#include <filesystem>

#include "common/file_util.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"
#include "worker/checkpoint.h"
#include "worker/safetensors_file.h"
#include "worker/safetensors_writer.h"

namespace dsm {
namespace {

std::vector<TensorToWrite> TwoTensors() {
  return {TensorToWrite{"a", DType::kF32, {2, 3}, EncodeFloats({1, 2, 3, 4, 5, 6}, DType::kF32)},
          TensorToWrite{"b", DType::kBF16, {4}, EncodeFloats({1, -1, 0.5, 2}, DType::kBF16)}};
}

std::string WriteRaw(const std::string& name, const std::string& bytes) {
  const std::string path = testing::MakeTempDir("st") + "/" + name;
  EXPECT_TRUE(WriteStringToFile(path, bytes).ok());
  return path;
}

// A file whose header is `header` (JSON text) followed by `data_bytes` zero bytes.
std::string WithHeader(const std::string& header, size_t data_bytes) {
  const uint64_t n = header.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  return bytes + header + std::string(data_bytes, '\0');
}

TEST(SafetensorsTest, RoundTrip) {
  const std::string path = WriteRaw("ok.safetensors", SerializeSafetensors(TwoTensors()));
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  const TensorView* a = (*file)->Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(LoadAsFloat(a->data, a->dtype, 5), 6.0f);
  const TensorView* b = (*file)->Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::kBF16);
  EXPECT_EQ(LoadAsFloat(b->data, b->dtype, 2), 0.5f);
}

TEST(SafetensorsTest, TruncatedFileNamesFileAndTensor) {
  std::string bytes = SerializeSafetensors(TwoTensors());
  bytes.resize(bytes.size() - 3);
  const std::string path = WriteRaw("truncated.safetensors", bytes);
  absl::Status s = SafetensorsFile::Open(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  EXPECT_NE(s.message().find("tensor b"), std::string::npos) << s;
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s;
}

TEST(SafetensorsTest, HeaderLongerThanFile) {
  std::string bytes = SerializeSafetensors(TwoTensors()).substr(0, 20);
  absl::Status s = SafetensorsFile::Open(WriteRaw("short.safetensors", bytes)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("header length"), std::string::npos) << s;
}

TEST(SafetensorsTest, TinyFile) {
  absl::Status s = SafetensorsFile::Open(WriteRaw("tiny.safetensors", "abc")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("shorter than its header"), std::string::npos) << s;
}

TEST(SafetensorsTest, CorruptHeaderJson) {
  absl::Status s =
      SafetensorsFile::Open(WriteRaw("corrupt.safetensors", WithHeader("{\"a\": [1,", 0))).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("header is not a JSON object"), std::string::npos) << s;
}

TEST(SafetensorsTest, MalformedEntry) {
  absl::Status s = SafetensorsFile::Open(
                       WriteRaw("entry.safetensors", WithHeader(R"({"w": {"dtype": "F32"}})", 0)))
                       .status();
  EXPECT_NE(s.message().find("tensor w has a malformed header entry"), std::string::npos) << s;
}

TEST(SafetensorsTest, UnsupportedDtypeNamesTensor) {
  absl::Status s =
      SafetensorsFile::Open(
          WriteRaw(
              "i8.safetensors",
              WithHeader(R"({"w": {"dtype": "I8", "shape": [4], "data_offsets": [0, 4]}})", 4)))
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("tensor w: unsupported dtype I8"), std::string::npos) << s;
}

TEST(SafetensorsTest, ByteCountMustMatchShape) {
  absl::Status s =
      SafetensorsFile::Open(
          WriteRaw(
              "size.safetensors",
              WithHeader(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8)))
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("tensor w holds 8 bytes but shape [3] of F32 needs 12"),
            std::string::npos)
      << s;
}

TEST(SafetensorsTest, MissingFile) {
  absl::Status s = SafetensorsFile::Open("/nonexistent.safetensors").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
}

TEST(CheckpointTest, ShardedIndex) {
  const std::string dir = testing::MakeTempDir("sharded");
  ASSERT_TRUE(WriteStringToFile(dir + "/config.json",
                                R"({"hidden_size": 4, "intermediate_size": 8,
                                    "num_hidden_layers": 1, "num_attention_heads": 2,
                                    "vocab_size": 6, "max_position_embeddings": 16})")
                  .ok());
  std::vector<TensorToWrite> tensors = TwoTensors();
  ASSERT_TRUE(WriteSafetensors(dir + "/part1.safetensors", {tensors[0]}).ok());
  ASSERT_TRUE(WriteSafetensors(dir + "/part2.safetensors", {tensors[1]}).ok());
  ASSERT_TRUE(WriteStringToFile(dir + "/model.safetensors.index.json",
                                R"({"weight_map": {"a": "part1.safetensors",
                                                   "b": "part2.safetensors"}})")
                  .ok());
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  ASSERT_TRUE((*ckpt)->Find("a").ok());
  EXPECT_EQ((*(*ckpt)->Find("b"))->file, dir + "/part2.safetensors");
  absl::Status missing = (*ckpt)->Find("c").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("tensor c not found"), std::string::npos);
}

TEST(CheckpointTest, MissingConfigAndWeights) {
  const std::string dir = testing::MakeTempDir("empty");
  absl::Status s = Checkpoint::Open(dir).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("config.json"), std::string::npos) << s;
  ASSERT_TRUE(WriteStringToFile(dir + "/config.json",
                                R"({"hidden_size": 4, "intermediate_size": 8,
                                    "num_hidden_layers": 1, "num_attention_heads": 2,
                                    "vocab_size": 6, "max_position_embeddings": 16})")
                  .ok());
  s = Checkpoint::Open(dir).status();
  EXPECT_NE(s.message().find("neither model.safetensors nor model.safetensors.index.json"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace dsm
