#include "arbiter/v1/request_traits.h"

#include <cstdint>
#include <map>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>

namespace arbiter::v1 {
namespace {

// Where the reason travels: the largest field number, unused by any message.
constexpr int kParseFailureField = (1 << 29) - 1;

// The index of the first byte of the first ill-formed UTF-8 sequence in
// `s` (overlong forms, surrogates and code points past U+10FFFF included),
// or npos when it is all UTF-8.
size_t InvalidUtf8At(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}

// Finds the first string field of `d` (recursively) that is not UTF-8.
bool FindBadString(const google::protobuf::Descriptor* d,
                   const google::protobuf::UnknownFieldSet& fields, const std::string& path,
                   std::string* out) {
  std::map<int, int> seen;  // field number -> occurrences so far (repeated index)
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField& u = fields.field(i);
    const int index = seen[u.number()]++;
    if (u.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const google::protobuf::FieldDescriptor* f = d->FindFieldByNumber(u.number());
    if (f == nullptr) continue;
    std::string here = path.empty() ? f->name() : path + "." + f->name();
    if (f->is_repeated()) here += "[" + std::to_string(index) + "]";
    const std::string& bytes = u.length_delimited();
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
      const size_t bad = InvalidUtf8At(bytes);
      if (bad != std::string::npos) {
        *out = "field " + here + " (" + f->full_name() + ") is not valid UTF-8 (byte " +
               std::to_string(bad + 1) + " of " +
               std::to_string(bytes.size()) + "); proto3 string fields must be UTF-8";
        return true;
      }
    } else if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      google::protobuf::UnknownFieldSet inner;
      if (!inner.ParseFromString(bytes)) {
        *out = "field " + here + " (" + f->full_name() + ") is not a valid " +
               f->message_type()->full_name();
        return true;
      }
      if (FindBadString(f->message_type(), inner, here, out)) return true;
    }
  }
  return false;
}

std::string Diagnose(const google::protobuf::Descriptor* d, const std::string& bytes) {
  google::protobuf::UnknownFieldSet fields;
  std::string why;
  if (!fields.ParseFromString(bytes)) {
    why = "the bytes are not protobuf wire format";
  } else if (!FindBadString(d, fields, "", &why)) {
    why = "a field's wire type does not match " + d->full_name();
  }
  return "request does not parse as " + d->full_name() + ": " + why;
}

}  // namespace

std::string ParseFailure(const google::protobuf::Message& request) {
  const google::protobuf::UnknownFieldSet& u =
      request.GetReflection()->GetUnknownFields(request);
  for (int i = 0; i < u.field_count(); ++i) {
    if (u.field(i).number() == kParseFailureField &&
        u.field(i).type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      return u.field(i).length_delimited();
    }
  }
  return "";
}

namespace internal {

grpc::Status ParseRequest(grpc::ByteBuffer* buffer, google::protobuf::Message* msg) {
  if (buffer == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "no payload");
  grpc::ByteBuffer copy(*buffer);  // shares the slices: no bytes are copied
  grpc::Status parsed =
      grpc::GenericDeserialize<grpc::ProtoBufferReader, google::protobuf::Message>(buffer, msg);
  if (parsed.ok()) return parsed;
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (copy.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  msg->Clear();
  msg->GetReflection()->MutableUnknownFields(msg)->AddLengthDelimited(
      kParseFailureField, Diagnose(msg->GetDescriptor(), bytes));
  return grpc::Status::OK;
}

}  // namespace internal
}  // namespace arbiter::v1
