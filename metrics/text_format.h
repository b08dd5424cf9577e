// Prometheus text exposition format 0.0.4: HELP and TYPE lines, label values
// and help text escaped as the format requires, histograms as cumulative
// `_bucket` series with `le`, then `_sum` and `_count`.
#ifndef SNAPTUN_METRICS_TEXT_FORMAT_H_
#define SNAPTUN_METRICS_TEXT_FORMAT_H_

#include <string>
#include <vector>

#include "metrics/registry.h"

namespace snaptun::metrics {

inline constexpr char kTextContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

std::string WriteTextFormat(const std::vector<FamilySnapshot>& families);

// Exposed for tests.
std::string EscapeLabelValue(const std::string& value);
std::string EscapeHelp(const std::string& help);
std::string FormatValue(double value);

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_TEXT_FORMAT_H_
