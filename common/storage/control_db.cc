#include "common/storage/control_db.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/storage/internal/sv.h"

namespace arbiter::storage {

using internal::Sv;

// One row holds the host's state, so Read() is two small queries and every
// update rewrites one row. The registry is its own table, keyed by name.
constexpr char kSchema[] = R"sql(
CREATE TABLE control(
  id                 INTEGER PRIMARY KEY CHECK (id = 0),
  schema_major       INTEGER NOT NULL,
  schema_minor       INTEGER NOT NULL,
  cluster_id         TEXT    NOT NULL DEFAULT '',
  epoch              INTEGER NOT NULL DEFAULT 0,
  current_generation INTEGER NOT NULL DEFAULT 0,
  applied_offset     INTEGER NOT NULL DEFAULT 0,
  applied_chain      INTEGER NOT NULL DEFAULT 0,
  fresh_boot_id      TEXT    NOT NULL DEFAULT '',
  fresh_boottime_ns  INTEGER NOT NULL DEFAULT 0,
  head_offset        INTEGER NOT NULL DEFAULT 0,
  replication_state  TEXT    NOT NULL DEFAULT 'RESTORING'
      CHECK (replication_state IN ('RESTORING', 'REPLAYING', 'LIVE')),
  drain_state        TEXT    NOT NULL DEFAULT 'ACTIVE'
      CHECK (drain_state IN ('ACTIVE', 'DRAINING', 'DRAINED')),
  complete_offset    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tenants(
  name               TEXT    NOT NULL PRIMARY KEY,
  path               TEXT    NOT NULL,
  applied_offset     INTEGER NOT NULL,
  lagging            INTEGER NOT NULL DEFAULT 0,
  complete_offset    INTEGER NOT NULL DEFAULT 0,
  fresh_boot_id      TEXT    NOT NULL DEFAULT '',
  fresh_boottime_ns  INTEGER NOT NULL DEFAULT 0,
  index_base         TEXT    NOT NULL DEFAULT '',
  index_base_offset  INTEGER NOT NULL DEFAULT 0,
  index_delta        TEXT    NOT NULL DEFAULT '',
  index_delta_offset INTEGER NOT NULL DEFAULT 0,
  index_recent       TEXT    NOT NULL DEFAULT '',
  index_recent_offset INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
)sql";

// What schema 1.2 added to 1.1.
constexpr char kMigrate11To12[] = R"sql(
ALTER TABLE control ADD COLUMN applied_chain INTEGER NOT NULL DEFAULT 0;
UPDATE control SET schema_minor = 2;
)sql";

// What schema 1.1 added to 1.0.
constexpr char kMigrate10To11[] = R"sql(
ALTER TABLE control ADD COLUMN complete_offset INTEGER NOT NULL DEFAULT 0;
UPDATE control SET complete_offset = applied_offset, schema_minor = 1;
ALTER TABLE tenants ADD COLUMN lagging INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN complete_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN fresh_boot_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN fresh_boottime_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN index_base TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN index_base_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN index_delta TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN index_delta_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN index_recent TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN index_recent_offset INTEGER NOT NULL DEFAULT 0;
)sql";

std::string_view ToString(ReplicationState state) {
  switch (state) {
    case ReplicationState::kRestoring:
      return "RESTORING";
    case ReplicationState::kReplaying:
      return "REPLAYING";
    case ReplicationState::kLive:
      return "LIVE";
  }
  return "RESTORING";
}

std::string_view ToString(DrainState state) {
  switch (state) {
    case DrainState::kActive:
      return "ACTIVE";
    case DrainState::kDraining:
      return "DRAINING";
    case DrainState::kDrained:
      return "DRAINED";
  }
  return "ACTIVE";
}

