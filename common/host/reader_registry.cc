#include "common/host/reader_registry.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "glog/logging.h"
#include "google/protobuf/util/json_util.h"

namespace arbiter::host {
namespace {

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  }) && id != "." && id != "..";
}

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status WriteReaderRegistration(
    const std::string& readers_dir,
    const v1::ReaderRegistration& registration) {
  if (!ValidId(registration.id())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reader id \"", registration.id(),
        "\": expected 1..128 characters of [A-Za-z0-9._-]"));
  }
  std::error_code ec;
  std::filesystem::create_directories(readers_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", readers_dir, ": ", ec.message()));
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  auto s = google::protobuf::util::MessageToJsonString(registration, &json,
                                                       options);
  if (!s.ok()) return absl::InternalError(s.ToString());
  json += "\n";

  return WriteFileAtomically(absl::StrCat(readers_dir, "/", registration.id(), ".json"),
                             json);
}

absl::Status RemoveReaderRegistration(const std::string& readers_dir,
                                      const std::string& id) {
  std::string path = absl::StrCat(readers_dir, "/", id, ".json");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Errno(absl::StrCat("unlink ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RegisteredReader>> ReadReaderRegistrations(
    const std::string& readers_dir, const storage::BootTime& now) {
  std::vector<RegisteredReader> readers;
  std::error_code ec;
  if (!std::filesystem::exists(readers_dir, ec)) return readers;
  for (const auto& entry :
       std::filesystem::directory_iterator(readers_dir, ec)) {
    const std::string path = entry.path().string();
    if (!absl::EndsWith(path, ".json")) continue;
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    RegisteredReader r;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    auto s = google::protobuf::util::JsonStringToMessage(
        text.str(), &r.registration, options);
    if (!s.ok()) {
      LOG(WARNING) << "skipping unreadable reader registration " << path
                   << ": " << s.ToString();
      continue;
    }
    const auto& reg = r.registration;
    if (reg.boot_id() != now.boot_id) {
      r.expired = true;
    } else {
      int64_t remaining_ns = reg.lease_until_boottime_ns() - now.boottime_ns;
      r.lease_remaining_ms = remaining_ns / 1'000'000;
      r.expired = remaining_ns <= 0;
    }
    readers.push_back(std::move(r));
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot list ", readers_dir, ": ", ec.message()));
  }
  std::sort(readers.begin(), readers.end(), [](const auto& a, const auto& b) {
    return a.registration.id() < b.registration.id();
  });
  return readers;
}

}  // namespace arbiter::host
