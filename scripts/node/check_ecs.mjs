// Validates the ECS files in deploy/ecs (ctest ecs_task_definitions):
//   * every *-task.json against task-definition.schema.json (written from
//     the ECS API reference; unknown fields are refused);
//   * what the deployment depends on, across files: the writer and the
//     readers share the host's data directory and the same placement (both
//     DAEMON services with the same constraint: readers run exactly where a
//     writer runs), never two writers on an instance (maximumPercent 100),
//     each reader's stopTimeout exceeds its --drain_grace plus 5 s for
//     in-flight calls, every container non-root on a read-only root.
// Exits 1 naming the file and the problem.
import Ajv from "ajv";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
const read = (name) => JSON.parse(readFileSync(join(dir, name), "utf8"));
const problems = [];
const check = (ok, message) => { if (!ok) problems.push(message); };

const ajv = new Ajv({ allErrors: true, strictTuples: false });
const validate = ajv.compile(read("task-definition.schema.json"));
const tasks = {};
for (const name of readdirSync(dir).filter((n) => n.endsWith("-task.json")).sort()) {
  const task = read(name);
  if (!validate(task)) {
    for (const e of validate.errors) {
      problems.push(`${name}: ${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`);
    }
  } else {
    console.log(`valid: ${name}`);
  }
  tasks[task.family] = { name, task };
}

for (const family of ["arbiter-log", "arbiter-writer", "arbiter-reader"]) {
  check(tasks[family], `no task definition of family ${family}`);
}
if (problems.length === 0) {
  const container = (f) => tasks[f].task.containerDefinitions[0];
  for (const { name, task } of Object.values(tasks)) {
    for (const c of task.containerDefinitions) {
      check(c.readonlyRootFilesystem === true, `${name}: ${c.name}: readonlyRootFilesystem must be true`);
      check(c.user && !/^0(:|$)|^root/.test(c.user), `${name}: ${c.name}: must run as a non-root user`);
      check(c.healthCheck, `${name}: ${c.name}: needs a healthCheck`);
    }
  }
  const hostPath = (f) => {
    const mount = container(f).mountPoints.find((m) => m.containerPath === "/var/lib/arbiter/host");
    const volume = mount && tasks[f].task.volumes.find((v) => v.name === mount.sourceVolume);
    return volume?.host?.sourcePath;
  };
  check(hostPath("arbiter-writer") && hostPath("arbiter-writer") === hostPath("arbiter-reader"),
        "the writer and the readers must bind-mount the same host directory at /var/lib/arbiter/host");
  const grace = container("arbiter-reader").command.find((a) => a.startsWith("--drain_grace="));
  const graceSeconds = grace ? Number(grace.replace("--drain_grace=", "").replace(/s$/, "")) : 5;
  check(container("arbiter-reader").stopTimeout >= graceSeconds + 5,
        `arbiter-reader: stopTimeout must be at least --drain_grace (${graceSeconds} s) + 5 s`);
  const placement = (x) => JSON.stringify(x.placementConstraints ?? []);
  check(placement(tasks["arbiter-writer"].task) === placement(tasks["arbiter-reader"].task),
        "the writer's and the readers' task placement constraints must be the same");
  const writerService = read("arbiter-writer-service.json");
  const readerService = read("arbiter-reader-service.json");
  check(writerService.schedulingStrategy === "DAEMON", "arbiter-writer-service: must be a DAEMON service");
  check(readerService.schedulingStrategy === "DAEMON", "arbiter-reader-service: must be a DAEMON service");
  check(placement(writerService) === placement(readerService),
        "the writer's and the readers' services must have the same placement constraints");
  check(writerService.deploymentConfiguration?.maximumPercent === 100,
        "arbiter-writer-service: maximumPercent must be 100 (never two writers on an instance)");
}
if (problems.length > 0) {
  for (const p of problems) console.error(`check_ecs: ${p}`);
  process.exit(1);
}
console.log("check_ecs: every task definition is valid");
