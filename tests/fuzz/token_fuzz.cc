// token_fuzz: the opaque strings and small records a client or a peer hands
// back to a service. The first byte picks the decoder, the rest is its input:
//
//   byte % 4   decoder
//   0          api::DecodeConsistencyToken (Consistency.at_least); a token
//              that decodes re-encodes to one that decodes to the same
//   1          reader::DecodePageToken, once against a hash it cannot match
//              and once against the hash the token itself carries; a token
//              that decodes round-trips through EncodePageToken
//   2          v1::SnapshotManifest as the writer receives it (ListSnapshots):
//              replica::SnapshotInstall Begin -> StagedPath for every file
//              (the harness writes min(size, 4 KiB) bytes there) -> Commit,
//              in a scratch directory (at most 16 files and 16 tenants)
//   3          a MANIFEST file as the log reads it back from its snapshot
//              store (snapshot::SnapshotStore::List and Get)
// Nothing may crash, and nothing may be written outside the scratch
// directory. Seeds: corpus/token_fuzz (make_seeds.cc).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "arbiter/v1/log.pb.h"
#include "common/api/api.h"
#include "common/replica/snapshot_install.h"
#include "common/snapshot/snapshot.h"
#include "services/reader/page_token.h"
#include "tests/fuzz/fuzz_util.h"

namespace arbiter::fuzz {
namespace {

constexpr int kMaxManifestFiles = 16;
constexpr int kMaxManifestTenants = 16;
constexpr uint64_t kMaxStagedBytes = 4096;

const std::string& Scratch() { return ScratchDir("token_fuzz"); }

void ConsistencyToken(absl::string_view token) {
  auto payload = api::DecodeConsistencyToken(token);
  if (!payload.ok()) {
    Check(payload.status().code() == absl::StatusCode::kInvalidArgument ||
              payload.status().code() == absl::StatusCode::kFailedPrecondition,
          "DecodeConsistencyToken fails with INVALID_ARGUMENT or "
          "FAILED_PRECONDITION");
    return;
  }
  Check(!payload->cluster_id().empty(), "a decoded token names its cluster");
  const std::string again = api::EncodeConsistencyToken(
      payload->cluster_id(), payload->offset(), payload->watch_skip(), payload->epoch());
  auto round = api::DecodeConsistencyToken(again);
  Check(round.ok() && round->cluster_id() == payload->cluster_id() &&
            round->offset() == payload->offset() &&
            round->watch_skip() == payload->watch_skip() && round->epoch() == payload->epoch(),
        "a consistency token round-trips");
}

void PageToken(absl::string_view token) {
  auto wrong = reader::DecodePageToken(token, "not-a-hash-any-token-has");
  Check(!wrong.ok() &&
            wrong.status().code() == absl::StatusCode::kInvalidArgument,
        "a page token for another query is INVALID_ARGUMENT");
  // The hash the token carries, so that the rest of the decoding runs.
  std::string raw;
  std::string hash;
  if (absl::WebSafeBase64Unescape(token, &raw) &&
      absl::StartsWith(raw, "p1:")) {
    hash = raw.substr(
        3, raw.find(':', 3) == std::string::npos ? 0 : raw.find(':', 3) - 3);
  }
  auto t = reader::DecodePageToken(token, hash);
  if (!t.ok()) {
    Check(t.status().code() == absl::StatusCode::kInvalidArgument,
          "DecodePageToken fails with INVALID_ARGUMENT");
    return;
  }
  Check(t->min_offset >= 0, "a decoded page token has a non-negative offset");
  auto round =
      reader::DecodePageToken(reader::EncodePageToken(*t), t->query_hash);
  Check(round.ok() && round->query_hash == t->query_hash &&
            round->min_offset == t->min_offset && round->last == t->last,
        "a page token round-trips");
}

void InstallManifest(absl::string_view bytes) {
  v1::SnapshotManifest m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  if (m.files_size() > kMaxManifestFiles ||
      m.tenants_size() > kMaxManifestTenants)
    return;
  const std::string root = Scratch() + "/install";
  replica::InstallOptions options{.staging_dir = root + "/restore.tmp",
                                  .target_dir = root + "/gen-1"};
  auto install = replica::SnapshotInstall::Begin(m, options);
  Check(install.ok(), "SnapshotInstall::Begin in the scratch directory");
  for (const auto& f : install->manifest().files()) {
    auto path = install->StagedPath(f);
    if (!path.ok()) continue;
    Check(absl::StartsWith(*path, options.staging_dir + "/"),
          "StagedPath stays inside the staging directory");
    std::error_code ec;
    if (std::filesystem::is_directory(*path, ec)) continue;
    std::ofstream out(*path, std::ios::binary | std::ios::trunc);
    const uint64_t n =
        f.size_bytes() < kMaxStagedBytes ? f.size_bytes() : kMaxStagedBytes;
    out << std::string(n, '\0');
  }
  auto installed = install->Commit();
  if (installed.ok()) {
    Check(installed->tenants.size() == static_cast<size_t>(m.tenants_size()),
          "Commit reports every tenant of the manifest");
  }
  RemoveTree(root);
}

void StoredManifest(absl::string_view bytes) {
  const std::string dir = Scratch() + "/snapshots";
  const std::string snap = dir + "/" + snapshot::SnapshotId(5);
  std::error_code ec;
  std::filesystem::create_directories(snap, ec);
  {
    std::ofstream out(snap + "/" + snapshot::kManifestName,
                      std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  snapshot::SnapshotStore store(dir);
  auto all = store.List();
  auto one = store.Get(snapshot::SnapshotId(5));
  Check(all.ok() == one.ok(), "List and Get agree on a stored manifest");
  if (all.ok()) Check(all->size() == 1, "List finds the one snapshot");
}

}  // namespace
}  // namespace arbiter::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arbiter::fuzz;
  QuietLogging();
  Input in(data, size);
  const uint8_t kind = in.Byte() % 4;
  switch (kind) {
    case 0:
      ConsistencyToken(in.Rest());
      break;
    case 1:
      PageToken(in.Rest());
      break;
    case 2:
      InstallManifest(in.Rest());
      break;
    case 3:
      StoredManifest(in.Rest());
      break;
  }
  return 0;
}
