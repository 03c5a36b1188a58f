#ifndef ARBITER_COMMON_BASE_CRC32C_H_
#define ARBITER_COMMON_BASE_CRC32C_H_

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by
// LogEntry.payload_crc32c, FetchSnapshotResponse.crc32c and index segment
// files. SSE4.2's crc32 instruction where the CPU has it (chosen at run time),
// else software slicing-by-8 (Debian ships no C++ crc32c library; ~1-2 GB/s).
//
// Thread-safe: pure functions over constant tables.

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace arbiter {

// Extends `crc` (the CRC32C of some prefix, 0 for the empty prefix) with
// `n` bytes at `data`: Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

namespace internal {
// The table-driven implementation (what Crc32cExtend uses without SSE4.2);
// exposed so tests compare both.
uint32_t Crc32cExtendSoftware(uint32_t crc, const void* data, size_t n);
}  // namespace internal

// The CRC32C of `data`, e.g. Crc32c("123456789") == 0xE3069283.
inline uint32_t Crc32c(absl::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

}  // namespace arbiter

#endif  // ARBITER_COMMON_BASE_CRC32C_H_
