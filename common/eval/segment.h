#ifndef ARBITER_COMMON_EVAL_SEGMENT_H_
#define ARBITER_COMMON_EVAL_SEGMENT_H_

// One immutable layer of a FactIndex (fact_index.h): interned values and
// facts with a hash index for every pattern of bound arguments, laid out in
// one position-independent byte block, so the same bytes serve from the heap
// (tests, policy tests, a reader's small top layer) and from a file mapped
// read-only by every reader of a host (DESIGN.md §9.4). docs/INDEX_FORMAT.md
// has the byte layout; in short:
//
//   Header        magic "ARBIDX01", version, sizes, CRC32C of everything
//                 after the crc field, the log offset it reflects, the id of
//                 the layer below (0 for a base)
//   symbols       the values this layer introduces: ids [symbol_base,
//                 symbol_end), each {type id, string}; an open-addressing
//                 table (type id, string) -> id
//   types         the type names this layer introduces: [type_base, type_end)
//   relations     per (predicate, arity), ordered by name then arity:
//                   rows        n × arity symbol ids, ascending by id (in a
//                               base, where ids follow Value order, that is
//                               Value order)
//                   masks       per pattern of bound positions (mask 1..2^a-1):
//                               postings (row numbers grouped by key, rows of
//                               one key in row order; omitted when identical to
//                               the row order, as for every prefix pattern)
//                               and a slot table key -> {first posting, count}
//                   tombstones  (upper layers) facts of the layers below that
//                               this layer deletes, with a membership table
//   strings       every string (names, ids) once per layer
//
// A base layer holds facts. An upper layer is built over a stack (the layers
// below it, as a FactIndex): its rows are facts absent from the stack, its
// tombstones facts of the stack that are gone; its new values and types take
// the ids after the stack's. In a base, symbol ids are assigned in Value
// order, so id order is Value order; an upper layer numbers its values as
// they came (it is small: FactIndex::Scan sorts its matches).
//
// Thread-compatible: immutable once built; share as
// std::shared_ptr<const Segment>.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/base/value.h"

namespace arbiter::eval {

// A dense integer standing for one interned Value.
using SymbolId = uint32_t;
inline constexpr SymbolId kNoSymbol = ~SymbolId{0};

// A Value of an index, as views into the index's storage: valid while the
// segment (or FactIndex) that returned it lives.
struct ValueRef {
  absl::string_view type;
  absl::string_view id;

  Value ToValue() const { return Value{std::string(type), std::string(id)}; }
  friend bool operator==(ValueRef a, ValueRef b) {
    return a.type == b.type && a.id == b.id;
  }
};

// Value order (type, then id, bytewise): <0, 0, >0.
inline int Compare(ValueRef a, ValueRef b) {
  if (int c = a.type.compare(b.type); c != 0) return c;
  return a.id.compare(b.id);
}

// A cheap, well-mixed hash of a few 32-bit ids (index keys are hot). Stable
// across processes and builds: it is part of the file format.
inline uint64_t MixIds(const uint32_t* v, int n, uint64_t seed) {
  uint64_t h = seed ^ 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < n; ++i) {
    h = (h ^ v[i]) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  }
  // MurmurHash3's fmix64 finish, so the low bits (the slot) depend on every
  // input bit.
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// Bit i of a mask means "argument i is bound".
using Mask = uint32_t;
inline constexpr int kMaxMasks = 1 << kMaxArity;

// The hash of the bound arguments of `ids` under `mask`, as slot tables use
// it (part of the file format).
inline uint64_t KeyHash(Mask mask, const SymbolId* ids, int arity) {
  uint32_t key[kMaxArity];
  int n = 0;
  for (int i = 0; i < arity; ++i) {
    if (mask & (1u << i)) key[n++] = ids[i];
  }
  return MixIds(key, n, mask);
}

namespace internal {
inline bool KeyEquals(Mask mask, const SymbolId* row, const SymbolId* args, int arity) {
  for (int i = 0; i < arity; ++i) {
    if ((mask & (1u << i)) && row[i] != args[i]) return false;
  }
  return true;
}
}  // namespace internal

// The rows a lookup found: row numbers begin .. begin+count-1 of the
// postings, or of the rows themselves when `postings` is null.
struct RowRange {
  const uint32_t* postings = nullptr;
  uint32_t begin = 0;
  uint32_t count = 0;
  uint32_t row(uint32_t i) const {
    return postings != nullptr ? postings[begin + i] : begin + i;
  }
};

// One relation of one segment. A view into the segment's bytes.
struct SegmentRelation {
  struct Slot {
    uint32_t begin;
    uint32_t count;  // 0: empty slot
  };
  struct MaskIndex {
    const uint32_t* postings = nullptr;  // null: the rows' own order
    const Slot* slots = nullptr;
    uint64_t slot_mask = 0;  // number of slots - 1 (a power of two - 1)
  };

