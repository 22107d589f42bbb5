#include "worker/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

absl::Status Corrupt(const std::string& path, const std::string& what) {
  return absl::DataLossError(absl::StrCat(path, ": corrupt safetensors file: ", what));
}

}  // namespace

int64_t TensorView::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::ShapeString() const {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) munmap(map_, map_size_);
}

const TensorView* SafetensorsFile::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void SafetensorsFile::Release(const TensorView& view) const {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = reinterpret_cast<uintptr_t>(view.data) / page * page;
  uintptr_t end = reinterpret_cast<uintptr_t>(view.data) + view.num_bytes;
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": file not found"));
    return absl::UnavailableError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat(path, ": cannot stat: ", std::strerror(errno)));
  }
  const size_t file_size = static_cast<size_t>(st.st_size);
  if (file_size < 8) {
    close(fd);
    return Corrupt(path, absl::StrCat("file is ", file_size, " bytes, shorter than its header"));
  }
  void* map = mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) {
    return absl::UnavailableError(absl::StrCat(path, ": mmap failed: ", std::strerror(errno)));
  }
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  file->map_ = static_cast<uint8_t*>(map);
  file->map_size_ = file_size;

  uint64_t header_size = 0;
  std::memcpy(&header_size, file->map_, 8);  // little-endian, as the format specifies
  if (header_size > file_size - 8) {
    return Corrupt(path, absl::StrCat("header length ", header_size, " exceeds the file size ",
                                      file_size, " (truncated?)"));
  }
  const char* header = reinterpret_cast<const char*>(file->map_ + 8);
  nlohmann::json j = nlohmann::json::parse(header, header + header_size, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Corrupt(path, "header is not a JSON object");

  const uint8_t* data = file->map_ + 8 + header_size;
  const size_t data_size = file_size - 8 - header_size;
  for (auto& [name, entry] : j.items()) {
    if (name == "__metadata__") continue;
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || !entry["dtype"].is_string() ||
        !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2) {
      return Corrupt(path, absl::StrCat("tensor ", name, " has a malformed header entry"));
    }
    TensorView view;
    view.name = name;
    view.file = path;
    absl::StatusOr<DType> dtype = ParseSafetensorsDType(entry["dtype"].get<std::string>());
    if (!dtype.ok()) {
      return absl::Status(dtype.status().code(),
                          absl::StrCat(path, ": tensor ", name, ": ", dtype.status().message()));
    }
    view.dtype = *dtype;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) {
        return Corrupt(path, absl::StrCat("tensor ", name, " has an invalid shape"));
      }
      view.shape.push_back(d.get<int64_t>());
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
      return Corrupt(path, absl::StrCat("tensor ", name, " has invalid data_offsets"));
    }
    const uint64_t begin = offsets[0].get<uint64_t>();
    const uint64_t end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return Corrupt(
          path, absl::StrCat("tensor ", name, " data [", begin, ", ", end, ") lies outside the ",
                             data_size, "-byte data area (truncated?)"));
    }
    const uint64_t expected = static_cast<uint64_t>(view.num_elements()) * DTypeSize(view.dtype);
    if (end - begin != expected) {
      return Corrupt(path, absl::StrCat("tensor ", name, " holds ", end - begin,
                                        " bytes but shape ", view.ShapeString(), " of ",
                                        DTypeName(view.dtype), " needs ", expected));
    }
    view.data = data + begin;
    view.num_bytes = end - begin;
    file->tensors_.emplace(name, std::move(view));
  }
  return file;
}

}  // namespace dsm
