#ifndef ARBITER_SERVICES_READER_REGISTRAR_H_
#define ARBITER_SERVICES_READER_REGISTRAR_H_

// Keeps this reader's registration file, <data>/readers/<id>.json
// (DESIGN.md §8.11, arbiter.v1.ReaderRegistration): rewritten by atomic
// rename every `refresh` with a lease of `lease` from now, and at once when
// the drain state changes. The writer reads these files to decide when a
// host drain is complete; an expired lease counts as DRAINED, so a SIGKILLed
// reader blocks a host drain for at most one lease. Remove() on a clean exit.
//
// Thread-safe.

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "arbiter/v1/writer_admin.pb.h"
#include "common/storage/boot_clock.h"

namespace arbiter::reader {

struct RegistrarOptions {
  std::string readers_dir;
  std::string id;
  std::string address;
  absl::Duration refresh = absl::Seconds(1);
  absl::Duration lease = absl::Seconds(5);
};

class Registrar {
 public:
  // `clock` must outlive the registrar; `staleness_ms` (may be empty) is
  // called for the informational staleness field.
  Registrar(RegistrarOptions options, const storage::BootClock* clock,
            std::function<uint64_t()> staleness_ms);
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  // Writes the file once (errors are returned) and starts refreshing it.
  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops refreshing; the file stays (call Remove for a clean exit).
  void Stop();
  absl::Status Remove();

  // Records the reader's drain state and rewrites the file at once.
  absl::Status SetDrainState(v1::DrainState state) ABSL_LOCKS_EXCLUDED(mu_);
  v1::DrainState drain_state() const ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status WriteNow() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const RegistrarOptions options_;
  const storage::BootClock* const clock_;
  const std::function<uint64_t()> staleness_ms_;
  mutable absl::Mutex mu_;  // serialises writes of the file
  v1::DrainState drain_state_ ABSL_GUARDED_BY(mu_) = v1::DRAIN_STATE_ACTIVE;
  bool removed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace arbiter::reader

#endif  // ARBITER_SERVICES_READER_REGISTRAR_H_
