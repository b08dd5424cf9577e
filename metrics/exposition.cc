// Concatenating collectables and serializing them with prometheus-cpp.
#include "metrics/exposition.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>
#include <prometheus/text_serializer.h>

namespace snaptun::metrics {
namespace {

prometheus::MetricFamily Family(
    std::string name, std::string help, prometheus::MetricType type,
    const std::vector<std::pair<prometheus::Labels, double>>& series) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  for (const auto& [labels, value] : series) {
    prometheus::ClientMetric metric;
    for (const auto& [label, label_value] : labels) {
      metric.label.push_back({label, label_value});
    }
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
  }
  return family;
}

}  // namespace

void Exposition::Add(
    std::shared_ptr<const prometheus::Collectable> collectable) {
  absl::MutexLock lock(&mu_);
  collectables_.push_back(std::move(collectable));
}

std::vector<prometheus::MetricFamily> Exposition::Collect() const {
  std::vector<std::shared_ptr<const prometheus::Collectable>> collectables;
  {
    absl::MutexLock lock(&mu_);
    collectables = collectables_;
  }
  std::vector<prometheus::MetricFamily> out;
  for (const auto& collectable : collectables) {
    std::vector<prometheus::MetricFamily> families = collectable->Collect();
    out.insert(out.end(), std::make_move_iterator(families.begin()),
               std::make_move_iterator(families.end()));
  }
  return out;
}

std::string Exposition::Render() const {
  return prometheus::TextSerializer().Serialize(Collect());
}

prometheus::MetricFamily GaugeFamily(
    std::string name, std::string help,
    const std::vector<std::pair<prometheus::Labels, double>>& series) {
  return Family(std::move(name), std::move(help), prometheus::MetricType::Gauge,
                series);
}

prometheus::MetricFamily CounterFamily(
    std::string name, std::string help,
    const std::vector<std::pair<prometheus::Labels, double>>& series) {
  return Family(std::move(name), std::move(help),
                prometheus::MetricType::Counter, series);
}

}  // namespace snaptun::metrics