absl::StatusOr<ReplicationState> ParseReplicationState(std::string_view text) {
  for (ReplicationState s : {ReplicationState::kRestoring,
                             ReplicationState::kReplaying,
                             ReplicationState::kLive}) {
    if (text == ToString(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown replication state \"", Sv(text), "\""));
}

absl::StatusOr<DrainState> ParseDrainState(std::string_view text) {
  for (DrainState s :
       {DrainState::kActive, DrainState::kDraining, DrainState::kDrained}) {
    if (text == ToString(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown drain state \"", Sv(text), "\""));
}

absl::Status ControlDb::Create(const std::string& path) {
  return CreateDatabase(path, [](Db* db) -> absl::Status {
    ARBITER_RETURN_IF_ERROR(db->Exec(kSchema));
    return db->Exec(absl::StrCat(
        "INSERT INTO control(id, schema_major, schema_minor) VALUES(0, ",
        kControlSchemaMajor, ", ", kControlSchemaMinor, ")"));
  });
}

absl::StatusOr<std::unique_ptr<ControlDb>> ControlDb::Open(
    const std::string& path, DbOptions options) {
  options.create = false;
  ARBITER_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path, options));
  std::unique_ptr<ControlDb> control(new ControlDb(std::move(db)));
  absl::StatusOr<ControlState> state = control->Read();
  if (!state.ok()) {
    if (absl::IsInternal(state.status()) || absl::IsNotFound(state.status()) ||
        absl::IsInvalidArgument(state.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("open ", path, ": not an arbiter control database: ",
                       state.status().message()));
    }
    return state.status();
  }
  if (state->schema_major != kControlSchemaMajor) {
    return absl::FailedPreconditionError(absl::StrCat(
        "open ", path, ": control schema version ", state->schema_major, ".",
        state->schema_minor, " is ",
        state->schema_major > kControlSchemaMajor ? "newer" : "older",
        " than this binary's ", kControlSchemaMajor, ".", kControlSchemaMinor));
  }
  if (state->schema_minor < kControlSchemaMinor && !options.read_only) {
    ARBITER_RETURN_IF_ERROR(control->Migrate(state->schema_minor));
  }
  return control;
}

absl::Status ControlDb::Migrate(int from_minor) {
  ARBITER_ASSIGN_OR_RETURN(Transaction txn, BeginWrite());
  if (from_minor < 1) ARBITER_RETURN_IF_ERROR(db_->Exec(kMigrate10To11));
  if (from_minor < 2) ARBITER_RETURN_IF_ERROR(db_->Exec(kMigrate11To12));
  return txn.Commit();
}

absl::StatusOr<ControlState> ControlDb::Read() {
  // Inside the caller's transaction if one is open, else in our own.
  std::optional<Transaction> txn;
  if (!db_->InTransaction()) {
    ARBITER_ASSIGN_OR_RETURN(
        Transaction t, Transaction::Begin(db_.get(), Transaction::Mode::kRead));
    txn.emplace(std::move(t));
  }
  ControlState state;
  {
    ARBITER_ASSIGN_OR_RETURN(
        PooledStatement stmt,
        db_->Prepare("SELECT schema_major, schema_minor, cluster_id, epoch, "
                     "current_generation, applied_offset, fresh_boot_id, "
                     "fresh_boottime_ns, head_offset, replication_state, "
                     "drain_state FROM control WHERE id = 0"));
    ARBITER_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) {
      return absl::NotFoundError(
          absl::StrCat("control database ", db_->path(), " has no control row"));
    }
    state.schema_major = static_cast<int>(stmt->ColumnInt64(0));
    state.schema_minor = static_cast<int>(stmt->ColumnInt64(1));
    state.cluster_id = std::string(stmt->ColumnText(2));
    state.epoch = stmt->ColumnInt64(3);
    state.current_generation = stmt->ColumnInt64(4);
    state.applied_offset = stmt->ColumnInt64(5);
    state.fresh_as_of.boot_id = std::string(stmt->ColumnText(6));
    state.fresh_as_of.boottime_ns = stmt->ColumnInt64(7);
    state.head_offset = stmt->ColumnInt64(8);
    ARBITER_ASSIGN_OR_RETURN(state.replication_state,
                             ParseReplicationState(stmt->ColumnText(9)));
    ARBITER_ASSIGN_OR_RETURN(state.drain_state,
                             ParseDrainState(stmt->ColumnText(10)));
  }
  const bool v11 = state.schema_minor >= 1;
  if (state.schema_minor >= 2) {
    ARBITER_ASSIGN_OR_RETURN(
        int64_t chain, db_->QueryInt64("SELECT applied_chain FROM control WHERE id = 0"));
    state.applied_chain = static_cast<uint64_t>(chain);
  }
  state.complete_offset = state.applied_offset;
  if (v11) {
    ARBITER_ASSIGN_OR_RETURN(
        state.complete_offset,
        db_->QueryInt64("SELECT complete_offset FROM control WHERE id = 0"));
  }
  {
    ARBITER_ASSIGN_OR_RETURN(
        PooledStatement stmt,
        db_->Prepare(v11 ? "SELECT name, path, applied_offset, lagging, "
                           "complete_offset, fresh_boot_id, fresh_boottime_ns, "
                           "index_base, index_base_offset, index_delta, "
                           "index_delta_offset, index_recent, index_recent_offset "
                           "FROM tenants ORDER BY name"
                         : "SELECT name, path, applied_offset FROM tenants "
                           "ORDER BY name"));
    while (true) {
      ARBITER_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      TenantEntry& t = state.tenants.emplace_back();
      t.name = std::string(stmt->ColumnText(0));
      t.path = std::string(stmt->ColumnText(1));
      t.applied_offset = stmt->ColumnInt64(2);
      if (!v11) continue;
      t.lagging = stmt->ColumnInt64(3) != 0;
      t.complete_offset = stmt->ColumnInt64(4);
      t.fresh_as_of.boot_id = std::string(stmt->ColumnText(5));
      t.fresh_as_of.boottime_ns = stmt->ColumnInt64(6);
      t.index.base = std::string(stmt->ColumnText(7));
      t.index.base_offset = stmt->ColumnInt64(8);
      t.index.delta = std::string(stmt->ColumnText(9));
      t.index.delta_offset = stmt->ColumnInt64(10);
      t.index.recent = std::string(stmt->ColumnText(11));
      t.index.recent_offset = stmt->ColumnInt64(12);
    }
  }
  if (txn.has_value()) ARBITER_RETURN_IF_ERROR(txn->Commit());
  return state;
}

