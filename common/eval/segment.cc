#include "common/eval/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/crc32c.h"
#include "common/base/status_macros.h"
#include "common/eval/fact_index.h"

namespace arbiter::eval {
namespace format {

// The byte layout (docs/INDEX_FORMAT.md). Little-endian, every section
// 8-byte aligned, offsets from the start of the block.
constexpr char kMagic[8] = {'A', 'R', 'B', 'I', 'D', 'X', '0', '1'};
constexpr uint32_t kVersion = 1;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t total_bytes;
  uint32_t crc32c;  // of bytes [kCrcFrom, total_bytes)
  uint32_t kind;
  int64_t offset;
  uint64_t parent_id;
  uint32_t symbol_base;
  uint32_t num_symbols;
  uint32_t type_base;
  uint32_t num_types;
  uint32_t num_relations;
  uint32_t reserved;
  int64_t fact_delta;
  uint64_t symbols_off;  // SymbolEntry[num_symbols]
  uint64_t symbol_slots_off;  // uint32_t[symbol_slots]: local index + 1
  uint64_t symbol_slots;
  uint64_t types_off;  // StringRef[num_types]
  uint64_t relations_off;  // RelationEntry[num_relations]
  uint64_t strings_off;
  uint64_t strings_bytes;
};
constexpr size_t kCrcFrom = offsetof(Header, crc32c) + sizeof(uint32_t);
// docs/INDEX_FORMAT.md spells this out.
static_assert(sizeof(Header) == 136 && kCrcFrom == 28);

struct StringRef {
  uint64_t off;  // into the strings section
  uint32_t len;
  uint32_t pad;
};

struct SymbolEntry {
  uint64_t off;
  uint32_t len;
  uint32_t type;  // global type id
};

struct MaskEntry {
  uint64_t postings_off;  // 0: the rows' order
  uint64_t slots_off;     // SegmentRelation::Slot[num_slots]
  uint64_t num_slots;     // a power of two
};

struct RelationEntry {
  StringRef name;
  uint32_t arity;
  uint32_t pad;
  uint64_t num_rows;
  uint64_t rows_off;
  uint64_t num_tombstones;
  uint64_t tombstones_off;
  uint64_t tomb_slots_off;  // uint32_t[tomb_slots]: tombstone number + 1
  uint64_t tomb_slots;
  MaskEntry masks[kMaxMasks - 1];  // [mask - 1]
};
static_assert(sizeof(SymbolEntry) == 16 && sizeof(StringRef) == 16 &&
              sizeof(MaskEntry) == 24 && sizeof(RelationEntry) == 72 + 31 * 24);

}  // namespace format

namespace {

using format::Header;

constexpr uint64_t Align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// memcpy, except that `n` == 0 copies nothing: an empty vector's data() may
// be null, and memcpy from null is undefined even for zero bytes.
void CopyOut(char* dst, const void* src, size_t n) {
  if (n > 0) std::memcpy(dst, src, n);
}

// Slots for n keys: a power of two with load <= 0.7 in a base, <= 0.5 in
// an upper layer (>= 2). Every lookup of a stack probes every upper layer,
// mostly for keys it does not have; a sparser table ends such a probe
// sooner (measured: 0.25 costs 2x the bytes for little gain over 0.5).
uint64_t SlotsFor(uint64_t n, bool upper) {
  uint64_t s = 2;
  if (upper) {
    while (s < n * 2) s <<= 1;
  } else {
    while (s * 7 < n * 10) s <<= 1;
  }
  return s;
}


bool IsPrefixMask(Mask mask) { return (mask & (mask + 1)) == 0; }

absl::Status Corrupt(const std::string& what, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("index segment ", what, ": ", why));
}

}  // namespace

// ---------------------------------------------------------------------------
// SegmentRelation

// ---------------------------------------------------------------------------
// SegmentBytes

SegmentBytes SegmentBytes::Allocate(size_t size) {
  SegmentBytes b;
  const size_t words = (size + 7) / 8;
  b.data_ = reinterpret_cast<char*>(new uint64_t[words == 0 ? 1 : words]());
  b.size_ = size;
  return b;
}

absl::StatusOr<SegmentBytes> SegmentBytes::Map(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string msg = absl::StrCat("open ", path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("stat ", path, ": ", std::strerror(err)));
  }
  SegmentBytes b;
  b.size_ = static_cast<size_t>(st.st_size);
  b.mapped_ = true;
  if (b.size_ > 0) {
    void* p = ::mmap(nullptr, b.size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      b.mapped_ = false;
      b.size_ = 0;
      return absl::InternalError(absl::StrCat("mmap ", path, ": ", std::strerror(err)));
    }
    b.data_ = static_cast<char*>(p);
  }
  ::close(fd);  // the mapping keeps the file
  return b;
}

void SegmentBytes::Release() {
  if (data_ != nullptr) {
    if (mapped_) {
      ::munmap(data_, size_);
    } else {
      delete[] reinterpret_cast<uint64_t*>(data_);
    }
  }
  data_ = nullptr;
  size_ = 0;
  mapped_ = false;
}

