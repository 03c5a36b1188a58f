#ifndef ARBITER_SERVICES_CLI_CLI_H_
#define ARBITER_SERVICES_CLI_CLI_H_

// The `arbiter` command line: the command table, dispatch and help.
//
//   arbiter <command> [subcommand] [words...] [--flags]
//
// Each command is one function (commands.h) plus its help text and flags
// here. See the README's "CLI" section for the reference.
//
// Thread-compatible.

#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "services/cli/command_line.h"
#include "services/cli/context.h"

namespace arbiter::cli {

struct Command {
  std::string name;      // "tell", "policy push"
  std::string args;      // "PREDICATE VALUE..."
  std::string summary;   // one line, for `arbiter --help`
  std::string details;   // paragraphs and examples, for `arbiter <name> --help`
  int min_args = 0;
  int max_args = 0;      // -1: no limit
  std::vector<FlagSpec> flags;  // besides the common ones
  bool uses_server = true;      // false: no address/tenant flags in help
  int (*run)(Context& ctx) = nullptr;
};

// Every command, in help order.
std::span<const Command> Commands();

// Runs `arbiter` with `argv` (argv[0] is the program name). Returns the exit
// code; writes to `out` and `err` only.
int RunCli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
           absl::FunctionRef<const char*(const char*)> getenv, Terminal terminal = {});

// The help of one command, or of the whole CLI (command == nullptr).
std::string Help(const Command* command);

}  // namespace arbiter::cli

#endif  // ARBITER_SERVICES_CLI_CLI_H_
