#ifndef ARBITER_SERVICES_CLI_COMMANDS_H_
#define ARBITER_SERVICES_CLI_COMMANDS_H_

// One function per `arbiter` command. Each reads its words and flags from the
// Context, makes its calls with the --timeout deadline, prints, and returns
// the exit code (context.h). The help text of each is in cli.cc.

#include "services/cli/context.h"

namespace arbiter::cli {

// write_commands.cc: through arbiter-log.
int RunTell(Context& ctx);
int RunDelete(Context& ctx);
int RunBatch(Context& ctx);
int RunImport(Context& ctx);  // streamed, resumable

// read_commands.cc: through arbiter-reader.
int RunAuthorize(Context& ctx);
int RunAuthorizeResources(Context& ctx);
int RunList(Context& ctx);
int RunActions(Context& ctx);
int RunQuery(Context& ctx);
int RunFacts(Context& ctx);
int RunExplain(Context& ctx);
int RunWatch(Context& ctx);
int RunExport(Context& ctx);

// policy_commands.cc.
int RunPolicyPush(Context& ctx);
int RunPolicyGet(Context& ctx);
int RunPolicyTest(Context& ctx);  // local: no server

// admin_commands.cc.
int RunStatus(Context& ctx);
int RunSnapshots(Context& ctx);
int RunTenants(Context& ctx);
int RunTenantsCreate(Context& ctx);
int RunHealth(Context& ctx);

// key_commands.cc: API keys, through arbiter-log.
int RunKeysCreate(Context& ctx);
int RunKeysList(Context& ctx);
int RunKeysRevoke(Context& ctx);
int RunKeysRotate(Context& ctx);

}  // namespace arbiter::cli

#endif  // ARBITER_SERVICES_CLI_COMMANDS_H_