SegmentBytes::~SegmentBytes() { Release(); }

SegmentBytes& SegmentBytes::operator=(SegmentBytes&& o) noexcept {
  if (this != &o) {
    Release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, false);
  }
  return *this;
}

// ---------------------------------------------------------------------------
// Segment

uint64_t Segment::HashSymbol(uint32_t type_id, absl::string_view id) {
  uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t{type_id} * 0x9E3779B97F4A7C15ull);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(id.data());
  size_t n = id.size();
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h ^= tail ^ (uint64_t{id.size()} << 56);
  // MurmurHash3's fmix64: every input bit reaches the low bits the slot
  // tables use (a bare multiply only carries bits upwards, and linear
  // probing turns the resulting clusters into long chains).
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

absl::StatusOr<std::shared_ptr<const Segment>> Segment::FromBytes(
    SegmentBytes bytes, Check check, const std::string& what) {
  std::shared_ptr<Segment> s(new Segment(std::move(bytes)));
  ARBITER_RETURN_IF_ERROR(s->Parse(check, what));
  return std::shared_ptr<const Segment>(std::move(s));
}

absl::StatusOr<std::shared_ptr<const Segment>> Segment::Open(
    const std::string& path) {
  ARBITER_ASSIGN_OR_RETURN(SegmentBytes bytes, SegmentBytes::Map(path));
  return FromBytes(std::move(bytes), Check::kChecksum, path);
}

