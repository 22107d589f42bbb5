#include "common/huge_pages.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace dsm {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The THPeligible flag of the mapping that holds `address` (/proc/self/smaps): whether
// the kernel may back it with huge pages, which in "madvise" mode only advice grants.
int ThpEligible(const void* address) {
  std::istringstream smaps(ReadFile("/proc/self/smaps"));
  const auto target = reinterpret_cast<uintptr_t>(address);
  bool inside = false;
  std::string line;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find(':') > 8) {
      inside = begin <= target && target < end;
    } else if (inside && line.rfind("THPeligible:", 0) == 0) {
      return std::stoi(line.substr(12));
    }
  }
  return -1;
}

TEST(HugePagesTest, SmallAndUnalignedRangesAreLeftAlone) {
  char small[4096];
  AdviseHugePages(small, sizeof(small));  // no whole 2 MiB page inside: nothing to advise
  AdviseHugePages(small + 1, 0);
  SUCCEED();
}

TEST(HugePagesTest, AdviceMakesTheAlignedPartEligible) {
  const std::string mode = ReadFile("/sys/kernel/mm/transparent_hugepage/enabled");
  if (mode.find("[madvise]") == std::string::npos) {
    GTEST_SKIP() << "transparent huge pages are not in madvise mode here (" << mode
                 << "): advice changes nothing to observe";
  }
  const size_t huge = size_t{2} << 20;
  const size_t bytes = 8 * huge;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  const auto base = reinterpret_cast<uintptr_t>(p);
  const auto* first_huge = reinterpret_cast<const char*>((base + huge) & ~(huge - 1));
  EXPECT_EQ(ThpEligible(first_huge), 0) << "not advised yet";
  AdviseHugePages(static_cast<char*>(p) + 1, bytes - 1);  // unaligned start: rounded in
  EXPECT_EQ(ThpEligible(first_huge), 1);
  munmap(p, bytes);
}

}  // namespace
}  // namespace dsm