absl::StatusOr<Transaction> ControlDb::BeginWrite() {
  if (db_->read_only()) {
    return absl::FailedPreconditionError(
        absl::StrCat("control database ", db_->path(), " is open read-only"));
  }
  return Transaction::Begin(db_.get(), Transaction::Mode::kImmediate);
}

absl::Status ControlDb::UpdateApplied(const AppliedUpdate& update) {
  ARBITER_ASSIGN_OR_RETURN(Transaction txn, BeginWrite());
  ARBITER_ASSIGN_OR_RETURN(
      int64_t current,
      db_->QueryInt64("SELECT applied_offset FROM control WHERE id = 0"));
  if (update.applied_offset < current) {
    return absl::FailedPreconditionError(
        absl::StrCat("control database: applied offset would go back from ",
                     current, " to ", update.applied_offset));
  }
  {
    ARBITER_ASSIGN_OR_RETURN(
        PooledStatement stmt,
        db_->Prepare("UPDATE control SET applied_offset = ?1, "
                     "head_offset = MAX(head_offset, ?2), "
                     "complete_offset = MAX(complete_offset, ?3, ?1), "
                     "applied_chain = ?4 WHERE id = 0"));
    ARBITER_RETURN_IF_ERROR(stmt->BindInt64(1, update.applied_offset));
    ARBITER_RETURN_IF_ERROR(stmt->BindInt64(2, update.head_offset));
    ARBITER_RETURN_IF_ERROR(stmt->BindInt64(3, update.complete_offset));
    ARBITER_RETURN_IF_ERROR(stmt->BindInt64(4, static_cast<int64_t>(update.applied_chain)));
    ARBITER_RETURN_IF_ERROR(stmt->Run());
  }
  if (update.fresh_as_of.has_value()) {
    ARBITER_ASSIGN_OR_RETURN(
        PooledStatement stmt,
        db_->Prepare("UPDATE control SET fresh_boot_id = ?1, "
                     "fresh_boottime_ns = ?2 WHERE id = 0"));
    ARBITER_RETURN_IF_ERROR(stmt->BindText(1, update.fresh_as_of->boot_id));
    ARBITER_RETURN_IF_ERROR(stmt->BindInt64(2, update.fresh_as_of->boottime_ns));
    ARBITER_RETURN_IF_ERROR(stmt->Run());
  }
  for (const auto& tenant_offset : update.tenant_offsets) {
    const int64_t offset = tenant_offset.second;
    ARBITER_RETURN_IF_ERROR(UpdateTenant(
        "UPDATE tenants SET applied_offset = ?2 WHERE name = ?1", tenant_offset.first,
        [&](Statement& stmt) { return stmt.BindInt64(2, offset); }));
  }
  for (const TenantLag& lag : update.lagging) {
    if (lag.fresh_as_of.has_value()) {
      ARBITER_RETURN_IF_ERROR(UpdateTenant(
          "UPDATE tenants SET lagging = 1, complete_offset = ?2, "
          "fresh_boot_id = ?3, fresh_boottime_ns = ?4 WHERE name = ?1",
          lag.name, [&](Statement& stmt) -> absl::Status {
            ARBITER_RETURN_IF_ERROR(stmt.BindInt64(2, lag.complete_offset));
            ARBITER_RETURN_IF_ERROR(stmt.BindText(3, lag.fresh_as_of->boot_id));
            return stmt.BindInt64(4, lag.fresh_as_of->boottime_ns);
          }));
    } else {
      ARBITER_RETURN_IF_ERROR(UpdateTenant(
          "UPDATE tenants SET lagging = 1, complete_offset = ?2 WHERE name = ?1",
          lag.name,
          [&](Statement& stmt) { return stmt.BindInt64(2, lag.complete_offset); }));
    }
  }
  for (const std::string& name : update.caught_up) {
    ARBITER_RETURN_IF_ERROR(UpdateTenant(
        "UPDATE tenants SET lagging = 0 WHERE name = ?1", name,
        [](Statement&) { return absl::OkStatus(); }));
  }
  for (const auto& named : update.indexes) {
    const TenantIndex& index = named.second;
    ARBITER_RETURN_IF_ERROR(UpdateTenant(
        "UPDATE tenants SET index_base = ?2, index_base_offset = ?3, "
        "index_delta = ?4, index_delta_offset = ?5, index_recent = ?6, "
        "index_recent_offset = ?7 WHERE name = ?1",
        named.first, [&](Statement& stmt) -> absl::Status {
          ARBITER_RETURN_IF_ERROR(stmt.BindText(2, index.base));
          ARBITER_RETURN_IF_ERROR(stmt.BindInt64(3, index.base_offset));
          ARBITER_RETURN_IF_ERROR(stmt.BindText(4, index.delta));
          ARBITER_RETURN_IF_ERROR(stmt.BindInt64(5, index.delta_offset));
          ARBITER_RETURN_IF_ERROR(stmt.BindText(6, index.recent));
          return stmt.BindInt64(7, index.recent_offset);
        }));
  }
  return txn.Commit();
}