absl::Status Segment::Parse(Check check, const std::string& what) {
  const bool verify_checksum = check == Check::kChecksum;
  const bool validate = check == Check::kBounds;
  const char* base = bytes_.data();
  const uint64_t size = bytes_.size();
  if (size < sizeof(Header)) return Corrupt(what, "shorter than its header");
  Header h;
  std::memcpy(&h, base, sizeof(h));
  if (std::memcmp(h.magic, format::kMagic, sizeof(h.magic)) != 0) {
    return Corrupt(what, "not an index segment (bad magic)");
  }
  if (h.version != format::kVersion) {
    return Corrupt(what, absl::StrCat("format version ", h.version,
                                      ", this binary reads ", format::kVersion));
  }
  if (h.header_bytes != sizeof(Header) || h.total_bytes != size) {
    return Corrupt(what, absl::StrCat("size ", size, " does not match its header (",
                                      h.total_bytes, ")"));
  }
  if (verify_checksum) {
    const uint32_t crc = Crc32cExtend(0, base + format::kCrcFrom, size - format::kCrcFrom);
    if (crc != h.crc32c) {
      return Corrupt(what, absl::StrFormat("CRC32C %08x does not match its header's %08x",
                                           crc, h.crc32c));
    }
  }
  if (h.kind > 1) return Corrupt(what, "unknown kind");
  auto in_bounds = [&](uint64_t off, uint64_t count, uint64_t elem) {
    if (off % 8 != 0 || off > size) return false;
    if (elem != 0 && count > (size - off) / elem) return false;
    return true;
  };
  if (!in_bounds(h.strings_off, h.strings_bytes, 1) ||
      !in_bounds(h.symbols_off, h.num_symbols, sizeof(format::SymbolEntry)) ||
      !in_bounds(h.symbol_slots_off, h.symbol_slots, sizeof(uint32_t)) ||
      !in_bounds(h.types_off, h.num_types, sizeof(format::StringRef)) ||
      !in_bounds(h.relations_off, h.num_relations, sizeof(format::RelationEntry)) ||
      (h.symbol_slots & (h.symbol_slots - 1)) != 0 || h.symbol_slots == 0) {
    return Corrupt(what, "a section is out of bounds");
  }
  kind_ = static_cast<Kind>(h.kind);
  offset_ = h.offset;
  parent_id_ = h.parent_id;
  id_ = (uint64_t{h.crc32c} << 32) ^ MixIds(&h.symbol_base, 4, h.total_bytes) ^
        static_cast<uint64_t>(h.offset);
  symbol_base_ = h.symbol_base;
  num_symbols_ = h.num_symbols;
  type_base_ = h.type_base;
  num_types_ = h.num_types;
  fact_delta_ = h.fact_delta;
  strings_ = base + h.strings_off;
  symbols_ = base + h.symbols_off;
  symbol_slots_ = reinterpret_cast<const uint32_t*>(base + h.symbol_slots_off);
  symbol_slot_mask_ = h.symbol_slots - 1;
  types_ = base + h.types_off;
  if (uint64_t{symbol_base_} + num_symbols_ >= kNoSymbol ||
      uint64_t{type_base_} + num_types_ >= kNoSymbol) {
    return Corrupt(what, "too many symbols");
  }
  auto string_ok = [&](const auto& ref) {
    return ref.off <= h.strings_bytes && ref.len <= h.strings_bytes - ref.off;
  };
  // Bytes of unknown origin: every string, id, slot and posting must stay
  // inside the block. With the checksum verified (or bytes just built) the
  // builder's own invariants hold.
  if (validate) {
    const auto* syms = static_cast<const format::SymbolEntry*>(symbols_);
    for (uint32_t i = 0; i < num_symbols_; ++i) {
      if (!string_ok(syms[i]) || syms[i].type >= type_end()) {
        return Corrupt(what, "a symbol is out of bounds");
      }
    }
    const auto* types = static_cast<const format::StringRef*>(types_);
    for (uint32_t i = 0; i < num_types_; ++i) {
      if (!string_ok(types[i])) return Corrupt(what, "a type is out of bounds");
    }
    // A probe stops at an empty slot: a table without one would make a
    // lookup of an absent value loop forever.
    bool empty_slot = false;
    for (uint64_t i = 0; i <= symbol_slot_mask_; ++i) {
      if (symbol_slots_[i] > num_symbols_) return Corrupt(what, "a symbol slot is out of bounds");
      empty_slot |= symbol_slots_[i] == 0;
    }
    if (!empty_slot) return Corrupt(what, "the symbol table has no empty slot");
  }
  const auto* rels = reinterpret_cast<const format::RelationEntry*>(base + h.relations_off);
  relations_.resize(h.num_relations);
  for (uint32_t r = 0; r < h.num_relations; ++r) {
    const format::RelationEntry& e = rels[r];
    SegmentRelation& rel = relations_[r];
    if (!string_ok(e.name) || e.arity < 1 || e.arity > kMaxArity ||
        e.num_rows >= (uint64_t{1} << 32) || e.num_tombstones >= (uint64_t{1} << 32) ||
        !in_bounds(e.rows_off, e.num_rows * e.arity, sizeof(SymbolId)) ||
        !in_bounds(e.tombstones_off, e.num_tombstones * e.arity, sizeof(SymbolId)) ||
        !in_bounds(e.tomb_slots_off, e.tomb_slots, sizeof(uint32_t)) ||
        (e.num_tombstones > 0 && (e.tomb_slots == 0 || (e.tomb_slots & (e.tomb_slots - 1)) != 0))) {
      return Corrupt(what, absl::StrCat("relation ", r, " is out of bounds"));
    }
    rel.name = absl::string_view(strings_ + e.name.off, e.name.len);
    rel.arity = static_cast<int>(e.arity);
    rel.num_rows = static_cast<uint32_t>(e.num_rows);
    rel.rows = reinterpret_cast<const SymbolId*>(base + e.rows_off);
    rel.num_tombstones = static_cast<uint32_t>(e.num_tombstones);
    rel.tombstones = reinterpret_cast<const SymbolId*>(base + e.tombstones_off);
    rel.tomb_slots = reinterpret_cast<const uint32_t*>(base + e.tomb_slots_off);
    rel.tomb_slot_mask = e.tomb_slots == 0 ? 0 : e.tomb_slots - 1;
    const Mask masks = 1u << e.arity;
    for (Mask m = 1; m < masks; ++m) {
      const format::MaskEntry& me = e.masks[m - 1];
      if (e.num_rows == 0) continue;
      if ((me.num_slots & (me.num_slots - 1)) != 0 || me.num_slots == 0 ||
          !in_bounds(me.slots_off, me.num_slots, sizeof(SegmentRelation::Slot)) ||
          (me.postings_off != 0 && !in_bounds(me.postings_off, e.num_rows, sizeof(uint32_t)))) {
        return Corrupt(what, absl::StrCat("relation ", r, " mask ", m, " is out of bounds"));
      }
      SegmentRelation::MaskIndex& mi = rel.masks[m];
      mi.postings = me.postings_off == 0
                        ? nullptr
                        : reinterpret_cast<const uint32_t*>(base + me.postings_off);
      mi.slots = reinterpret_cast<const SegmentRelation::Slot*>(base + me.slots_off);
      mi.slot_mask = me.num_slots - 1;
    }
    if (validate) {
      // Row ids and postings must stay inside the tables they index.
      const uint64_t n = uint64_t{rel.num_rows} * rel.arity;
      for (uint64_t i = 0; i < n; ++i) {
        if (rel.rows[i] >= symbol_end()) return Corrupt(what, "a row is out of bounds");
      }
      for (Mask m = 1; m < masks && rel.num_rows > 0; ++m) {
        const auto& mi = rel.masks[m];
        bool empty = false;
        for (uint64_t s = 0; s <= mi.slot_mask; ++s) {
          const auto& slot = mi.slots[s];
          if (slot.count != 0 && (slot.begin >= rel.num_rows ||
                                  slot.count > rel.num_rows - slot.begin)) {
            return Corrupt(what, "a slot is out of bounds");
          }
          empty |= slot.count == 0;
        }
        if (!empty) return Corrupt(what, "a slot table has no empty slot");
        if (mi.postings != nullptr) {
          for (uint32_t i = 0; i < rel.num_rows; ++i) {
            if (mi.postings[i] >= rel.num_rows) return Corrupt(what, "a posting is out of bounds");
          }
        }
      }
      bool empty = e.tomb_slots == 0;
      for (uint64_t s = 0; s < e.tomb_slots; ++s) {
        if (rel.tomb_slots[s] > rel.num_tombstones) {
          return Corrupt(what, "a tombstone slot is out of bounds");
        }
        empty |= rel.tomb_slots[s] == 0;
      }
      if (!empty) return Corrupt(what, "a tombstone table has no empty slot");
    }
  }
  return absl::OkStatus();
}

