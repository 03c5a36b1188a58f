// Validates Kubernetes manifests (a multi-document YAML stream on stdin, as
// `helm template` prints it) against the API schemas bundled in npm
// kubernetes-models: types, required fields, enums. Prints one line per
// object; exits 1 naming the object and the problem on the first failure.
// Used by scripts/check_chart.sh (ctest helm_chart).
import { parseAllDocuments } from "yaml";

const input = await new Promise((resolve) => {
  let text = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
});

let count = 0;
for (const doc of parseAllDocuments(input)) {
  if (doc.errors.length > 0) {
    console.error(`YAML: ${doc.errors[0].message}`);
    process.exit(1);
  }
  const object = doc.toJS();
  if (object === null) continue;  // an empty document
  const { apiVersion, kind } = object;
  const name = `${kind ?? "?"}/${object.metadata?.name ?? "?"}`;
  if (!apiVersion || !kind) {
    console.error(`${name}: apiVersion and kind are required`);
    process.exit(1);
  }
  // "apps/v1" -> kubernetes-models/apps/v1, "v1" -> kubernetes-models/v1.
  let module;
  try {
    module = await import(`kubernetes-models/${apiVersion}`);
  } catch (e) {
    console.error(`${name}: no schema for apiVersion ${apiVersion}`);
    process.exit(1);
  }
  const Model = module[kind];
  if (!Model) {
    console.error(`${name}: no schema for ${apiVersion} ${kind}`);
    process.exit(1);
  }
  try {
    new Model(object).validate();
  } catch (e) {
    console.error(`${name}: ${e.message}`);
    for (const detail of e.errors ?? []) {
      console.error(`  ${detail.instancePath ?? ""} ${detail.message ?? JSON.stringify(detail)}`);
    }
    process.exit(1);
  }
  console.log(`valid: ${apiVersion} ${name}`);
  ++count;
}
if (count === 0) {
  console.error("no objects on stdin");
  process.exit(1);
}
