// The default worker count follows the CPUs a container may use: cgroup v2
// and v1 quotas read from a fake /proc/self/cgroup and cgroup tree, the
// tightest ancestor wins, and the count is rounded down but never zero.
#include "service/daemon/cpu_quota.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace snaptun::service {
namespace {

namespace fs = std::filesystem;

class CgroupTree {
 public:
  CgroupTree() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = fs::path(tmp != nullptr ? tmp : "/tmp") /
            ("cgroup-" + std::to_string(counter_++));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~CgroupTree() { fs::remove_all(root_); }

  void Write(const std::string& relative, const std::string& content) {
    const fs::path path = root_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }
  std::string proc() const { return (root_ / "proc-self-cgroup").string(); }
  std::string sys() const { return (root_ / "sys").string(); }

 private:
  static inline int counter_ = 0;
  fs::path root_;
};

TEST(CpuQuotaTest, ParsesCgroupV2CpuMax) {
  EXPECT_EQ(ParseCgroupV2CpuMax("200000 100000\n"), 2.0);
  EXPECT_EQ(ParseCgroupV2CpuMax("50000 100000"), 0.5);
  EXPECT_EQ(ParseCgroupV2CpuMax("max 100000\n"), std::nullopt);
  EXPECT_EQ(ParseCgroupV2CpuMax(""), std::nullopt);
  EXPECT_EQ(ParseCgroupV2CpuMax("-1 100000"), std::nullopt);
  EXPECT_EQ(ParseCgroupV2CpuMax("abc def"), std::nullopt);
  EXPECT_EQ(ParseCgroupV2CpuMax("100000 0"), std::nullopt);
}

TEST(CpuQuotaTest, ContainerNamespaceReadsTheMountRoot) {
  CgroupTree tree;
  tree.Write("proc-self-cgroup", "0::/\n");
  tree.Write("sys/cpu.max", "200000 100000\n");
  EXPECT_EQ(CgroupCpuQuota(tree.proc(), tree.sys()), 2.0);
}

TEST(CpuQuotaTest, TheTightestAncestorWins) {
  CgroupTree tree;
  tree.Write("proc-self-cgroup", "0::/kubepods/pod1/ctr\n");
  tree.Write("sys/kubepods/cpu.max", "max 100000\n");
  tree.Write("sys/kubepods/pod1/cpu.max", "150000 100000\n");
  tree.Write("sys/kubepods/pod1/ctr/cpu.max", "400000 100000\n");
  EXPECT_EQ(CgroupCpuQuota(tree.proc(), tree.sys()), 1.5);
}

TEST(CpuQuotaTest, UnlimitedOrMissingIsNoQuota) {
  CgroupTree tree;
  tree.Write("proc-self-cgroup", "0::/user.slice\n");
  tree.Write("sys/user.slice/cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuQuota(tree.proc(), tree.sys()), std::nullopt);
  EXPECT_EQ(CgroupCpuQuota(tree.proc() + ".missing", tree.sys()), std::nullopt);
}

TEST(CpuQuotaTest, ReadsCgroupV1CfsQuota) {
  CgroupTree tree;
  tree.Write("proc-self-cgroup",
             "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n");
  tree.Write("sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  tree.Write("sys/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  tree.Write("sys/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  tree.Write("sys/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuQuota(tree.proc(), tree.sys()), 3.0);
}

TEST(CpuQuotaTest, WorkersAreTheQuotaRoundedDownAndAtLeastOne) {
  EXPECT_EQ(WorkersFor(64, 2.0), 2u);
  EXPECT_EQ(WorkersFor(64, 2.5), 2u);
  EXPECT_EQ(WorkersFor(64, 0.5), 1u);
  EXPECT_EQ(WorkersFor(2, 8.0), 2u);
  EXPECT_EQ(WorkersFor(8, std::nullopt), 8u);
  EXPECT_EQ(WorkersFor(0, std::nullopt), 1u);
}

TEST(CpuQuotaTest, ThisProcessGetsAtLeastOneWorker) {
  EXPECT_GE(DefaultWorkers(), 1u);
}

}  // namespace
}  // namespace snaptun::service
