#pragma once
// One memory-mapped .safetensors file: the parsed header and views of its tensors.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/dtype.h"

namespace dsm {

// A tensor inside a mapped file. `data` stays valid while the file is open.
struct TensorView {
  std::string name;
  std::string file;  // path, for error messages
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t num_bytes = 0;

  int64_t num_elements() const;
  std::string ShapeString() const;  // "[4096, 11008]"
};

class SafetensorsFile {
 public:
  // Maps the file read-only and validates its header: JSON syntax, dtypes, offsets inside
  // the data area, byte counts matching shapes. Errors name the file and the tensor.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();

  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* Find(const std::string& name) const;

  // Tells the kernel the pages of a tensor are no longer needed, so that a loader that has
  // copied its slice out does not keep the whole file resident.
  void Release(const TensorView& view) const;

 private:
  SafetensorsFile() = default;

  std::string path_;
  uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  std::map<std::string, TensorView> tensors_;
};

}  // namespace dsm