absl::string_view Segment::id_of(SymbolId s) const {
  const auto& e = static_cast<const format::SymbolEntry*>(symbols_)[s - symbol_base_];
  return absl::string_view(strings_ + e.off, e.len);
}

uint32_t Segment::type_of(SymbolId s) const {
  return static_cast<const format::SymbolEntry*>(symbols_)[s - symbol_base_].type;
}

absl::string_view Segment::type_name(uint32_t t) const {
  const auto& e = static_cast<const format::StringRef*>(types_)[t - type_base_];
  return absl::string_view(strings_ + e.off, e.len);
}

SymbolId Segment::FindSymbolHashed(uint32_t type_id, absl::string_view id,
                                   uint64_t hash) const {
  if (num_symbols_ == 0) return kNoSymbol;
  const auto* syms = static_cast<const format::SymbolEntry*>(symbols_);
  uint64_t i = hash & symbol_slot_mask_;
  while (true) {
    const uint32_t slot = symbol_slots_[i];
    if (slot == 0) return kNoSymbol;
    const format::SymbolEntry& e = syms[slot - 1];
    if (e.type == type_id && absl::string_view(strings_ + e.off, e.len) == id) {
      return symbol_base_ + slot - 1;
    }
    i = (i + 1) & symbol_slot_mask_;
  }
}

uint32_t Segment::FindType(absl::string_view name) const {
  const auto* types = static_cast<const format::StringRef*>(types_);
  for (uint32_t i = 0; i < num_types_; ++i) {
    if (absl::string_view(strings_ + types[i].off, types[i].len) == name) {
      return type_base_ + i;
    }
  }
  return kNoSymbol;
}

// ---------------------------------------------------------------------------
// SegmentBuilder

namespace {

// Values interned by a builder: local ids in insertion order.
class LocalSymbols {
 public:
  uint32_t Intern(ValueRef v) {
    auto it = index_.find(std::make_pair(v.type, v.id));
    if (it != index_.end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(values_.size());
    const Value& stored = values_.emplace_back(v.ToValue());
    index_.emplace(std::make_pair(absl::string_view(stored.type),
                                  absl::string_view(stored.id)),
                   id);
    return id;
  }
  const Value& value(uint32_t local) const { return values_[local]; }
  size_t size() const { return values_.size(); }

 private:
  std::deque<Value> values_;
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, uint32_t> index_;
};

// A fact of an upper builder as local symbol ids (unused positions 0).
struct LocalKey {
  uint32_t v[kMaxArity] = {};
  friend bool operator==(const LocalKey& a, const LocalKey& b) {
    return std::memcmp(a.v, b.v, sizeof(a.v)) == 0;
  }
  friend bool operator<(const LocalKey& a, const LocalKey& b) {
    return std::lexicographical_compare(a.v, a.v + kMaxArity, b.v, b.v + kMaxArity);
  }
  template <typename H>
  friend H AbslHashValue(H h, const LocalKey& k) {
    return H::combine(std::move(h), MixIds(k.v, kMaxArity, 0));
  }
};

// Facts of one (predicate, arity), as local symbol ids.
struct PendingRelation {
  std::string name;
  int arity = 0;
  // Base: rows of local ids. Upper: the net state per fact.
  std::vector<uint32_t> rows;
  absl::flat_hash_map<LocalKey, bool> net;  // upper: present?
};

}  // namespace

struct SegmentBuilder::Impl {
  LocalSymbols symbols;
  absl::flat_hash_map<std::pair<std::string, int>, PendingRelation> relations;
  size_t puts = 0;
  // PutFrom: the source's symbol id -> local id (kNoSymbol: not yet seen),
  // so each distinct value is interned once, not once per row.
  const FactIndex* source = nullptr;
  std::vector<uint32_t> source_ids;

  PendingRelation& Relation(std::string_view predicate, int arity) {
    auto [it, inserted] =
        relations.try_emplace(std::make_pair(std::string(predicate), arity));
    if (inserted) {
      it->second.name = std::string(predicate);
      it->second.arity = arity;
    }
    return it->second;
  }
};

SegmentBuilder::SegmentBuilder() : impl_(std::make_unique<Impl>()) {}
SegmentBuilder::SegmentBuilder(const FactIndex* parent)
    : parent_(parent), impl_(std::make_unique<Impl>()) {}
SegmentBuilder::~SegmentBuilder() = default;

namespace {

absl::Status CheckFact(std::string_view predicate, std::span<const ValueRef> args) {
  if (predicate.empty()) return absl::InvalidArgumentError("fact has an empty predicate name");
  if (args.empty() || args.size() > static_cast<size_t>(kMaxArity)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "fact %s has %d arguments; a fact takes 1 to %d", std::string(predicate),
        args.size(), kMaxArity));
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].type.empty() || args[i].id.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "fact %s: argument %d needs a type and an id", std::string(predicate), i + 1));
    }
  }
  return absl::OkStatus();
}

