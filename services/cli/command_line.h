#ifndef ARBITER_SERVICES_CLI_COMMAND_LINE_H_
#define ARBITER_SERVICES_CLI_COMMAND_LINE_H_

// A small parser for `arbiter <command> [words] [--flags]` (Abseil flags has
// no subcommands). Flags may appear anywhere after the command words:
//   --name=value     any flag that takes a value
//   --name value     the same, when the flag is declared to take a value
//   --name           a boolean flag (true); --name=true / --name=false
//   -h, --help       help
//   --               everything after it is a positional word
// A flag declared `repeated` may be given several times; any other flag
// given twice is an error, as is an unknown flag.
//
// Thread-compatible.

#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace arbiter::cli {

struct FlagSpec {
  std::string name;  // without the dashes, e.g. "tenant"
  bool takes_value = true;
  bool repeated = false;
  std::string value_name;  // for help, e.g. "NAME"
  std::string help;        // one line
};

class ParsedArgs {
 public:
  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(absl::string_view name) const;
  // The value of a value flag, or `fallback` if absent.
  std::string Get(absl::string_view name, absl::string_view fallback = "") const;
  // Every value of a repeated flag, in order.
  std::vector<std::string> GetAll(absl::string_view name) const;
  // A boolean flag: true when given as --name or --name=true.
  bool GetBool(absl::string_view name) const;

 private:
  friend absl::StatusOr<ParsedArgs> ParseArgs(std::span<const std::string>,
                                              std::span<const FlagSpec>);
  std::vector<std::string> positional_;
  std::map<std::string, std::vector<std::string>, std::less<>> flags_;
};

// INVALID_ARGUMENT naming the flag for an unknown flag, a missing value, a
// boolean flag with a value other than true/false, or a non-repeated flag
// given twice. "help" (also -h) is always known.
absl::StatusOr<ParsedArgs> ParseArgs(std::span<const std::string> args,
                                     std::span<const FlagSpec> specs);

// The flags' help block: one line per flag, aligned.
std::string FormatFlagHelp(std::span<const FlagSpec> specs);

}  // namespace arbiter::cli

#endif  // ARBITER_SERVICES_CLI_COMMAND_LINE_H_
