"""EC2 Auto Scaling custom termination policy for Arbiter (issue #12).

A Lambda handler, standard library only, around `arbiter-fleet
termination-policy` (services/fleet/termination_policy.h): the binary polls
every host's writer, starts drains, and names only DRAINED hosts. This
wrapper adds the last line of defence: whatever goes wrong (the binary is
missing, crashes, runs out of time, prints something unexpected, or names an
instance that was not a candidate), the answer is {"InstanceIDs": []}, which
makes Auto Scaling ask again later. docs/OPERATIONS.md shows how to deploy it.

Environment:
  ARBITER_FLEET          the binary (default: bin/arbiter-fleet beside this file)
  ARBITER_INVENTORY      the inventory file, or
  ARBITER_INVENTORY_JSON the inventory itself
  ARBITER_KEY / ARBITER_KEY_FILE, ARBITER_TLS_CA / _CERT / _KEY: passed on
  ARBITER_MIN_SERVING_HOSTS (default 1)
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EMPTY = {"InstanceIDs": []}
# Auto Scaling waits about 2 s; keep room for starting the process.
MAX_BUDGET_MS = 1500


def _log(message):
    print("arbiter termination policy: " + message, file=sys.stderr)


def _command(inventory, budget_ms):
    binary = os.environ.get("ARBITER_FLEET") or os.path.join(HERE, "bin", "arbiter-fleet")
    argv = [binary]
    # A runtime tree (scripts/runtime_tree.sh) carries its own loader and
    # libraries, so it runs on any Linux, whatever glibc the Lambda has.
    loader = os.path.join(HERE, "lib", "ld-linux-x86-64.so.2")
    if os.path.exists(loader) and not os.environ.get("ARBITER_FLEET"):
        argv = [loader, "--library-path", os.path.join(HERE, "lib"), binary]
    return argv + [
        "termination-policy",
        "--inventory=" + inventory,
        "--budget=%dms" % budget_ms,
        "--min_serving_hosts=" + os.environ.get("ARBITER_MIN_SERVING_HOSTS", "1"),
    ]


def _checked(answer, event):
    """The binary's answer if it is well-formed and within the event."""
    ids = answer.get("InstanceIDs") if isinstance(answer, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("no InstanceIDs list in the answer")
    candidates = {i.get("InstanceId") for i in event.get("Instances", []) if isinstance(i, dict)}
    capacity = sum(int(c.get("Capacity", 0)) for c in event.get("CapacityToTerminate", [])
                   if isinstance(c, dict))
    unknown = [i for i in ids if i not in candidates]
    if unknown:
        raise ValueError("the answer names instances that were not candidates: %s" % unknown)
    if len(ids) > capacity:
        raise ValueError("the answer names %d instances, over the capacity of %d" %
                         (len(ids), capacity))
    return {"InstanceIDs": ids}


def handler(event, context):
    try:
        remaining = MAX_BUDGET_MS
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            remaining = min(remaining, context.get_remaining_time_in_millis() - 300)
        if remaining < 100:
            raise TimeoutError("no time left to decide")
        inventory = os.environ.get("ARBITER_INVENTORY")
        if not inventory:
            text = os.environ.get("ARBITER_INVENTORY_JSON")
            if not text:
                raise ValueError("neither ARBITER_INVENTORY nor ARBITER_INVENTORY_JSON is set")
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                f.write(text)
                inventory = f.name
        done = subprocess.run(_command(inventory, remaining), input=json.dumps(event),
                              capture_output=True, text=True, timeout=remaining / 1000 + 0.3)
        if done.stderr:
            _log(done.stderr.rstrip())
        answer = _checked(json.loads(done.stdout), event)
        _log("answer %s" % json.dumps(answer))
        return answer
    except Exception as e:  # fail closed, whatever it was
        _log("%s: %s: answering no instance" % (type(e).__name__, e))
        return EMPTY


if __name__ == "__main__":
    # Local use: the event on stdin, the answer on stdout.
    print(json.dumps(handler(json.load(sys.stdin), None)))
