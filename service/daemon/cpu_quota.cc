// Reads /proc/self/cgroup to find the process's cgroup, then walks from it
// to the root of each hierarchy that carries a CPU quota, keeping the
// smallest. Inside a container with its own cgroup namespace the path is
// "/" and the container's limit sits at the mount's root.
#include "service/daemon/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace snaptun::service {
namespace {

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::optional<double> Min(std::optional<double> a, std::optional<double> b) {
  if (!a.has_value()) return b;
  if (!b.has_value()) return a;
  return std::min(*a, *b);
}

// The directories from `dir` up to `root`, deepest first.
std::vector<std::string> SelfAndAncestors(const std::string& root,
                                          std::string path) {
  std::vector<std::string> dirs;
  while (true) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    dirs.push_back(path == "/" ? root : root + path);
    if (path == "/" || path.empty()) break;
    const size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return dirs;
}

std::optional<double> V1Quota(const std::string& dir) {
  const std::optional<std::string> quota =
      ReadSmallFile(dir + "/cpu.cfs_quota_us");
  const std::optional<std::string> period =
      ReadSmallFile(dir + "/cpu.cfs_period_us");
  if (!quota.has_value() || !period.has_value()) return std::nullopt;
  int64_t q = 0;
  int64_t p = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*quota), &q) ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(*period), &p) || q <= 0 ||
      p <= 0) {
    return std::nullopt;  // -1: unlimited.
  }
  return static_cast<double>(q) / static_cast<double>(p);
}

}  // namespace

std::optional<double> ParseCgroupV2CpuMax(absl::string_view cpu_max) {
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::StripAsciiWhitespace(cpu_max), ' ', absl::SkipEmpty());
  if (fields.size() != 2 || fields[0] == "max") return std::nullopt;
  int64_t quota = 0;
  int64_t period = 0;
  if (!absl::SimpleAtoi(fields[0], &quota) ||
      !absl::SimpleAtoi(fields[1], &period) || quota <= 0 || period <= 0) {
    return std::nullopt;
  }
  return static_cast<double>(quota) / static_cast<double>(period);
}

std::optional<double> CgroupCpuQuota(const std::string& proc_self_cgroup,
                                     const std::string& cgroup_root) {
  const std::optional<std::string> membership = ReadSmallFile(proc_self_cgroup);
  if (!membership.has_value()) return std::nullopt;
  std::optional<double> tightest;
  for (absl::string_view line : absl::StrSplit(*membership, '\n')) {
    // "hierarchy-id:controllers:path"; v2 is "0::path".
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    if (fields.size() < 3) continue;
    const std::string path(fields[2]);
    if (fields[0] == "0" && fields[1].empty()) {
      for (const std::string& dir : SelfAndAncestors(cgroup_root, path)) {
        const std::optional<std::string> cpu_max =
            ReadSmallFile(dir + "/cpu.max");
        if (cpu_max.has_value()) {
          tightest = Min(tightest, ParseCgroupV2CpuMax(*cpu_max));
        }
      }
      continue;
    }
    const std::vector<absl::string_view> controllers =
        absl::StrSplit(fields[1], ',');
    if (std::find(controllers.begin(), controllers.end(), "cpu") ==
        controllers.end()) {
      continue;
    }
    const std::string mount = cgroup_root + "/" + std::string(fields[1]);
    for (const std::string& dir : SelfAndAncestors(mount, path)) {
      tightest = Min(tightest, V1Quota(dir));
    }
  }
  return tightest;
}

size_t WorkersFor(size_t affinity_cpus, std::optional<double> quota) {
  size_t workers = std::max<size_t>(affinity_cpus, 1);
  if (quota.has_value()) {
    const double whole = std::floor(*quota + 1e-9);
    workers = std::min(workers, static_cast<size_t>(std::max(whole, 1.0)));
  }
  return workers;
}

size_t DefaultWorkers() {
  size_t affinity = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    affinity = static_cast<size_t>(CPU_COUNT(&set));
  }
  if (affinity == 0) affinity = std::thread::hardware_concurrency();
  return WorkersFor(affinity, CgroupCpuQuota());
}

}  // namespace snaptun::service