std::vector<ValueRef> Refs(const Fact& f) {
  std::vector<ValueRef> out;
  out.reserve(f.args.size());
  for (const Value& v : f.args) out.push_back(ValueRef{v.type, v.id});
  return out;
}

}  // namespace

absl::Status SegmentBuilder::Put(std::string_view predicate,
                                 std::span<const ValueRef> args) {
  ARBITER_RETURN_IF_ERROR(CheckFact(predicate, args));
  PendingRelation& rel = impl_->Relation(predicate, static_cast<int>(args.size()));
  if (parent_ == nullptr) {
    for (const ValueRef& v : args) rel.rows.push_back(impl_->symbols.Intern(v));
    ++impl_->puts;
    return absl::OkStatus();
  }
  LocalKey key;
  for (size_t i = 0; i < args.size(); ++i) key.v[i] = impl_->symbols.Intern(args[i]);
  rel.net[key] = true;
  return absl::OkStatus();
}

absl::Status SegmentBuilder::PutFrom(const FactIndex& source, std::string_view predicate,
                                     std::span<const SymbolId> ids) {
  if (parent_ != nullptr) {
    return absl::FailedPreconditionError("PutFrom builds base segments only");
  }
  if (predicate.empty() || ids.empty() || ids.size() > static_cast<size_t>(kMaxArity)) {
    return absl::InvalidArgumentError(absl::StrCat("fact ", std::string(predicate), " has ",
                                                   ids.size(), " arguments"));
  }
  Impl& in = *impl_;
  if (in.source != &source) {
    in.source = &source;
    in.source_ids.assign(source.num_symbols(), kNoSymbol);
  }
  PendingRelation& rel = in.Relation(predicate, static_cast<int>(ids.size()));
  for (SymbolId id : ids) {
    if (id >= in.source_ids.size()) return absl::InvalidArgumentError("unknown symbol id");
    uint32_t& local = in.source_ids[id];
    if (local == kNoSymbol) local = in.symbols.Intern(source.value(id));
    rel.rows.push_back(local);
  }
  ++in.puts;
  return absl::OkStatus();
}

absl::Status SegmentBuilder::Put(const Fact& fact) {
  std::vector<ValueRef> refs = Refs(fact);
  return Put(fact.predicate, refs);
}

absl::Status SegmentBuilder::Erase(std::string_view predicate,
                                   std::span<const ValueRef> args) {
  if (parent_ == nullptr) {
    return absl::FailedPreconditionError("a base segment cannot delete facts");
  }
  ARBITER_RETURN_IF_ERROR(CheckFact(predicate, args));
  PendingRelation& rel = impl_->Relation(predicate, static_cast<int>(args.size()));
  LocalKey key;
  for (size_t i = 0; i < args.size(); ++i) key.v[i] = impl_->symbols.Intern(args[i]);
  rel.net[key] = false;
  return absl::OkStatus();
}

absl::Status SegmentBuilder::Erase(const Fact& fact) {
  std::vector<ValueRef> refs = Refs(fact);
  return Erase(fact.predicate, refs);
}

size_t SegmentBuilder::size() const {
  if (parent_ == nullptr) return impl_->puts;
  size_t n = 0;
  for (const auto& [key, rel] : impl_->relations) n += rel.net.size();
  return n;
}

namespace {

// Accumulates the block: sections appended 8-byte aligned.
class Layout {
 public:
  uint64_t Reserve(uint64_t bytes) {
    const uint64_t off = Align8(size_);
    size_ = off + bytes;
    return off;
  }
  uint64_t size() const { return Align8(size_); }

 private:
  uint64_t size_ = sizeof(Header);
};

struct BuiltRelation {
  std::string name;
  int arity = 0;
  std::vector<SymbolId> rows;        // final ids, sorted
  std::vector<SymbolId> tombstones;  // final ids
  struct MaskData {
    std::vector<uint32_t> postings;  // empty: identity
    std::vector<SegmentRelation::Slot> slots;
  };
  MaskData masks[kMaxMasks];
  std::vector<uint32_t> tomb_slots;
};

// Groups rows by the key of `mask` and fills its slot table.
void BuildMask(BuiltRelation& r, Mask mask, bool upper) {
  const int a = r.arity;
  const uint32_t n = static_cast<uint32_t>(r.rows.size() / a);
  BuiltRelation::MaskData& md = r.masks[mask];
  const SymbolId* rows = r.rows.data();
  auto row = [&](uint32_t i) { return rows + size_t{i} * a; };
  std::vector<uint32_t> order;
  const bool identity = IsPrefixMask(mask);
  if (!identity) {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
      const SymbolId* rx = row(x);
      const SymbolId* ry = row(y);
      for (int k = 0; k < a; ++k) {
        if (!(mask & (1u << k))) continue;
        if (rx[k] != ry[k]) return rx[k] < ry[k];
      }
      return false;
    });
  }
  auto at = [&](uint32_t p) { return identity ? p : order[p]; };
  // Count the groups first to size the table.
  uint64_t groups = 0;
  for (uint32_t p = 0; p < n;) {
    uint32_t q = p + 1;
    while (q < n && internal::KeyEquals(mask, row(at(q)), row(at(p)), a)) ++q;
    ++groups;
    p = q;
  }
  const uint64_t slots = SlotsFor(groups, upper);
  md.slots.assign(slots, SegmentRelation::Slot{0, 0});
  for (uint32_t p = 0; p < n;) {
    uint32_t q = p + 1;
    while (q < n && internal::KeyEquals(mask, row(at(q)), row(at(p)), a)) ++q;
    uint64_t i = KeyHash(mask, row(at(p)), a) & (slots - 1);
    while (md.slots[i].count != 0) i = (i + 1) & (slots - 1);
    md.slots[i] = SegmentRelation::Slot{p, q - p};
    p = q;
  }
  md.postings = std::move(order);
}

