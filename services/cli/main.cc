// arbiter: the command line of Arbiter (README "CLI"; `arbiter --help`).
// Wiring only: see cli.h for dispatch and commands.h for the commands.

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "services/cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return arbiter::cli::RunCli(
      args, std::cout, std::cerr, [](const char* name) -> const char* { return std::getenv(name); },
      arbiter::cli::Terminal{.out = isatty(STDOUT_FILENO) == 1,
                             .err = isatty(STDERR_FILENO) == 1});
}
