// How many CPUs this process may use: the scheduler affinity mask, capped by
// the cgroup CPU quota (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us over
// cpu.cfs_period_us) of the process's cgroup and its ancestors. A container
// with a 2-CPU limit on a 64-core node may use 2, not 64; --workers=0 starts
// that many data-plane workers, rounded down (a worker busy on a fraction
// of a CPU is throttled) and at least one.
#ifndef SNAPTUN_SERVICE_DAEMON_CPU_QUOTA_H_
#define SNAPTUN_SERVICE_DAEMON_CPU_QUOTA_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace snaptun::service {

// The CPUs of a cgroup v2 cpu.max ("QUOTA PERIOD", QUOTA may be "max"):
// nullopt when unlimited or unreadable.
std::optional<double> ParseCgroupV2CpuMax(absl::string_view cpu_max);

// The tightest CPU quota on the cgroup path of this process, read from
// `proc_self_cgroup` (normally /proc/self/cgroup) and the cgroup file
// systems under `cgroup_root` (normally /sys/fs/cgroup). nullopt: none.
std::optional<double> CgroupCpuQuota(
    const std::string& proc_self_cgroup = "/proc/self/cgroup",
    const std::string& cgroup_root = "/sys/fs/cgroup");

// Workers for `affinity_cpus` usable CPUs under `quota` CPUs.
size_t WorkersFor(size_t affinity_cpus, std::optional<double> quota);

// WorkersFor this process's affinity mask and cgroup quota.
size_t DefaultWorkers();

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_DAEMON_CPU_QUOTA_H_