void BuildTombstoneTable(BuiltRelation& r, bool upper) {
  const int a = r.arity;
  const uint32_t n = static_cast<uint32_t>(r.tombstones.size() / a);
  if (n == 0) return;
  const uint64_t slots = SlotsFor(n, upper);
  r.tomb_slots.assign(slots, 0);
  const Mask full = (1u << a) - 1;
  for (uint32_t t = 0; t < n; ++t) {
    uint64_t i = KeyHash(full, &r.tombstones[size_t{t} * a], a) & (slots - 1);
    while (r.tomb_slots[i] != 0) i = (i + 1) & (slots - 1);
    r.tomb_slots[i] = t + 1;
  }
}

}  // namespace

absl::StatusOr<SegmentBytes> SegmentBuilder::Finish() {
  Impl& in = *impl_;
  const SymbolId symbol_base =
      parent_ == nullptr ? 0 : static_cast<SymbolId>(parent_->num_symbols());
  uint32_t type_base = 0;
  // Global type ids of the parent's types (upper) are found by name.
  std::vector<std::string> new_types;
  absl::flat_hash_map<std::string, uint32_t> type_ids;
  if (parent_ != nullptr) {
    // One past the highest type id of the stack.
    type_base = parent_->layers().back()->type_end();
  }

  // Which local symbols exist in the parent (upper), and which are new.
  const size_t nlocal = in.symbols.size();
  std::vector<SymbolId> final_id(nlocal, kNoSymbol);
  std::vector<uint32_t> fresh;  // local ids of new values
  for (uint32_t l = 0; l < nlocal; ++l) {
    const Value& v = in.symbols.value(l);
    if (parent_ != nullptr) {
      SymbolId p = parent_->Find(v);
      if (p != kNoSymbol) {
        final_id[l] = p;
        continue;
      }
    }
    fresh.push_back(l);
  }

  // Upper: classify every touched fact against the parent. Rows may only
  // use values that end up in the index: a tombstone's values are all in
  // the parent; a row may introduce values.
  std::vector<bool> used(nlocal, parent_ == nullptr);
  struct Classified {
    PendingRelation* rel;
    std::vector<LocalKey> rows, tombs;  // local ids
  };
  std::vector<Classified> classified;
  if (parent_ != nullptr) {
    for (auto& [key, rel] : in.relations) {
      Classified c{&rel, {}, {}};
      const IndexedRelation* prel = parent_->FindRelation(rel.name, rel.arity);
      for (const auto& [fact, present] : rel.net) {
        bool in_parent = prel != nullptr;
        SymbolId ids[kMaxArity];
        for (int i = 0; i < rel.arity && in_parent; ++i) {
          ids[i] = final_id[fact.v[i]];
          in_parent = ids[i] != kNoSymbol;
        }
        in_parent = in_parent && prel->Contains(ids);
        if (present && !in_parent) {
          for (int i = 0; i < rel.arity; ++i) used[fact.v[i]] = true;
          c.rows.push_back(fact);
        } else if (!present && in_parent) {
          c.tombs.push_back(fact);
        }
      }
      classified.push_back(std::move(c));
    }
  }

  // New symbols numbered from symbol_base: in a base in Value order (so id
  // order is Value order there), in an upper layer as they came.
  std::vector<uint32_t> fresh_used;
  for (uint32_t l : fresh) {
    if (used[l]) fresh_used.push_back(l);
  }
  if (parent_ == nullptr) {
    std::sort(fresh_used.begin(), fresh_used.end(), [&](uint32_t a, uint32_t b) {
      return in.symbols.value(a) < in.symbols.value(b);
    });
  }
  for (size_t i = 0; i < fresh_used.size(); ++i) {
    final_id[fresh_used[i]] = symbol_base + static_cast<SymbolId>(i);
  }
  // New types.
  std::vector<uint32_t> symbol_type(fresh_used.size());
  {
    std::vector<std::string> names;
    for (uint32_t l : fresh_used) {
      const std::string& t = in.symbols.value(l).type;
      if (type_ids.contains(t)) continue;
      uint32_t existing = parent_ != nullptr ? parent_->FindType(t) : kNoSymbol;
      if (existing != kNoSymbol) {
        type_ids[t] = existing;
      } else {
        type_ids[t] = kNoSymbol;
        names.push_back(t);
      }
    }
    std::sort(names.begin(), names.end());
    for (size_t i = 0; i < names.size(); ++i) {
      type_ids[names[i]] = type_base + static_cast<uint32_t>(i);
    }
    new_types = std::move(names);
    for (size_t i = 0; i < fresh_used.size(); ++i) {
      symbol_type[i] = type_ids[in.symbols.value(fresh_used[i]).type];
    }
  }

  // Relations in final ids, rows in id order (in a base, Value order).
  auto compare_ids = [](SymbolId a, SymbolId b) -> int {
    return a == b ? 0 : (a < b ? -1 : 1);
  };
  std::vector<BuiltRelation> built;
  int64_t fact_delta = 0;
  auto finish_relation = [&](BuiltRelation& r) {
    const int a = r.arity;
    const size_t n = r.rows.size() / a;
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
      for (int k = 0; k < a; ++k) {
        int c = compare_ids(r.rows[size_t{x} * a + k], r.rows[size_t{y} * a + k]);
        if (c != 0) return c < 0;
      }
      return false;
    });
    std::vector<SymbolId> sorted;
    sorted.reserve(r.rows.size());
    for (size_t i = 0; i < n; ++i) {
      const SymbolId* row = &r.rows[size_t{order[i]} * a];
      if (!sorted.empty() &&
          std::equal(row, row + a, sorted.end() - a)) {
        continue;  // a duplicate (base builders take them)
      }
      sorted.insert(sorted.end(), row, row + a);
    }
    r.rows = std::move(sorted);
    fact_delta += static_cast<int64_t>(r.rows.size() / a) -
                  static_cast<int64_t>(r.tombstones.size() / a);
    if (!r.rows.empty()) {
      for (Mask m = 1; m < (1u << a); ++m) BuildMask(r, m, parent_ != nullptr);
    }
    BuildTombstoneTable(r, parent_ != nullptr);
  };
  if (parent_ == nullptr) {
    for (auto& [key, rel] : in.relations) {
      BuiltRelation r;
      r.name = rel.name;
      r.arity = rel.arity;
      r.rows.reserve(rel.rows.size());
      for (uint32_t l : rel.rows) r.rows.push_back(final_id[l]);
      rel.rows.clear();
      rel.rows.shrink_to_fit();
      finish_relation(r);
      built.push_back(std::move(r));
    }
  } else {
    for (Classified& c : classified) {
      if (c.rows.empty() && c.tombs.empty()) continue;
      BuiltRelation r;
      r.name = c.rel->name;
      r.arity = c.rel->arity;
      for (const auto& f : c.rows) {
        for (int i = 0; i < r.arity; ++i) r.rows.push_back(final_id[f.v[i]]);
      }
      std::sort(c.tombs.begin(), c.tombs.end());
      for (const auto& f : c.tombs) {
        for (int i = 0; i < r.arity; ++i) r.tombstones.push_back(final_id[f.v[i]]);
      }
      finish_relation(r);
      built.push_back(std::move(r));
    }
  }
  std::sort(built.begin(), built.end(), [](const BuiltRelation& a, const BuiltRelation& b) {
    return std::tie(a.name, a.arity) < std::tie(b.name, b.arity);
  });

  // Strings: symbol ids, type names, relation names.
  uint64_t strings_bytes = 0;
  for (uint32_t l : fresh_used) strings_bytes += in.symbols.value(l).id.size();
  for (const std::string& t : new_types) strings_bytes += t.size();
  for (const BuiltRelation& r : built) strings_bytes += r.name.size();

  const uint64_t num_symbols = fresh_used.size();
  const uint64_t symbol_slots = SlotsFor(num_symbols, parent_ != nullptr);
  Layout layout;
  const uint64_t symbols_off = layout.Reserve(num_symbols * sizeof(format::SymbolEntry));
  const uint64_t symbol_slots_off = layout.Reserve(symbol_slots * sizeof(uint32_t));
  const uint64_t types_off = layout.Reserve(new_types.size() * sizeof(format::StringRef));
  const uint64_t relations_off = layout.Reserve(built.size() * sizeof(format::RelationEntry));
  std::vector<format::RelationEntry> entries(built.size());
  for (size_t i = 0; i < built.size(); ++i) {
    const BuiltRelation& r = built[i];
    format::RelationEntry& e = entries[i];
    std::memset(&e, 0, sizeof(e));
    e.arity = static_cast<uint32_t>(r.arity);
    e.num_rows = r.rows.size() / r.arity;
    e.rows_off = layout.Reserve(r.rows.size() * sizeof(SymbolId));
    e.num_tombstones = r.tombstones.size() / r.arity;
    e.tombstones_off = layout.Reserve(r.tombstones.size() * sizeof(SymbolId));
    e.tomb_slots = r.tomb_slots.size();
    e.tomb_slots_off = layout.Reserve(r.tomb_slots.size() * sizeof(uint32_t));
    if (e.num_rows > 0) {
      for (Mask m = 1; m < (1u << r.arity); ++m) {
        const auto& md = r.masks[m];
        format::MaskEntry& me = e.masks[m - 1];
        me.num_slots = md.slots.size();
        me.slots_off = layout.Reserve(md.slots.size() * sizeof(SegmentRelation::Slot));
        me.postings_off =
            md.postings.empty() ? 0 : layout.Reserve(md.postings.size() * sizeof(uint32_t));
      }
    }
  }
  const uint64_t strings_off = layout.Reserve(strings_bytes);
  if (num_symbols + symbol_base >= kNoSymbol) {
    return absl::ResourceExhaustedError("index segment: too many distinct values");
  }

  SegmentBytes bytes = SegmentBytes::Allocate(layout.size());
  char* out = bytes.mutable_data();
  uint64_t spos = 0;
  auto put_string = [&](absl::string_view s) {
    CopyOut(out + strings_off + spos, s.data(), s.size());
    const uint64_t off = spos;
    spos += s.size();
    return off;
  };
  auto* syms = reinterpret_cast<format::SymbolEntry*>(out + symbols_off);
  auto* sym_slots = reinterpret_cast<uint32_t*>(out + symbol_slots_off);
  for (size_t i = 0; i < num_symbols; ++i) {
    const Value& v = in.symbols.value(fresh_used[i]);
    syms[i].len = static_cast<uint32_t>(v.id.size());
    syms[i].off = put_string(v.id);
    syms[i].type = symbol_type[i];
    uint64_t s = Segment::HashSymbol(symbol_type[i], v.id) & (symbol_slots - 1);
    while (sym_slots[s] != 0) s = (s + 1) & (symbol_slots - 1);
    sym_slots[s] = static_cast<uint32_t>(i + 1);
  }
  auto* types = reinterpret_cast<format::StringRef*>(out + types_off);
  for (size_t i = 0; i < new_types.size(); ++i) {
    types[i].len = static_cast<uint32_t>(new_types[i].size());
    types[i].off = put_string(new_types[i]);
  }
  for (size_t i = 0; i < built.size(); ++i) {
    const BuiltRelation& r = built[i];
    format::RelationEntry& e = entries[i];
    e.name.len = static_cast<uint32_t>(r.name.size());
    e.name.off = put_string(r.name);
    CopyOut(out + e.rows_off, r.rows.data(), r.rows.size() * sizeof(SymbolId));
    CopyOut(out + e.tombstones_off, r.tombstones.data(),
            r.tombstones.size() * sizeof(SymbolId));
    CopyOut(out + e.tomb_slots_off, r.tomb_slots.data(),
            r.tomb_slots.size() * sizeof(uint32_t));
    if (e.num_rows > 0) {
      for (Mask m = 1; m < (1u << r.arity); ++m) {
        const auto& md = r.masks[m];
        const format::MaskEntry& me = e.masks[m - 1];
        CopyOut(out + me.slots_off, md.slots.data(),
                md.slots.size() * sizeof(SegmentRelation::Slot));
        CopyOut(out + me.postings_off, md.postings.data(),
                md.postings.size() * sizeof(uint32_t));
      }
    }
  }
  CopyOut(out + relations_off, entries.data(),
          entries.size() * sizeof(format::RelationEntry));

  Header h;
  std::memset(&h, 0, sizeof(h));
  std::memcpy(h.magic, format::kMagic, sizeof(h.magic));
  h.version = format::kVersion;
  h.header_bytes = sizeof(Header);
  h.total_bytes = layout.size();
  h.kind = parent_ == nullptr ? 0 : 1;
  h.offset = offset_;
  h.parent_id = parent_ == nullptr ? 0 : parent_->top_id();
  h.symbol_base = symbol_base;
  h.num_symbols = static_cast<uint32_t>(num_symbols);
  h.type_base = type_base;
  h.num_types = static_cast<uint32_t>(new_types.size());
  h.num_relations = static_cast<uint32_t>(built.size());
  h.fact_delta = fact_delta;
  h.symbols_off = symbols_off;
  h.symbol_slots_off = symbol_slots_off;
  h.symbol_slots = symbol_slots;
  h.types_off = types_off;
  h.relations_off = relations_off;
  h.strings_off = strings_off;
  h.strings_bytes = strings_bytes;
  std::memcpy(out, &h, sizeof(h));
  h.crc32c = Crc32cExtend(0, out + format::kCrcFrom, bytes.size() - format::kCrcFrom);
  std::memcpy(out, &h, sizeof(h));
  impl_ = std::make_unique<Impl>();
  return bytes;
}

absl::Status WriteSegmentFile(const std::string& path, const Segment& segment) {
  const absl::string_view bytes = segment.bytes();
  const std::string tmp = path + ".tmp";
  // 0666 less the umask: 0600 by default (SetFileAccess, --file_access).
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("open ", tmp, ": ", std::strerror(errno)));
  }
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat("write ", tmp, ": ", std::strerror(err)));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("close ", tmp, ": ", std::strerror(err)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("rename ", tmp, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace arbiter::eval
