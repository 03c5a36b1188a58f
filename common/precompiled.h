// The headers precompiled for every library, binary and test (CMakeLists.txt:
// ARBITER_PCH) and for the thread-safety lint (scripts/check_thread_safety.sh):
// the ones most translation units parse, which cost about half of a test's
// compile time. Build time only: every file still includes what it uses.
// glog and Catch2 are added per precompiled header (their CHECK macros
// collide). No Arbiter header but the generated stubs: editing one would
// rebuild everything.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "arbiter/v1/log.grpc.pb.h"
#include "arbiter/v1/reader.grpc.pb.h"
#include "arbiter/v1/writer_admin.grpc.pb.h"
