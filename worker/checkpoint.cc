#include "worker/checkpoint.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "nlohmann/json.hpp"

namespace dsm {

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& model_dir) {
  auto ckpt = std::make_unique<Checkpoint>();
  ckpt->dir_ = model_dir;
  if (!std::filesystem::is_directory(model_dir)) {
    return absl::NotFoundError(absl::StrCat(model_dir, ": model directory not found"));
  }
  absl::StatusOr<ModelConfig> config = LoadModelConfig(model_dir);
  if (!config.ok()) return config.status();
  ckpt->config_ = *config;

  std::vector<std::string> files;
  const std::string index_path = model_dir + "/model.safetensors.index.json";
  if (std::filesystem::exists(index_path)) {
    absl::StatusOr<std::string> text = ReadFileToString(index_path);
    if (!text.ok()) return text.status();
    nlohmann::json index = nlohmann::json::parse(*text, nullptr, false);
    if (index.is_discarded() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return absl::DataLossError(absl::StrCat(index_path, ": no \"weight_map\" object"));
    }
    for (auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) {
        return absl::DataLossError(absl::StrCat(index_path, ": bad entry for ", name));
      }
      if (std::find(files.begin(), files.end(), file.get<std::string>()) == files.end()) {
        files.push_back(file.get<std::string>());
      }
    }
  } else if (std::filesystem::exists(model_dir + "/model.safetensors")) {
    files.push_back("model.safetensors");
  } else {
    return absl::NotFoundError(absl::StrCat(
        model_dir, ": neither model.safetensors nor model.safetensors.index.json found"));
  }
  for (const std::string& name : files) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::Open(model_dir + "/" + name);
    if (!file.ok()) return file.status();
    for (const auto& [tensor, view] : (*file)->tensors()) ckpt->owner_[tensor] = file->get();
    ckpt->files_.push_back(*std::move(file));
  }
  return ckpt;
}

bool Checkpoint::Contains(const std::string& name) const { return owner_.contains(name); }

absl::StatusOr<const TensorView*> Checkpoint::Find(const std::string& name) const {
  auto it = owner_.find(name);
  if (it == owner_.end()) {
    return absl::NotFoundError(absl::StrCat(dir_, ": tensor ", name, " not found in checkpoint"));
  }
  return it->second->Find(name);
}

void Checkpoint::Release(const TensorView& view) const {
  auto it = owner_.find(view.name);
  if (it != owner_.end()) it->second->Release(view);
}

}  // namespace dsm
