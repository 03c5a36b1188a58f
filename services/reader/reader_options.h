#ifndef ARBITER_SERVICES_READER_READER_OPTIONS_H_
#define ARBITER_SERVICES_READER_READER_OPTIONS_H_

// arbiter-reader's configuration, built from flags in main.cc.

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace arbiter::reader {

struct ReaderOptions {
  std::string data_dir = "./var/host";
  std::string log_address = "127.0.0.1:50051";
  // Empty: "reader-<port>", chosen once listening.
  std::string reader_id;
  absl::Duration max_staleness = absl::Seconds(2);
  absl::Duration max_consistency_wait = absl::Seconds(5);
  absl::Duration drain_grace = absl::Seconds(5);
  absl::Duration poll_interval = absl::Milliseconds(250);
  // TenantReplicas: a tenant whose in-memory top layer holds more changes
  // than this waits for the writer's next index file instead of growing it.
  int64_t max_top_changes = 20000;
  absl::Duration lease = absl::Seconds(5);
  // Worker threads for List/Query/GetFacts/Explain and released waits.
  int workers = 2;
  // Watch streams served at once (more: RESOURCE_EXHAUSTED), and how long a
  // client may leave a message unread before its stream ends.
  int64_t max_watch_streams = 1000;
  absl::Duration watch_stall_timeout = absl::Seconds(30);

  // INVALID_ARGUMENT naming the flag.
  absl::Status Validate() const;
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_READER_OPTIONS_H_