  absl::string_view name;
  int arity = 0;
  uint32_t num_rows = 0;
  const SymbolId* rows = nullptr;  // num_rows * arity
  uint32_t num_tombstones = 0;
  const SymbolId* tombstones = nullptr;  // num_tombstones * arity
  const uint32_t* tomb_slots = nullptr;  // tombstone number + 1; 0 = empty
  uint64_t tomb_slot_mask = 0;
  MaskIndex masks[kMaxMasks];  // [mask]; [0] unused

  const SymbolId* ids(uint32_t row) const { return rows + size_t{row} * arity; }

  // The rows whose arguments at the positions of `mask` equal args[i] (only
  // those args are read), in row order. mask 0: every row. One hash probe;
  // never scans.
  RowRange Seek(Mask mask, const SymbolId* args) const {
    return mask == 0 ? RowRange{nullptr, 0, num_rows}
                     : SeekHashed(mask, args, KeyHash(mask, args, arity));
  }
  // The same with KeyHash(mask, args, arity) already computed (a stack
  // probes every layer with one hash). REQUIRES: mask != 0.
  RowRange SeekHashed(Mask mask, const SymbolId* args, uint64_t hash) const {
    const MaskIndex& m = masks[mask];
    if (m.slots == nullptr) return {};
    uint64_t i = hash & m.slot_mask;
    while (true) {
      const Slot& s = m.slots[i];
      if (s.count == 0) return {};
      const uint32_t first = m.postings != nullptr ? m.postings[s.begin] : s.begin;
      if (internal::KeyEquals(mask, ids(first), args, arity)) {
        return RowRange{m.postings, s.begin, s.count};
      }
      i = (i + 1) & m.slot_mask;
    }
  }
  // Whether this layer deletes the fact `key` (arity ids) of a lower layer;
  // `hash` is KeyHash(all positions, key, arity).
  bool Deletes(const SymbolId* key, uint64_t hash) const {
    if (num_tombstones == 0) return false;
    uint64_t i = hash & tomb_slot_mask;
    while (true) {
      const uint32_t t = tomb_slots[i];
      if (t == 0) return false;
      const SymbolId* row = tombstones + size_t{t - 1} * arity;
      bool equal = true;
      for (int k = 0; k < arity && equal; ++k) equal = row[k] == key[k];
      if (equal) return true;
      i = (i + 1) & tomb_slot_mask;
    }
  }
  bool Deletes(const SymbolId* key) const {
    return Deletes(key, KeyHash((1u << arity) - 1, key, arity));
  }
};

// The bytes of a segment: a heap block or a read-only file mapping.
class SegmentBytes {
 public:
  SegmentBytes() = default;
  // A zeroed, 8-byte aligned heap block of `size` bytes.
  static SegmentBytes Allocate(size_t size);
  // Maps `path` read-only. NOT_FOUND when it does not exist.
  static absl::StatusOr<SegmentBytes> Map(const std::string& path);
  ~SegmentBytes();
  SegmentBytes(SegmentBytes&& o) noexcept { *this = std::move(o); }
  SegmentBytes& operator=(SegmentBytes&& o) noexcept;
  SegmentBytes(const SegmentBytes&) = delete;
  SegmentBytes& operator=(const SegmentBytes&) = delete;

  const char* data() const { return data_; }
  char* mutable_data() { return mapped_ ? nullptr : data_; }
  size_t size() const { return size_; }
  bool mapped() const { return mapped_; }

 private:
  void Release();
  char* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

class Segment {
 public:
  enum class Kind : uint32_t { kBase = 0, kUpper = 1 };

  // How much FromBytes checks.
  enum class Check {
    // Header, section bounds and the CRC32C (a file written by the writer).
    kChecksum,
    // Header and the bounds of every section, string, id and slot, without
    // the CRC (bytes of unknown origin, e.g. a fuzzer's).
    kBounds,
    // Header and section bounds only: bytes SegmentBuilder just made.
    kBuilt,
  };
  // Views `bytes` as a segment. DATA_LOSS (naming `what`, e.g. the file)
  // when the magic, version, sizes or bounds are wrong, or the CRC32C does
  // not match.
  static absl::StatusOr<std::shared_ptr<const Segment>> FromBytes(
      SegmentBytes bytes, Check check, const std::string& what);
  // Maps the file at `path` and verifies it (checksum included).
  static absl::StatusOr<std::shared_ptr<const Segment>> Open(
      const std::string& path);

  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  Kind kind() const { return kind_; }
  // The log offset (of the tenant) whose state this layer completes.
  int64_t offset() const { return offset_; }
  // An id of this segment's content (from its checksum and sizes), and the
  // id of the layer it was built on (0 for a base).
  uint64_t id() const { return id_; }
  uint64_t parent_id() const { return parent_id_; }
  SymbolId symbol_base() const { return symbol_base_; }
  SymbolId symbol_end() const { return symbol_base_ + num_symbols_; }
  uint32_t type_base() const { return type_base_; }
  uint32_t type_end() const { return type_base_ + num_types_; }
  // Facts added minus facts deleted by this layer.
  int64_t fact_delta() const { return fact_delta_; }
  size_t byte_size() const { return bytes_.size(); }
  bool mapped() const { return bytes_.mapped(); }
  // The whole block (e.g. to write it to a file).
  absl::string_view bytes() const { return absl::string_view(bytes_.data(), bytes_.size()); }

