#ifndef ARBITER_TESTS_FUZZ_FUZZ_UTIL_H_
#define ARBITER_TESTS_FUZZ_FUZZ_UTIL_H_

// Helpers shared by the libFuzzer targets of tests/fuzz.
//
// Not thread-safe: libFuzzer calls LLVMFuzzerTestOneInput on one thread.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace arbiter::fuzz {

// Once per process: protobuf's and glog's logging off (a fuzzer feeds them
// garbage on purpose; their messages would drown libFuzzer's output).
void QuietLogging();

// A fresh directory for one fuzzer process, removed at exit (not after a
// crash). Under $ARBITER_FUZZ_TMPDIR if set, else /dev/shm (SQLite's fsyncs
// cost nothing there), else $TMPDIR, else /tmp. Aborts if it cannot be made:
// the target cannot run without it.
const std::string& ScratchDir(std::string_view name);

// Removes `path` and everything under it; ignores errors.
void RemoveTree(const std::string& path);

// Reads the input as a sequence of choices: the fuzzer's bytes drive the
// harness's decisions (first byte: which message type, ...).
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  // The next byte, or 0 when none is left.
  uint8_t Byte() {
    if (pos_ >= size_) return 0;
    return data_[pos_++];
  }
  // Everything not consumed yet.
  // (absl::string_view: Debian's Abseil has its own, which the APIs take.)
  absl::string_view Rest() const {
    return absl::string_view(reinterpret_cast<const char*>(data_) + pos_,
                             size_ - pos_);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// $ARBITER_FUZZ_VERBOSE is set: targets print what each input did (for
// checking seeds: `ARBITER_FUZZ_VERBOSE=1 <target> -runs=0 corpus/<target>`).
bool Verbose();

// Aborts with `what` when `ok` is false: a broken invariant of the code
// under test (libFuzzer records the input as a crash).
void Check(bool ok, std::string_view what);

}  // namespace arbiter::fuzz

#endif  // ARBITER_TESTS_FUZZ_FUZZ_UTIL_H_
