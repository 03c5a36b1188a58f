#include "services/reader/registrar.h"

#include <unistd.h>

#include "common/host/reader_registry.h"
#include "glog/logging.h"

namespace arbiter::reader {

Registrar::Registrar(RegistrarOptions options, const storage::BootClock* clock,
                     std::function<uint64_t()> staleness_ms)
    : options_(std::move(options)),
      clock_(clock),
      staleness_ms_(std::move(staleness_ms)) {}

Registrar::~Registrar() { Stop(); }

absl::Status Registrar::Start() {
  if (absl::Status s = WriteNow(); !s.ok()) return s;
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.refresh)) {
      if (absl::Status s = WriteNow(); !s.ok()) {
        LOG(WARNING) << "registration file: " << s;
      }
    }
  });
  return absl::OkStatus();
}

void Registrar::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::Status Registrar::Remove() {
  Stop();
  absl::MutexLock l(&mu_);
  removed_ = true;
  return host::RemoveReaderRegistration(options_.readers_dir, options_.id);
}

absl::Status Registrar::SetDrainState(v1::DrainState state) {
  {
    absl::MutexLock l(&mu_);
    if (drain_state_ == state) return absl::OkStatus();
    drain_state_ = state;
  }
  LOG(INFO) << "reader drain state " << v1::DrainState_Name(state);
  return WriteNow();
}

v1::DrainState Registrar::drain_state() const {
  absl::MutexLock l(&mu_);
  return drain_state_;
}

absl::Status Registrar::WriteNow() {
  absl::MutexLock l(&mu_);
  if (removed_) return absl::OkStatus();
  const storage::BootTime now = clock_->Now();
  v1::ReaderRegistration r;
  r.set_id(options_.id);
  r.set_address(options_.address);
  r.set_boot_id(now.boot_id);
  r.set_drain_state(drain_state_);
  r.set_lease_until_boottime_ns(now.boottime_ns +
                                absl::ToInt64Nanoseconds(options_.lease));
  if (staleness_ms_) r.set_staleness_ms(staleness_ms_());
  r.set_pid(getpid());
  return host::WriteReaderRegistration(options_.readers_dir, r);
}

}  // namespace arbiter::reader
