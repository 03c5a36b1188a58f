#ifndef ARBITER_TESTS_TESTING_METRICS_TEXT_H_
#define ARBITER_TESTS_TESTING_METRICS_TEXT_H_

// Reading Prometheus' text exposition format in tests.

#include <map>
#include <optional>
#include <string>

namespace arbiter::testing {

// The value of the first series `name` whose labels include every one of
// `labels`; nullopt if there is none.
std::optional<double> MetricSample(const std::string& text, const std::string& name,
                                   const std::map<std::string, std::string>& labels = {});

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_METRICS_TEXT_H_
