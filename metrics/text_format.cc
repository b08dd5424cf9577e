// Text format 0.0.4 writer.
#include "metrics/text_format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace snaptun::metrics {
namespace {

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void WriteLabels(std::string& out, const Labels& labels,
                 const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    absl::StrAppend(&out, name, "=\"", EscapeLabelValue(value), "\"");
  }
  if (le != nullptr) {
    if (!first) out += ',';
    absl::StrAppend(&out, "le=\"", *le, "\"");
  }
  out += '}';
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest form that reads back as the same double.
  char buffer[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string WriteTextFormat(const std::vector<FamilySnapshot>& families) {
  std::string out;
  for (const FamilySnapshot& family : families) {
    absl::StrAppend(&out, "# HELP ", family.name, " ", EscapeHelp(family.help),
                    "\n# TYPE ", family.name, " ", TypeName(family.type), "\n");
    for (const Sample& sample : family.samples) {
      if (family.type != MetricType::kHistogram) {
        out += family.name;
        WriteLabels(out, sample.labels);
        absl::StrAppend(&out, " ", FormatValue(sample.value), "\n");
        continue;
      }
      const Histogram::Snapshot& h = sample.histogram;
      for (size_t i = 0; i <= h.bounds.size(); ++i) {
        const std::string le =
            i < h.bounds.size() ? FormatValue(h.bounds[i]) : "+Inf";
        absl::StrAppend(&out, family.name, "_bucket");
        WriteLabels(out, sample.labels, &le);
        absl::StrAppend(&out, " ", h.cumulative[i], "\n");
      }
      absl::StrAppend(&out, family.name, "_sum");
      WriteLabels(out, sample.labels);
      absl::StrAppend(&out, " ", FormatValue(h.sum), "\n", family.name,
                      "_count");
      WriteLabels(out, sample.labels);
      absl::StrAppend(&out, " ", h.count, "\n");
    }
  }
  return out;
}

}  // namespace snaptun::metrics
