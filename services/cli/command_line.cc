#include "services/cli/command_line.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace arbiter::cli {

bool ParsedArgs::Has(absl::string_view name) const {
  return flags_.find(name) != flags_.end();
}

std::string ParsedArgs::Get(absl::string_view name, absl::string_view fallback) const {
  auto it = flags_.find(name);
  if (it == flags_.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

std::vector<std::string> ParsedArgs::GetAll(absl::string_view name) const {
  auto it = flags_.find(name);
  return it == flags_.end() ? std::vector<std::string>() : it->second;
}

bool ParsedArgs::GetBool(absl::string_view name) const {
  auto it = flags_.find(name);
  return it != flags_.end() && !it->second.empty() && it->second.back() == "true";
}

absl::StatusOr<ParsedArgs> ParseArgs(std::span<const std::string> args,
                                     std::span<const FlagSpec> specs) {
  static const FlagSpec kHelp{.name = "help", .takes_value = false};
  auto find = [&](absl::string_view name) -> const FlagSpec* {
    if (name == "help") return &kHelp;
    auto it = std::find_if(specs.begin(), specs.end(),
                           [&](const FlagSpec& s) { return s.name == name; });
    return it == specs.end() ? nullptr : &*it;
  };

  ParsedArgs out;
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      out.positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "-h") {
      out.flags_["help"].push_back("true");
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag \"", arg, "\" (flags are written --name)"));
    }
    std::string body = arg.substr(2);
    std::string name = body, value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    const FlagSpec* spec = find(name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (spec->takes_value) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("flag --", name, " needs a value (--", name, "=",
                           spec->value_name.empty() ? "VALUE" : spec->value_name, ")"));
        }
        value = args[++i];
      }
    } else if (!has_value) {
      value = "true";
    } else if (value != "true" && value != "false") {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", name, " takes no value (or true/false), got \"", value, "\""));
    }
    auto& values = out.flags_[name];
    if (!values.empty() && !spec->repeated && spec->takes_value) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " given twice"));
    }
    values.push_back(std::move(value));
  }
  return out;
}

std::string FormatFlagHelp(std::span<const FlagSpec> specs) {
  std::vector<std::pair<std::string, std::string>> rows;
  size_t width = 0;
  for (const FlagSpec& s : specs) {
    std::string left = absl::StrCat("--", s.name);
    if (s.takes_value) absl::StrAppend(&left, "=", s.value_name.empty() ? "VALUE" : s.value_name);
    width = std::max(width, left.size());
    rows.emplace_back(std::move(left), s.help);
  }
  std::string out;
  for (const auto& [left, help] : rows) {
    absl::StrAppendFormat(&out, "  %-*s  %s\n", static_cast<int>(width), left, help);
  }
  return out;
}

}  // namespace arbiter::cli