  // The id string and the (global) type id of a symbol this layer
  // introduced; its type's name may live in a lower layer
  // (FactIndex::value resolves both). REQUIRES: symbol_base() <= s <
  // symbol_end().
  absl::string_view id_of(SymbolId s) const;
  uint32_t type_of(SymbolId s) const;
  // REQUIRES: type_base() <= t < type_end().
  absl::string_view type_name(uint32_t t) const;
  // The id of the value (type `type_id`, `id`) if this layer introduced it.
  SymbolId FindSymbol(uint32_t type_id, absl::string_view id) const {
    return FindSymbolHashed(type_id, id, HashSymbol(type_id, id));
  }
  // The same with HashSymbol(type_id, id) already computed.
  SymbolId FindSymbolHashed(uint32_t type_id, absl::string_view id, uint64_t hash) const;
  // The id of a type name if this layer introduced it, else kNoSymbol.
  uint32_t FindType(absl::string_view name) const;

  std::span<const SegmentRelation> relations() const { return relations_; }

  // The hash of a (type id, id string) key in the symbol table; part of the
  // format.
  static uint64_t HashSymbol(uint32_t type_id, absl::string_view id);

 private:
  explicit Segment(SegmentBytes bytes) : bytes_(std::move(bytes)) {}
  absl::Status Parse(Check check, const std::string& what);

  SegmentBytes bytes_;
  Kind kind_ = Kind::kBase;
  int64_t offset_ = 0;
  uint64_t id_ = 0;
  uint64_t parent_id_ = 0;
  SymbolId symbol_base_ = 0;
  uint32_t num_symbols_ = 0;
  uint32_t type_base_ = 0;
  uint32_t num_types_ = 0;
  int64_t fact_delta_ = 0;
  const void* symbols_ = nullptr;       // format::SymbolEntry[]
  const uint32_t* symbol_slots_ = nullptr;
  uint64_t symbol_slot_mask_ = 0;
  const void* types_ = nullptr;         // format::StringRef[]
  const char* strings_ = nullptr;
  std::vector<SegmentRelation> relations_;
};

class FactIndex;

// Builds one segment. Not thread-safe.
//
// A base builder takes facts (duplicates dropped). An upper builder, made
// over `parent` (which must outlive the builder), takes the net state of the
// facts that changed since the parent: Put(f) (present now) and Erase(f)
// (absent now), the last call for a fact winning; Finish() keeps as rows the
// present facts the parent lacks and as tombstones the absent facts the
// parent has.
class SegmentBuilder {
 public:
  SegmentBuilder();
  explicit SegmentBuilder(const FactIndex* parent);
  ~SegmentBuilder();
  SegmentBuilder(const SegmentBuilder&) = delete;
  SegmentBuilder& operator=(const SegmentBuilder&) = delete;

  // The log offset the layer reflects.
  void set_offset(int64_t offset) { offset_ = offset; }

  // INVALID_ARGUMENT for an empty predicate, an arity outside 1..kMaxArity,
  // or an argument with an empty type or id.
  absl::Status Put(std::string_view predicate, std::span<const ValueRef> args);
  absl::Status Put(const Fact& fact);
  // Base builders only: the fact `ids` of `source` (which must outlive the
  // builder and stay the same for every call): each distinct value is
  // interned once, however many rows name it (merging a stack into a new
  // base).
  absl::Status PutFrom(const FactIndex& source, std::string_view predicate,
                       std::span<const SymbolId> ids);
  // Upper builders only (FAILED_PRECONDITION on a base builder).
  absl::Status Erase(std::string_view predicate, std::span<const ValueRef> args);
  absl::Status Erase(const Fact& fact);

  // Facts given so far (distinct).
  size_t size() const;

  // Lays the segment out in one heap block. The builder is spent afterwards.
  absl::StatusOr<SegmentBytes> Finish();

 private:
  struct Impl;
  const FactIndex* parent_ = nullptr;
  int64_t offset_ = 0;
  std::unique_ptr<Impl> impl_;
};

// Writes `bytes` to `path` through a temporary file in the same directory
// and a rename (a reader never sees a partial file). Not fsynced: index
// files are derived data, checked by their CRC32C when mapped (a torn file
// after a power loss fails the check and is rebuilt).
absl::Status WriteSegmentFile(const std::string& path, const Segment& segment);

}  // namespace arbiter::eval

#endif  // ARBITER_COMMON_EVAL_SEGMENT_H_
