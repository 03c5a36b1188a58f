#ifndef ARBITER_TESTS_TESTING_HTTP_H_
#define ARBITER_TESTS_TESTING_HTTP_H_

// A minimal HTTP/1.0 GET on 127.0.0.1, for scraping /metrics in tests.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace arbiter::testing {

// The body of GET http://127.0.0.1:<port><path>. UNAVAILABLE if it cannot
// connect or read; INTERNAL naming the status line if it is not 200.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path,
                                    absl::Duration timeout = absl::Seconds(10));

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_HTTP_H_
