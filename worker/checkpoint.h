#pragma once
// A HuggingFace checkpoint directory: config.json plus one or more safetensors files
// (model.safetensors, or shards listed by model.safetensors.index.json).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model_config.h"
#include "worker/safetensors_file.h"

namespace dsm {

class Checkpoint {
 public:
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& model_dir);

  const ModelConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }

  // The tensor named `name`, or NOT_FOUND naming it and the directory.
  absl::StatusOr<const TensorView*> Find(const std::string& name) const;
  bool Contains(const std::string& name) const;

  // Drops the resident pages of a tensor once its slice has been copied.
  void Release(const TensorView& view) const;

 private:
  std::string dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> owner_;  // tensor name -> file
};

}  // namespace dsm