absl::Status ControlDb::UpdateTenant(
    std::string_view sql, std::string_view name,
    absl::FunctionRef<absl::Status(Statement&)> bind) {
  ARBITER_ASSIGN_OR_RETURN(PooledStatement stmt, db_->Prepare(sql));
  ARBITER_RETURN_IF_ERROR(stmt->BindText(1, name));
  ARBITER_RETURN_IF_ERROR(bind(*stmt));
  ARBITER_RETURN_IF_ERROR(stmt->Run());
  if (stmt->Changes() == 0) {
    return absl::NotFoundError(absl::StrCat(
        "control database: tenant \"", Sv(name), "\" is not registered"));
  }
  return absl::OkStatus();
}

absl::Status ControlDb::SetText(std::string_view column, std::string_view value) {
  ARBITER_ASSIGN_OR_RETURN(Transaction txn, BeginWrite());
  ARBITER_ASSIGN_OR_RETURN(
      PooledStatement stmt,
      db_->Prepare(absl::StrCat("UPDATE control SET ", Sv(column), " = ? WHERE id = 0")));
  ARBITER_RETURN_IF_ERROR(stmt->BindText(1, value));
  ARBITER_RETURN_IF_ERROR(stmt->Run());
  return txn.Commit();
}

absl::Status ControlDb::SetReplicationState(ReplicationState state) {
  return SetText("replication_state", ToString(state));
}

absl::Status ControlDb::SetDrainState(DrainState state) {
  return SetText("drain_state", ToString(state));
}

absl::Status ControlDb::SetClusterIdentity(std::string_view cluster_id,
                                           int64_t epoch) {
  ARBITER_ASSIGN_OR_RETURN(Transaction txn, BeginWrite());
  {
    ARBITER_ASSIGN_OR_RETURN(
        PooledStatement stmt,
        db_->Prepare("SELECT cluster_id, epoch FROM control WHERE id = 0"));
    ARBITER_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) {
      return absl::FailedPreconditionError("control database has no control row");
    }
    if (!stmt->ColumnText(0).empty() && stmt->ColumnText(0) != cluster_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "control database belongs to cluster ", Sv(stmt->ColumnText(0)),
          ", not ", Sv(cluster_id)));
    }
    if (epoch < stmt->ColumnInt64(1)) {
      return absl::FailedPreconditionError(
          absl::StrCat("control database: epoch would go back from ",
                       stmt->ColumnInt64(1), " to ", epoch));
    }
  }
  ARBITER_ASSIGN_OR_RETURN(
      PooledStatement stmt,
      db_->Prepare("UPDATE control SET cluster_id = ?1, epoch = ?2 WHERE id = 0"));
  ARBITER_RETURN_IF_ERROR(stmt->BindText(1, cluster_id));
  ARBITER_RETURN_IF_ERROR(stmt->BindInt64(2, epoch));
  ARBITER_RETURN_IF_ERROR(stmt->Run());
  return txn.Commit();
}

