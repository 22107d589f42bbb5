#include "worker/comm/shared_memory_communicator.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dsm {
namespace {

constexpr int kMaxRanks = 64;

// FNV-1a: a hash that is the same in every process (absl::Hash is seeded per process).
uint64_t StableHash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string LinkTarget(const std::string& path) {
  char buffer[256];
  const ssize_t n = readlink(path.c_str(), buffer, sizeof(buffer));
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

// Ranks that share this value can share memory and see each other's pids: the same
// boot of the same machine, and the same IPC, PID, mount and network namespaces (a test
// that gives each "host" its own network namespace keeps Gloo between them).
uint64_t HostIdentity() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::string id = host;
  id += "|" + ReadFirstLine("/proc/sys/kernel/random/boot_id");
  for (const char* ns : {"ipc", "pid", "mnt", "net"})
    id += "|" + LinkTarget(absl::StrCat("/proc/self/ns/", ns));
  return StableHash(id);
}

// A 64-bit value as 4 floats holding 16 bits each (exact), to travel through a float
// all-gather.
void Encode(uint64_t value, float* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<float>((value >> (16 * i)) & 0xFFFF);
}
uint64_t Decode(const float* in) {
  uint64_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint64_t>(in[i]) << (16 * i);
  return value;
}

// True when the process is gone or a zombie (exited, not yet reaped by its parent).
bool ProcessExited(int pid) {
  const std::string stat = ReadFirstLine(absl::StrCat("/proc/", pid, "/stat"));
  if (stat.empty()) return true;
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z' ||
         stat[paren + 2] == 'X';
}

}  // namespace

struct SharedMemoryCommunicator::Segment {
  struct alignas(64) RankState {
    std::atomic<uint64_t> arrived;  // the last collective whose data is in the slot
    // Element counts of the collective in each half of the double buffer, checked
    // against the others' (a peer may already be one collective ahead).
    std::atomic<uint64_t> count[2];
    int32_t pid;
  };
  RankState ranks[kMaxRanks];
  // Followed by float slots[2][world][kSlotFloats], 64-byte aligned.
  float* slots() { return reinterpret_cast<float*>(this + 1); }
};

absl::StatusOr<std::unique_ptr<Communicator>> SharedMemoryCommunicator::Attach(
    std::unique_ptr<Communicator> gloo, std::chrono::milliseconds timeout) {
  const char* env = std::getenv("DSM_SHARED_MEMORY_COMM");
  const int world = gloo->world_size();
  const int rank = gloo->rank();
  if ((env != nullptr && std::string(env) == "0") || world < 2 || world > kMaxRanks) {
    return gloo;
  }
  // Everyone's host identity, and rank 0's choice of segment name.
  std::vector<float> mine(8), all(8 * world);
  Encode(HostIdentity(), mine.data());
  Encode(std::random_device()() * 0x100000000ull + std::random_device()(), mine.data() + 4);
  if (absl::Status s = gloo->AllGather(mine.data(), mine.size(), all.data()); !s.ok()) return s;
  for (int r = 1; r < world; ++r) {
    if (Decode(all.data() + 8 * r) != Decode(all.data())) return gloo;  // not one host
  }
  const std::string name = absl::StrFormat("/dsm-comm-%016x", Decode(all.data() + 4));
  const size_t bytes = sizeof(Segment) + size_t{2} * world * kSlotFloats * sizeof(float);

  // Every rank learns whether every other got this far, so all agree on the outcome.
  auto agree = [&](bool ok) -> absl::StatusOr<bool> {
    std::vector<float> flag(1, ok ? 1.0f : 0.0f), flags(world);
    if (absl::Status s = gloo->AllGather(flag.data(), 1, flags.data()); !s.ok()) return s;
    for (float f : flags) {
      if (f != 1.0f) return false;
    }
    return true;
  };
  int fd = -1;
  if (rank == 0) {
    fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    // Reserve the pages now: /dev/shm is often small (64 MiB in a container by default),
    // and touching a page of a sparse segment that does not fit would raise SIGBUS.
    if (fd >= 0 && (ftruncate(fd, static_cast<off_t>(bytes)) != 0 ||
                    posix_fallocate(fd, 0, static_cast<off_t>(bytes)) != 0)) {
      close(fd);
      shm_unlink(name.c_str());
      fd = -1;
    }
  }
  absl::StatusOr<bool> created = agree(rank != 0 || fd >= 0);
  if (!created.ok()) return created.status();
  if (!*created) {
    if (fd >= 0) close(fd);
    if (rank == 0) shm_unlink(name.c_str());
    return gloo;
  }
  if (rank != 0) fd = shm_open(name.c_str(), O_RDWR, 0600);
  void* mapped = MAP_FAILED;
  if (fd >= 0) {
    mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
  }
  absl::StatusOr<bool> opened = agree(mapped != MAP_FAILED);
  if (rank == 0) shm_unlink(name.c_str());  // the mappings keep it alive
  if (!opened.ok() || !*opened) {
    if (mapped != MAP_FAILED) munmap(mapped, bytes);
    if (!opened.ok()) return opened.status();
    return gloo;
  }
  auto* segment = static_cast<Segment*>(mapped);
  segment->ranks[rank].pid = static_cast<int32_t>(getpid());
  // The pids must be visible before the first collective polls them.
  absl::StatusOr<bool> ready = agree(true);
  if (!ready.ok()) {
    munmap(mapped, bytes);
    return ready.status();
  }
  auto comm = std::unique_ptr<SharedMemoryCommunicator>(new SharedMemoryCommunicator());
  comm->inner_ = std::move(gloo);
  comm->timeout_ = timeout;
  comm->segment_ = segment;
  comm->mapped_bytes_ = bytes;
  return std::unique_ptr<Communicator>(std::move(comm));
}

