#include "tests/integration/server_helpers.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tools/model_generator.h"

namespace dsm::testing {

const std::string& SlowModel() {
  static const std::string* dir = [] {
    auto* d = new std::string(testing::ProcessTempPath("slow_model"));
    if (!std::filesystem::exists(*d + "/config.json")) {
      GeneratedModelSpec spec;
      spec.hidden_size = 768;
      spec.intermediate_size = 2064;
      spec.num_hidden_layers = 6;
      spec.num_attention_heads = 12;
      spec.num_key_value_heads = 12;
      spec.vocab_size = 512;
      spec.max_position_embeddings = 4096;
      EXPECT_TRUE(WriteRandomModel(*d, spec).ok());
    }
    return d;
  }();
  return *dir;
}

bool WriteTinyModel(const std::string& dir) {
  GeneratedModelSpec spec;
  spec.hidden_size = 64;
  spec.intermediate_size = 128;
  spec.num_hidden_layers = 1;
  spec.num_attention_heads = 4;
  spec.num_key_value_heads = 4;
  spec.vocab_size = 64;
  absl::Status written = WriteRandomModel(dir, spec);
  EXPECT_TRUE(written.ok()) << written;
  return written.ok();
}

bool BlockWeightsLoad(const std::string& dir) {
  const std::string weights = dir + "/model.safetensors";
  const bool blocked = unlink(weights.c_str()) == 0 && mkfifo(weights.c_str(), 0600) == 0;
  EXPECT_TRUE(blocked) << "cannot replace " << weights << " with a FIFO";
  return blocked;
}

std::vector<pid_t> WorkerPidsOf(pid_t parent_pid) {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::string(entry->d_name) + "/stat");
    std::string line;
    std::getline(stat, line);
    // Field 4, after "pid (comm) state", is the parent pid.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t parent;
    rest >> state >> parent;
    if (parent != parent_pid || state == 'Z') continue;
    std::ifstream cmdline("/proc/" + std::string(entry->d_name) + "/cmdline");
    std::string command;
    std::getline(cmdline, command, '\0');
    if (command.find("dsm-worker") != std::string::npos) pids.push_back(pid);
  }
  closedir(proc);
  return pids;
}

}  // namespace dsm::testing