absl::Status ControlDb::RegisterTenant(const TenantEntry& tenant) {
  ARBITER_ASSIGN_OR_RETURN(Transaction txn, BeginWrite());
  ARBITER_ASSIGN_OR_RETURN(
      PooledStatement stmt,
      db_->Prepare("INSERT INTO tenants(name, path, applied_offset) "
                   "VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING"));
  ARBITER_RETURN_IF_ERROR(stmt->BindText(1, tenant.name));
  ARBITER_RETURN_IF_ERROR(stmt->BindText(2, tenant.path));
  ARBITER_RETURN_IF_ERROR(stmt->BindInt64(3, tenant.applied_offset));
  ARBITER_RETURN_IF_ERROR(stmt->Run());
  if (stmt->Changes() == 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "control database: tenant \"", tenant.name, "\" is already registered"));
  }
  return txn.Commit();
}

absl::Status ControlDb::SetGeneration(int64_t generation,
                                      std::span<const TenantEntry> tenants,
                                      int64_t applied_offset) {
  ARBITER_ASSIGN_OR_RETURN(Transaction txn, BeginWrite());
  ARBITER_ASSIGN_OR_RETURN(
      int64_t current,
      db_->QueryInt64("SELECT current_generation FROM control WHERE id = 0"));
  if (generation <= current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "control database: generation ", generation,
        " is not newer than the current generation ", current));
  }
  ARBITER_RETURN_IF_ERROR(db_->Exec("DELETE FROM tenants"));
  for (const TenantEntry& tenant : tenants) {
    ARBITER_ASSIGN_OR_RETURN(
        PooledStatement stmt,
        db_->Prepare("INSERT INTO tenants(name, path, applied_offset, index_base, "
                     "index_base_offset, index_delta, index_delta_offset, index_recent, "
                     "index_recent_offset) "
                     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING"));
    ARBITER_RETURN_IF_ERROR(stmt->BindText(1, tenant.name));
    ARBITER_RETURN_IF_ERROR(stmt->BindText(2, tenant.path));
    ARBITER_RETURN_IF_ERROR(stmt->BindInt64(3, tenant.applied_offset));
    ARBITER_RETURN_IF_ERROR(stmt->BindText(4, tenant.index.base));
    ARBITER_RETURN_IF_ERROR(stmt->BindInt64(5, tenant.index.base_offset));
    ARBITER_RETURN_IF_ERROR(stmt->BindText(6, tenant.index.delta));
    ARBITER_RETURN_IF_ERROR(stmt->BindInt64(7, tenant.index.delta_offset));
    ARBITER_RETURN_IF_ERROR(stmt->BindText(8, tenant.index.recent));
    ARBITER_RETURN_IF_ERROR(stmt->BindInt64(9, tenant.index.recent_offset));
    ARBITER_RETURN_IF_ERROR(stmt->Run());
    if (stmt->Changes() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "generation ", generation, ": tenant \"", tenant.name,
          "\" is listed twice"));
    }
  }
  ARBITER_ASSIGN_OR_RETURN(
      PooledStatement stmt,
      // The new generation has not proved itself fresh yet: the old
      // fresh_as_of described other data (DESIGN §8.5).
      db_->Prepare("UPDATE control SET applied_offset = ?1, complete_offset = ?1, "
                   "applied_chain = 0, current_generation = ?2, fresh_boot_id = '', "
                   "fresh_boottime_ns = 0 WHERE id = 0"));
  ARBITER_RETURN_IF_ERROR(stmt->BindInt64(1, applied_offset));
  ARBITER_RETURN_IF_ERROR(stmt->BindInt64(2, generation));
  ARBITER_RETURN_IF_ERROR(stmt->Run());
  return txn.Commit();
}

}  // namespace arbiter::storage