SharedMemoryCommunicator::~SharedMemoryCommunicator() {
  if (segment_ != nullptr) munmap(segment_, mapped_bytes_);
}

const float* SharedMemoryCommunicator::Slot(int buffer, int rank) const {
  return segment_->slots() + (static_cast<size_t>(buffer) * world_size() + rank) * kSlotFloats;
}

absl::StatusOr<int> SharedMemoryCommunicator::Exchange(const float* data, size_t count) {
  const uint64_t sequence = ++sequence_;
  const int buffer = static_cast<int>(sequence % 2);
  const int me = rank();
  // Double buffering: a peer finished reading this buffer's previous use (sequence - 2)
  // before it arrived at sequence - 1, which the last exchange waited for.
  std::memcpy(const_cast<float*>(Slot(buffer, me)), data, count * sizeof(float));
  segment_->ranks[me].count[buffer].store(count, std::memory_order_relaxed);
  segment_->ranks[me].arrived.store(sequence, std::memory_order_release);

  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  auto next_liveness_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
  for (int r = 0; r < world_size(); ++r) {
    for (uint64_t spins = 0; segment_->ranks[r].arrived.load(std::memory_order_acquire) < sequence;
         ++spins) {
      if (spins < 4096) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        continue;
      }
      sched_yield();  // oversubscribed cores: let the peer run
      if ((spins & 63) != 0) continue;
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_liveness_check) {
        next_liveness_check = now + std::chrono::milliseconds(5);
        if (ProcessExited(segment_->ranks[r].pid)) {
          return absl::UnavailableError(absl::StrCat("rank ", r, " (pid ", segment_->ranks[r].pid,
                                                     ") exited during a collective"));
        }
      }
      if (now >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat("rank ", r, " did not reach collective ",
                                                        sequence, " within ", timeout_.count(),
                                                        " ms (shared-memory communicator)"));
      }
    }
    const uint64_t theirs = segment_->ranks[r].count[buffer].load(std::memory_order_relaxed);
    if (theirs != count) {
      return absl::InternalError(absl::StrCat("collective ", sequence, ": rank ", r, " sent ",
                                              theirs, " elements, rank ", me, " sent ", count));
    }
  }
  return buffer;
}

absl::Status SharedMemoryCommunicator::AllReduceSum(const CommBuffer& buffer) {
  if (buffer.space != MemorySpace::kHost || buffer.dtype != DType::kF32) {
    return inner_->AllReduceSum(buffer);  // Gloo names what it cannot take
  }
  if (buffer.count > kSlotFloats) return inner_->AllReduceSum(buffer);
  float* data = static_cast<float*>(buffer.data);
  absl::StatusOr<int> slot = Exchange(data, buffer.count);
  if (!slot.ok()) return slot.status();
  // Every rank adds the slots in rank order: bitwise the same sum everywhere.
  const float* first = Slot(*slot, 0);
  std::memcpy(data, first, buffer.count * sizeof(float));
  for (int r = 1; r < world_size(); ++r) {
    const float* other = Slot(*slot, r);
    for (size_t i = 0; i < buffer.count; ++i) data[i] += other[i];
  }
  return absl::OkStatus();
}

absl::Status SharedMemoryCommunicator::AllGather(const CommBuffer& in, const CommBuffer& out) {
  if (in.space != MemorySpace::kHost || in.dtype != DType::kF32 || in.count > kSlotFloats ||
      out.count < in.count * world_size()) {
    return inner_->AllGather(in, out);
  }
  absl::StatusOr<int> slot = Exchange(static_cast<const float*>(in.data), in.count);
  if (!slot.ok()) return slot.status();
  float* dst = static_cast<float*>(out.data);
  for (int r = 0; r < world_size(); ++r) {
    std::memcpy(dst + r * in.count, Slot(*slot, r), in.count * sizeof(float));
  }
  return absl::OkStatus();
}

}  // namespace dsm
