#ifndef ARBITER_TESTS_TESTING_KEYS_H_
#define ARBITER_TESTS_TESTING_KEYS_H_

// API keys in tests: every process a test starts authenticates for real
// (docs/SECURITY.md). Logs bootstrap with the operator key kTestKey (test
// data only, never a secret), hosts send it to the log, and LocalChannel
// (grpc_probe.h) sends it on every call unless told otherwise.

#include <string>

namespace arbiter::testing {

inline constexpr char kTestKey[] =
    "arb_7e57000000000001_"
    "7e57000000000000000000000000000000000000000000000000000000000001";

// Its public id (what log entries it wrote record, LogPayload.key_id).
inline constexpr char kTestKeyId[] = "7e57000000000001";

// The path of the file holding kTestKey in `dir` (written, mode 0600, the
// first time).
std::string TestKeyFile(const std::string& dir);

// --bootstrap_key_file=TestKeyFile(dir), for arbiter-log.
std::string BootstrapKeyFlag(const std::string& dir);
// --log_key_file=TestKeyFile(dir), for arbiter-writer and arbiter-reader.
std::string LogKeyFlag(const std::string& dir);

}  // namespace arbiter::testing

#endif  // ARBITER_TESTS_TESTING_KEYS_H_
