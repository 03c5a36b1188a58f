#include "common/logstore/sqlite_log_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/crc32c.h"
#include "common/base/status_macros.h"

namespace arbiter::logstore {
namespace {

constexpr int kSchemaVersion = 1;

absl::Status Error(sqlite3* db, int rc, absl::string_view what) {
  std::string msg = absl::StrCat("log store: ", what, ": ",
                                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xFF;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    return absl::DataLossError(msg);
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return absl::UnavailableError(msg);
  }
  return absl::InternalError(msg);
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Error(nullptr, rc, absl::StrCat(sql, ": ", msg));
  }
  return absl::OkStatus();
}

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  absl::Status status() const {
    return rc_ == SQLITE_OK ? absl::OkStatus() : Error(db_, rc_, "prepare");
  }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

absl::StatusOr<sqlite3*> OpenConnection(const std::string& path, bool create,
                                        int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
              (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = Error(db, rc, absl::StrCat("open ", path));
    sqlite3_close(db);
    return s;
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return db;
}

int WalHook(void* arg, sqlite3*, const char*, int pages) {
  *static_cast<int*>(arg) = pages;
  return SQLITE_OK;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteLogStore>> SqliteLogStore::Open(
    const SqliteLogStoreOptions& options) {
  std::unique_ptr<SqliteLogStore> store(new SqliteLogStore(options));
  ARBITER_RETURN_IF_ERROR(store->Init());
  return store;
}

SqliteLogStore::~SqliteLogStore() {
  {
    absl::MutexLock l(&write_mu_);
    if (writer_ != nullptr) sqlite3_close_v2(writer_);
    writer_ = nullptr;
  }
  absl::MutexLock l(&readers_mu_);
  for (sqlite3* db : idle_readers_) sqlite3_close_v2(db);
  idle_readers_.clear();
}

absl::Status SqliteLogStore::Init() {
  absl::MutexLock l(&write_mu_);
  ARBITER_ASSIGN_OR_RETURN(writer_, OpenConnection(options_.path, true,
                                                   options_.busy_timeout_ms));
  ARBITER_RETURN_IF_ERROR(Exec(writer_, "PRAGMA journal_mode=WAL"));
  ARBITER_RETURN_IF_ERROR(Exec(writer_, "PRAGMA synchronous=FULL"));
  ARBITER_RETURN_IF_ERROR(Exec(writer_, "PRAGMA wal_autocheckpoint=0"));
  ARBITER_RETURN_IF_ERROR(Exec(
      writer_, absl::StrCat("PRAGMA journal_size_limit=",
                            options_.checkpoint_bytes)
                   .c_str()));
  sqlite3_wal_hook(writer_, &WalHook, &wal_pages_);
  ARBITER_RETURN_IF_ERROR(Exec(writer_, R"sql(
    BEGIN IMMEDIATE;
    CREATE TABLE IF NOT EXISTS meta(
      key TEXT PRIMARY KEY, value ANY NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS entries(
      offset INTEGER PRIMARY KEY,
      tenant TEXT NOT NULL,
      time_unix_ms INTEGER NOT NULL,
      payload BLOB NOT NULL,
      payload_crc32c INTEGER NOT NULL,
      chain INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS requests(
      tenant TEXT NOT NULL, request_id TEXT NOT NULL, offset INTEGER NOT NULL,
      PRIMARY KEY(tenant, request_id)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS requests_by_offset ON requests(offset);
    CREATE TABLE IF NOT EXISTS tenants(
      name TEXT PRIMARY KEY, created_offset INTEGER NOT NULL,
      policy_version INTEGER NOT NULL, policy_source TEXT NOT NULL,
      policy_filename TEXT NOT NULL, policy_forced INTEGER NOT NULL)
      WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS api_keys(
      id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, tenant TEXT NOT NULL,
      scopes INTEGER NOT NULL, name TEXT NOT NULL, created_offset INTEGER NOT NULL)
      WITHOUT ROWID;
  )sql"));
  sqlite3* const w = writer_;
  auto read_meta = [&](const char* key) -> absl::StatusOr<std::optional<std::string>> {
    Stmt st(w, "SELECT value FROM meta WHERE key = ?");
    ARBITER_RETURN_IF_ERROR(st.status());
    sqlite3_bind_text(st.get(), 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st.get());
    if (rc == SQLITE_ROW) {
      return std::optional<std::string>(
          reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0)));
    }
    if (rc != SQLITE_DONE) return Error(w, rc, "read meta");
    return std::optional<std::string>();
  };
  auto write_meta = [&](const char* key, const std::string& value) -> absl::Status {
    Stmt st(w, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
    ARBITER_RETURN_IF_ERROR(st.status());
    sqlite3_bind_text(st.get(), 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st.get(), 2, value.data(), value.size(), SQLITE_TRANSIENT);
    int rc = sqlite3_step(st.get());
    if (rc != SQLITE_DONE) return Error(w, rc, "write meta");
    return absl::OkStatus();
  };
  absl::Status s = [&]() -> absl::Status {
    ARBITER_ASSIGN_OR_RETURN(auto cluster, read_meta("cluster_id"));
    if (!cluster.has_value()) {
      identity_.cluster_id = RandomClusterId();
      identity_.epoch = 1;
      ARBITER_RETURN_IF_ERROR(write_meta("cluster_id", identity_.cluster_id));
      ARBITER_RETURN_IF_ERROR(write_meta("epoch", "1"));
      ARBITER_RETURN_IF_ERROR(write_meta("schema_version", absl::StrCat(kSchemaVersion)));
      ARBITER_RETURN_IF_ERROR(write_meta("oldest_retained", "1"));
    } else {
      identity_.cluster_id = *cluster;
      ARBITER_ASSIGN_OR_RETURN(auto epoch, read_meta("epoch"));
      ARBITER_ASSIGN_OR_RETURN(auto version, read_meta("schema_version"));
      if (!epoch || !version) return absl::DataLossError("log store: meta is incomplete");
      int version_number = 0;
      if (!absl::SimpleAtoi(*epoch, &identity_.epoch) ||
          !absl::SimpleAtoi(*version, &version_number)) {
        return absl::DataLossError("log store: meta epoch or schema_version is not a number");
      }
      if (version_number != kSchemaVersion) {
        return absl::FailedPreconditionError(absl::StrCat(
            "log store: schema version ", *version, " is not ", kSchemaVersion));
      }
    }
    // Stores from before LogEntry.chain: the column, 0 for old entries.
    {
      Stmt cols(w, "SELECT 1 FROM pragma_table_info('entries') WHERE name = 'chain'");
      ARBITER_RETURN_IF_ERROR(cols.status());
      if (sqlite3_step(cols.get()) != SQLITE_ROW) {
        ARBITER_RETURN_IF_ERROR(
            Exec(w, "ALTER TABLE entries ADD COLUMN chain INTEGER NOT NULL DEFAULT 0"));
      }
    }
    ARBITER_ASSIGN_OR_RETURN(auto oldest, read_meta("oldest_retained"));
    uint64_t oldest_retained = 1;
    if (oldest && !absl::SimpleAtoi(*oldest, &oldest_retained)) {
      return absl::DataLossError("log store: meta oldest_retained is not a number");
    }
    Stmt st(w, "SELECT MAX(offset) FROM entries");
    ARBITER_RETURN_IF_ERROR(st.status());
    if (sqlite3_step(st.get()) != SQLITE_ROW) return Error(w, 0, "max offset");
    uint64_t max_offset = sqlite3_column_type(st.get(), 0) == SQLITE_NULL
                              ? 0
                              : sqlite3_column_int64(st.get(), 0);
    head_ = std::max(max_offset, oldest_retained - 1);
    oldest_ = oldest_retained;
    if (max_offset == head_.load() && max_offset > 0) {
      Stmt chain(w, "SELECT chain FROM entries WHERE offset = ?");
      ARBITER_RETURN_IF_ERROR(chain.status());
      sqlite3_bind_int64(chain.get(), 1, static_cast<int64_t>(max_offset));
      if (sqlite3_step(chain.get()) == SQLITE_ROW) {
        head_chain_ = static_cast<uint64_t>(sqlite3_column_int64(chain.get(), 0));
      }
    } else {
      ARBITER_ASSIGN_OR_RETURN(auto truncated, read_meta("truncated_chain"));
      int64_t c = 0;
      if (truncated && absl::SimpleAtoi(*truncated, &c)) head_chain_ = static_cast<uint64_t>(c);
    }
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    (void)Exec(w, "ROLLBACK");
    return s;
  }
  return Exec(w, "COMMIT");
}

absl::Status SqliteLogStore::Append(const std::vector<AppendRecord>& records) {
  if (records.empty()) return absl::OkStatus();
  absl::MutexLock l(&write_mu_);
  uint64_t next = head_.load() + 1;
  for (const auto& r : records) {
    if (r.entry.offset() != next++) {
      return absl::FailedPreconditionError(absl::StrCat(
          "log store: append of offset ", r.entry.offset(), ", expected ", next - 1));
    }
  }
  sqlite3* const w = writer_;
  ARBITER_RETURN_IF_ERROR(Exec(w, "BEGIN IMMEDIATE"));
  absl::Status s = [&]() -> absl::Status {
    Stmt ins(w,
             "INSERT INTO entries(offset, tenant, time_unix_ms, payload, "
             "payload_crc32c, chain) VALUES (?, ?, ?, ?, ?, ?)");
    Stmt req(w,
             "INSERT OR REPLACE INTO requests(tenant, request_id, offset) "
             "VALUES (?, ?, ?)");
    Stmt ten(w,
             "INSERT OR REPLACE INTO tenants(name, created_offset, "
             "policy_version, policy_source, policy_filename, policy_forced) "
             "VALUES (?, ?, ?, ?, ?, ?)");
    Stmt key_del(w, "DELETE FROM api_keys WHERE id = ?");
    Stmt key_ins(w,
                 "INSERT INTO api_keys(id, sha256, tenant, scopes, name, created_offset) "
                 "VALUES (?, ?, ?, ?, ?, ?)");
    ARBITER_RETURN_IF_ERROR(ins.status());
    ARBITER_RETURN_IF_ERROR(req.status());
    ARBITER_RETURN_IF_ERROR(ten.status());
    ARBITER_RETURN_IF_ERROR(key_del.status());
    ARBITER_RETURN_IF_ERROR(key_ins.status());
    for (const auto& r : records) {
      const v1::LogEntry& e = r.entry;
      sqlite3_reset(ins.get());
      sqlite3_bind_int64(ins.get(), 1, static_cast<int64_t>(e.offset()));
      sqlite3_bind_text(ins.get(), 2, e.tenant().data(), e.tenant().size(), SQLITE_STATIC);
      sqlite3_bind_int64(ins.get(), 3, e.time_unix_ms());
      sqlite3_bind_blob(ins.get(), 4, e.payload().data(), e.payload().size(), SQLITE_STATIC);
      sqlite3_bind_int64(ins.get(), 5, e.payload_crc32c());
      sqlite3_bind_int64(ins.get(), 6, static_cast<int64_t>(e.chain()));
      if (int rc = sqlite3_step(ins.get()); rc != SQLITE_DONE) {
        return Error(w, rc, "insert entry");
      }
      if (!r.request_id.empty()) {
        sqlite3_reset(req.get());
        sqlite3_bind_text(req.get(), 1, e.tenant().data(), e.tenant().size(), SQLITE_STATIC);
        sqlite3_bind_text(req.get(), 2, r.request_id.data(), r.request_id.size(), SQLITE_STATIC);
        sqlite3_bind_int64(req.get(), 3, static_cast<int64_t>(e.offset()));
        if (int rc = sqlite3_step(req.get()); rc != SQLITE_DONE) {
          return Error(w, rc, "insert request id");
        }
      }
      if (r.tenant.has_value()) {
        const TenantRecord& t = *r.tenant;
        sqlite3_reset(ten.get());
        sqlite3_bind_text(ten.get(), 1, t.name.data(), t.name.size(), SQLITE_STATIC);
        sqlite3_bind_int64(ten.get(), 2, static_cast<int64_t>(t.created_offset));
        sqlite3_bind_int64(ten.get(), 3, static_cast<int64_t>(t.policy_version));
        sqlite3_bind_text(ten.get(), 4, t.policy_source.data(), t.policy_source.size(), SQLITE_STATIC);
        sqlite3_bind_text(ten.get(), 5, t.policy_filename.data(), t.policy_filename.size(), SQLITE_STATIC);
        sqlite3_bind_int(ten.get(), 6, t.policy_forced ? 1 : 0);
        if (int rc = sqlite3_step(ten.get()); rc != SQLITE_DONE) {
          return Error(w, rc, "upsert tenant");
        }
      }
      for (const std::string& id : r.keys_revoked) {
        sqlite3_reset(key_del.get());
        sqlite3_bind_text(key_del.get(), 1, id.data(), id.size(), SQLITE_STATIC);
        if (int rc = sqlite3_step(key_del.get()); rc != SQLITE_DONE) {
          return Error(w, rc, "revoke key");
        }
      }
      for (const auth::KeyGrant& k : r.keys_created) {
        sqlite3_reset(key_ins.get());
        sqlite3_bind_text(key_ins.get(), 1, k.id.data(), k.id.size(), SQLITE_STATIC);
        sqlite3_bind_text(key_ins.get(), 2, k.sha256.data(), k.sha256.size(), SQLITE_STATIC);
        sqlite3_bind_text(key_ins.get(), 3, k.tenant.data(), k.tenant.size(), SQLITE_STATIC);
        sqlite3_bind_int64(key_ins.get(), 4, k.scopes);
        sqlite3_bind_text(key_ins.get(), 5, k.name.data(), k.name.size(), SQLITE_STATIC);
        sqlite3_bind_int64(key_ins.get(), 6, static_cast<int64_t>(e.offset()));
        if (int rc = sqlite3_step(key_ins.get()); rc != SQLITE_DONE) {
          return Error(w, rc, "create key");
        }
      }
    }
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    (void)Exec(w, "ROLLBACK");
    return s;
  }
  // COMMIT writes the WAL frames and, with synchronous=FULL, fsyncs the WAL
  // before returning: the entries are durable from here on.
  ARBITER_RETURN_IF_ERROR(Exec(w, "COMMIT"));
  head_chain_.store(records.back().entry.chain());
  head_.store(records.back().entry.offset());
  MaybeCheckpoint();
  return absl::OkStatus();
}

void SqliteLogStore::MaybeCheckpoint() {
  // The WAL page count after the last commit comes from the wal hook.
  int page_size = 4096;
  if (static_cast<int64_t>(wal_pages_) * page_size < options_.checkpoint_bytes) return;
  // Readers hold short transactions only: a short busy wait suffices; if it
  // does not complete now, the next append tries again.
  sqlite3_busy_timeout(writer_, 100);
  int log_frames = 0, checkpointed = 0;
  int rc = sqlite3_wal_checkpoint_v2(writer_, "main", SQLITE_CHECKPOINT_RESTART,
                                     &log_frames, &checkpointed);
  sqlite3_busy_timeout(writer_, options_.busy_timeout_ms);
  if (rc == SQLITE_OK) {
    wal_pages_ = 0;
    checkpoints_.fetch_add(1);
  }
}

int64_t SqliteLogStore::WalFileBytes() const {
  struct stat st;
  if (::stat((options_.path + "-wal").c_str(), &st) != 0) return 0;
  return st.st_size;
}

absl::StatusOr<sqlite3*> SqliteLogStore::TakeReader() {
  {
    absl::MutexLock l(&readers_mu_);
    if (!idle_readers_.empty()) {
      sqlite3* db = idle_readers_.back();
      idle_readers_.pop_back();
      return db;
    }
  }
  return OpenConnection(options_.path, false, options_.busy_timeout_ms);
}

void SqliteLogStore::ReturnReader(sqlite3* db) {
  absl::MutexLock l(&readers_mu_);
  if (idle_readers_.size() < 8) {
    idle_readers_.push_back(db);
  } else {
    sqlite3_close_v2(db);
  }
}

absl::StatusOr<size_t> SqliteLogStore::Read(
    uint64_t from_offset, const ReadOptions& options,
    absl::FunctionRef<bool(v1::LogEntry&&)> fn) {
  if (from_offset == 0) from_offset = 1;
  uint64_t head = head_.load();
  if (from_offset < oldest_.load()) {
    return absl::OutOfRangeError(absl::StrCat(
        "offset ", from_offset, " was truncated; the oldest retained offset is ",
        oldest_.load()));
  }
  if (from_offset > head) return 0;
  ARBITER_ASSIGN_OR_RETURN(sqlite3 * db, TakeReader());
  size_t count = 0;
  absl::Status s = [&]() -> absl::Status {
    ARBITER_RETURN_IF_ERROR(Exec(db, "BEGIN"));
    Stmt st(db,
            "SELECT offset, tenant, time_unix_ms, payload, payload_crc32c, chain "
            "FROM entries WHERE offset >= ? AND offset <= ? ORDER BY offset "
            "LIMIT ?");
    absl::Status inner = [&]() -> absl::Status {
      ARBITER_RETURN_IF_ERROR(st.status());
      sqlite3_bind_int64(st.get(), 1, static_cast<int64_t>(from_offset));
      sqlite3_bind_int64(st.get(), 2, static_cast<int64_t>(head));
      sqlite3_bind_int64(st.get(), 3, static_cast<int64_t>(options.max_entries));
      size_t bytes = 0;
      uint64_t expect = from_offset;
      while (true) {
        int rc = sqlite3_step(st.get());
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return Error(db, rc, "read entries");
        v1::LogEntry e;
        e.set_offset(sqlite3_column_int64(st.get(), 0));
        if (e.offset() != expect) {
          // Truncated concurrently (from_offset now below the oldest) or a gap.
          if (expect < oldest_.load()) {
            return absl::OutOfRangeError(absl::StrCat(
                "offset ", expect, " was truncated; the oldest retained offset is ",
                oldest_.load()));
          }
          return absl::DataLossError(absl::StrCat(
              "log store: offset ", expect, " is missing (found ", e.offset(), ")"));
        }
        ++expect;
        e.set_tenant(reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 1)),
                     sqlite3_column_bytes(st.get(), 1));
        e.set_time_unix_ms(sqlite3_column_int64(st.get(), 2));
        const void* blob = sqlite3_column_blob(st.get(), 3);
        int n = sqlite3_column_bytes(st.get(), 3);
        e.set_payload(blob ? static_cast<const char*>(blob) : "", n);
        e.set_payload_crc32c(static_cast<uint32_t>(sqlite3_column_int64(st.get(), 4)));
        e.set_chain(static_cast<uint64_t>(sqlite3_column_int64(st.get(), 5)));
        if (Crc32c(e.payload()) != e.payload_crc32c()) {
          return absl::DataLossError(absl::StrCat(
              "log store: entry ", e.offset(), " fails its CRC32C check"));
        }
        bytes += e.payload().size();
        ++count;
        if (!fn(std::move(e))) break;
        if (count >= options.max_entries || bytes >= options.max_bytes) break;
      }
      return absl::OkStatus();
    }();
    sqlite3_reset(st.get());
    absl::Status end = Exec(db, "COMMIT");
    if (!inner.ok()) return inner;
    return end;
  }();
  if (!s.ok()) {
    sqlite3_close_v2(db);
    return s;
  }
  ReturnReader(db);
  return count;
}

absl::StatusOr<std::vector<std::optional<uint64_t>>> SqliteLogStore::LookupRequests(
    const std::vector<RequestKey>& keys) {
  ARBITER_ASSIGN_OR_RETURN(sqlite3 * db, TakeReader());
  std::vector<std::optional<uint64_t>> out;
  out.reserve(keys.size());
  absl::Status s = [&]() -> absl::Status {
    Stmt st(db, "SELECT offset FROM requests WHERE tenant = ? AND request_id = ?");
    ARBITER_RETURN_IF_ERROR(st.status());
    for (const RequestKey& key : keys) {
      sqlite3_reset(st.get());
      sqlite3_bind_text(st.get(), 1, key.tenant.data(), key.tenant.size(), SQLITE_STATIC);
      sqlite3_bind_text(st.get(), 2, key.request_id.data(), key.request_id.size(),
                        SQLITE_STATIC);
      int rc = sqlite3_step(st.get());
      if (rc == SQLITE_ROW) {
        out.emplace_back(sqlite3_column_int64(st.get(), 0));
      } else if (rc == SQLITE_DONE) {
        out.emplace_back();
      } else {
        return Error(db, rc, "lookup request id");
      }
    }
    return absl::OkStatus();
  }();
  ReturnReader(db);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<TenantRecord>> SqliteLogStore::Tenants() {
  ARBITER_ASSIGN_OR_RETURN(sqlite3 * db, TakeReader());
  std::vector<TenantRecord> out;
  absl::Status s = [&]() -> absl::Status {
    Stmt st(db,
            "SELECT name, created_offset, policy_version, policy_source, "
            "policy_filename, policy_forced FROM tenants ORDER BY name");
    ARBITER_RETURN_IF_ERROR(st.status());
    while (true) {
      int rc = sqlite3_step(st.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Error(db, rc, "read tenants");
      TenantRecord t;
      auto text = [&](int c) {
        return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st.get(), c)),
                           sqlite3_column_bytes(st.get(), c));
      };
      t.name = text(0);
      t.created_offset = sqlite3_column_int64(st.get(), 1);
      t.policy_version = sqlite3_column_int64(st.get(), 2);
      t.policy_source = text(3);
      t.policy_filename = text(4);
      t.policy_forced = sqlite3_column_int(st.get(), 5) != 0;
      out.push_back(std::move(t));
    }
    return absl::OkStatus();
  }();
  ReturnReader(db);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<auth::KeyGrant>> SqliteLogStore::Keys() {
  ARBITER_ASSIGN_OR_RETURN(sqlite3 * db, TakeReader());
  std::vector<auth::KeyGrant> out;
  absl::Status s = [&]() -> absl::Status {
    Stmt st(db,
            "SELECT id, sha256, tenant, scopes, name, created_offset FROM api_keys "
            "ORDER BY id");
    ARBITER_RETURN_IF_ERROR(st.status());
    while (true) {
      int rc = sqlite3_step(st.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Error(db, rc, "read keys");
      auto text = [&](int c) {
        return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st.get(), c)),
                           sqlite3_column_bytes(st.get(), c));
      };
      auth::KeyGrant k;
      k.id = text(0);
      k.sha256 = text(1);
      k.tenant = text(2);
      k.scopes = static_cast<uint32_t>(sqlite3_column_int64(st.get(), 3));
      k.name = text(4);
      k.created_offset = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 5));
      out.push_back(std::move(k));
    }
    return absl::OkStatus();
  }();
  ReturnReader(db);
  if (!s.ok()) return s;
  return out;
}

