#ifndef ARBITER_TESTS_UNIT_REPLICA_TEST_ENTRIES_H_
#define ARBITER_TESTS_UNIT_REPLICA_TEST_ENTRIES_H_

// Builders of log entries for the replica and snapshot unit tests.

#include <string>

#include "arbiter/v1/log.pb.h"
#include "common/base/crc32c.h"

namespace arbiter::testing {

inline v1::LogEntry Entry(uint64_t offset, const std::string& tenant,
                          const v1::LogPayload& p) {
  v1::LogEntry e;
  e.set_offset(offset);
  e.set_tenant(tenant);
  p.SerializeToString(e.mutable_payload());
  e.set_payload_crc32c(Crc32c(e.payload()));
  return e;
}

inline v1::LogEntry CreateEntry(uint64_t offset, const std::string& tenant) {
  v1::LogPayload p;
  p.mutable_create_tenant();
  return Entry(offset, tenant, p);
}

inline v1::LogEntry PolicyEntry(uint64_t offset, const std::string& tenant,
                                const std::string& source) {
  v1::LogPayload p;
  p.mutable_set_policy()->set_source(source);
  return Entry(offset, tenant, p);
}

// Inserts is_public(Repository:<id>) for each id; deletes with "-id".
inline v1::LogEntry WriteEntry(uint64_t offset, const std::string& tenant,
                               std::initializer_list<std::string> ids) {
  v1::LogPayload p;
  for (const std::string& id : ids) {
    auto* op = p.mutable_write()->add_operations();
    if (id[0] == '-') {
      auto* d = op->mutable_delete_pattern();
      d->set_predicate("is_public");
      auto* a = d->add_args();
      a->set_type("Repository");
      a->set_id(id.substr(1));
    } else {
      auto* f = op->mutable_insert();
      f->set_predicate("is_public");
      auto* a = f->add_args();
      a->set_type("Repository");
      a->set_id(id);
    }
  }
  return Entry(offset, tenant, p);
}

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_UNIT_REPLICA_TEST_ENTRIES_H_
