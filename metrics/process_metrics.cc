// /proc/self/stat, /proc/self/fd and /proc/self/limits.
#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "metrics/exposition.h"

namespace snaptun::metrics {
namespace {

double BootTimeSeconds() {
  std::ifstream stat("/proc/stat");
  std::string key;
  double value = 0;
  while (stat >> key) {
    if (key == "btime") {
      stat >> value;
      break;
    }
  }
  return value;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // The directory handle itself.
}

prometheus::MetricFamily Gauge(const char* name, const char* help,
                               double value) {
  return GaugeFamily(name, help, {{{}, value}});
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold
  // spaces: field 3 is the first one after ") ".
  const size_t close = stat.rfind(')');
  std::istringstream fields(
      close == std::string::npos ? "" : stat.substr(close + 2));
  std::vector<std::string> f;
  std::string field;
  while (fields >> field) f.push_back(field);
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  if (f.size() > 21) {
    // f[0] is field 3. utime 14, stime 15, starttime 22, vsize 23, rss 24.
    const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
    out.push_back(CounterFamily(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.", {{{}, cpu}}));
    out.push_back(
        Gauge("process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.",
              BootTimeSeconds() + std::stod(f[19]) / ticks));
    out.push_back(Gauge("process_virtual_memory_bytes",
                        "Virtual memory size in bytes.", std::stod(f[20])));
    out.push_back(Gauge("process_resident_memory_bytes",
                        "Resident memory size in bytes.",
                        std::stod(f[21]) * page));
  }
  out.push_back(
      Gauge("process_open_fds", "Number of open file descriptors.", OpenFds()));
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  out.push_back(Gauge("process_max_fds",
                      "Maximum number of open file descriptors.",
                      static_cast<double>(limit.rlim_cur)));
  return out;
}

}  // namespace snaptun::metrics