absl::Status SqliteLogStore::StartNewEpoch() {
  absl::MutexLock l(&write_mu_);
  const uint64_t next = identity_.epoch + 1;
  Stmt st(writer_, "UPDATE meta SET value = CAST(? AS TEXT) WHERE key = 'epoch'");
  ARBITER_RETURN_IF_ERROR(st.status());
  sqlite3_bind_int64(st.get(), 1, static_cast<int64_t>(next));
  if (int rc = sqlite3_step(st.get()); rc != SQLITE_DONE) {
    return Error(writer_, rc, "start a new epoch");
  }
  identity_.epoch = next;
  return absl::OkStatus();
}

absl::Status SqliteLogStore::TruncateBefore(uint64_t offset) {
  absl::MutexLock l(&write_mu_);
  if (offset <= oldest_.load()) return absl::OkStatus();
  if (offset > head_.load() + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot truncate before ", offset, ": the head is ", head_.load()));
  }
  sqlite3* const w = writer_;
  ARBITER_RETURN_IF_ERROR(Exec(w, "BEGIN IMMEDIATE"));
  absl::Status s = [&]() -> absl::Status {
    // The chain of the newest entry truncated: the head's when every entry
    // goes (HeadChain after a restart).
    {
      Stmt last(w, "SELECT chain FROM entries WHERE offset = ?");
      ARBITER_RETURN_IF_ERROR(last.status());
      sqlite3_bind_int64(last.get(), 1, static_cast<int64_t>(offset - 1));
      if (sqlite3_step(last.get()) == SQLITE_ROW) {
        Stmt meta(w, "INSERT OR REPLACE INTO meta(key, value) VALUES ('truncated_chain', ?)");
        ARBITER_RETURN_IF_ERROR(meta.status());
        // As the signed 64-bit integer SQLite stores (meta values have
        // numeric affinity: a larger decimal would come back as a float).
        const std::string value = absl::StrCat(sqlite3_column_int64(last.get(), 0));
        sqlite3_bind_text(meta.get(), 1, value.data(), value.size(), SQLITE_TRANSIENT);
        if (int rc = sqlite3_step(meta.get()); rc != SQLITE_DONE) {
          return Error(w, rc, "truncate: record the chain");
        }
      }
    }
    for (const char* sql : {"DELETE FROM entries WHERE offset < ?",
                            "DELETE FROM requests WHERE offset < ?",
                            "UPDATE meta SET value = CAST(? AS TEXT) WHERE key = "
                            "'oldest_retained'"}) {
      Stmt st(w, sql);
      ARBITER_RETURN_IF_ERROR(st.status());
      sqlite3_bind_int64(st.get(), 1, static_cast<int64_t>(offset));
      if (int rc = sqlite3_step(st.get()); rc != SQLITE_DONE) {
        return Error(w, rc, "truncate");
      }
    }
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    (void)Exec(w, "ROLLBACK");
    return s;
  }
  // Readers check oldest_ before reading; publish it before the rows vanish
  // for them (they would see a gap and report OUT_OF_RANGE anyway).
  oldest_.store(offset);
  ARBITER_RETURN_IF_ERROR(Exec(w, "COMMIT"));
  MaybeCheckpoint();
  return absl::OkStatus();
}

}  // namespace arbiter::logstore
