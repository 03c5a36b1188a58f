#!/usr/bin/python3
"""The README's snippets, run against a local suite started by with_cluster,
so that the text and the code cannot drift apart.

A fenced code block right after a marker comment is a test:
  <!-- test:sh -->       run with bash from the repository root; a command
                         ending in `# → TEXT` must print TEXT
  <!-- test:python -->   run with /usr/bin/python3 beside stubs generated from
                         proto/; a line ending in `# → TEXT`: stdout has TEXT
  <!-- test:node -->     run with node from the repository root, modules from
                         scripts/node/node_modules; `// → TEXT` likewise
  <!-- test:grpcurl -->  must make the same calls (method, -d payload,
                         -emit-defaults) as the buf curl commands of the next
                         test:sh block; also run when grpcurl is installed
The README's default addresses (127.0.0.1:50051/50052/50053), `$PWD/build/`
and the demo's key file `$PWD/var/keys/operator.key` are replaced by the test
suite's. The sh blocks run as one terminal session would: each starts with
the `export` lines of the blocks before it, and without the suite's
$ARBITER_KEY (so a block that forgets the key fails); the python and node
blocks get $ARBITER_KEY, as a service gets its key from its environment.
First the demo is loaded twice with scripts/demo/load.sh (the second time
must not write anything).
"""
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SOURCE = os.environ["ARBITER_SOURCE_DIR"]
BINARY = os.environ["ARBITER_BINARY_DIR"]
CLI = os.environ["ARBITER_CLI"]
TMP = os.environ.get("ARBITER_TEST_TMPDIR") or tempfile.mkdtemp()
NODE_MODULES = os.path.join(SOURCE, "scripts/node/node_modules")
EXPECT = re.compile(r"\s+(?:#|//)\s*→\s*(.+?)\s*$")
failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, file=sys.stderr)


def substitute(text):
    text = text.replace("127.0.0.1:50051", os.environ["ARBITER_LOG_ADDRESS"])
    text = text.replace("127.0.0.1:50052", os.environ["ARBITER_WRITER_ADDRESS"])
    text = text.replace("127.0.0.1:50053", os.environ["ARBITER_READER_ADDRESS"])
    text = text.replace("$PWD/var/keys/operator.key", os.environ["ARBITER_KEY_FILE"])
    return text.replace("$PWD/build/", BINARY + "/")


def blocks(readme):
    """(kind, first line number, code) for each marked block."""
    lines = readme.split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"<!--\s*test:(\w+)\s*-->", lines[i].strip())
        i += 1
        if not m:
            continue
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not lines[i].startswith("```"):
            fail("README line %d: a test marker must be followed by a fenced block" % i)
            continue
        start = i + 2
        i += 1
        code = []
        while i < len(lines) and not lines[i].startswith("```"):
            code.append(lines[i])
            i += 1
        out.append((m.group(1), start, "\n".join(code) + "\n"))
    return out


def logical_lines(code, first_line):
    """Joins backslash continuations: [(line number, text)]."""
    out, current, start = [], [], None
    for n, line in enumerate(code.split("\n"), first_line):
        if start is None:
            start = n
        current.append(line)
        if not line.endswith("\\"):
            out.append((start, "\n".join(current)))
            current, start = [], None
    return out


def run(argv, cwd, what, env=None):
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        fail("%s exited with %d:\n%s%s" % (what, result.returncode, result.stdout, result.stderr))
    return result.stdout


def check_expectations(code, first_line, stdout, what):
    for n, line in enumerate(code.split("\n"), first_line):
        m = EXPECT.search(line)
        if m and m.group(1) not in stdout:
            fail("%s, README line %d: expected %r in the output" % (what, n, m.group(1)))


# The `export` lines of the sh blocks run so far (one terminal session).
session_exports = []


def run_sh(code, first_line):
    script = ["set -u", 'export PATH="%s/services/cli:$PATH"' % BINARY] + session_exports
    for n, text in logical_lines(code, first_line):
        if text.lstrip().startswith("export "):
            session_exports.append(text)
        m = EXPECT.search(text)
        if not m or text.lstrip().startswith("#"):
            script.append(text)
            continue
        command = text[:m.start()]
        script.append("__out=$(%s 2>&1); printf '%%s\\n' \"$__out\"\n"
                      "grep -qF -- %s <<<\"$__out\" || { echo 'README line %d: expected '%s >&2; "
                      "exit 1; }" % (command, shlex.quote(m.group(1)), n, shlex.quote(m.group(1))))
    env = {k: v for k, v in os.environ.items() if k not in ("ARBITER_KEY", "ARBITER_KEY_FILE")}
    run(["bash", "-c", "\n".join(script)], SOURCE, "sh block at README line %d" % first_line, env)


def python_stubs():
    out = os.path.join(TMP, "python")
    if not os.path.isdir(out):
        os.makedirs(out)
        protos = sorted(glob.glob(os.path.join(SOURCE, "proto/arbiter/v1/*.proto")))
        subprocess.run(["/usr/bin/python3", "-m", "grpc_tools.protoc", "-I",
                        os.path.join(SOURCE, "proto"), "--python_out", out,
                        "--grpc_python_out", out] + protos, check=True)
    return out


def run_python(code, first_line):
    stubs = python_stubs()
    path = os.path.join(stubs, "readme_snippet.py")
    with open(path, "w") as f:
        f.write(code)
    stdout = run(["/usr/bin/python3", path], stubs, "python block at README line %d" % first_line)
    check_expectations(code, first_line, stdout, "python block")


def run_node(code, first_line):
    for module in ("@grpc/grpc-js", "@grpc/proto-loader"):
        if not os.path.isdir(os.path.join(NODE_MODULES, module)):
            fail("%s is missing from scripts/node/node_modules: run scripts/install_deps.sh" % module)
            return
    path = os.path.join(TMP, "readme_snippet.js")
    with open(path, "w") as f:
        f.write(code)
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    stdout = run(["node", path], SOURCE, "node block at README line %d" % first_line, env)
    check_expectations(code, first_line, stdout, "node block")


def calls(code, tool):
    """The calls of a grpcurl block or of the buf curl lines of a sh block:
    sorted [(method, payload, emit_defaults)]."""
    found = []
    for _, text in logical_lines(code, 0):
        m = EXPECT.search(text)
        if m:
            text = text[:m.start()]
        words = shlex.split(text.replace("\\\n", " "), comments=True)
        if not words:
            continue
        if tool == "grpcurl" and words[0] != "grpcurl":
            continue
        if tool == "buf" and "$BUF" not in words[0] and "buf" not in words[0]:
            continue
        method, payload, defaults = None, {}, False
        for i, w in enumerate(words):
            if w in ("-d", "--data"):
                payload = json.loads(words[i + 1])
            elif w in ("-emit-defaults", "--emit-defaults"):
                defaults = True
            elif w in ("list", "--list-services"):
                method = "list"
            elif tool == "buf" and w.startswith("http://") and w.count("/") > 2:
                method = w.split("/", 3)[3]
        if tool == "grpcurl" and method is None:
            method = words[-1]
        if tool == "buf" and method is None:
            continue  # the BUF=... assignment
        found.append((method, json.dumps(payload, sort_keys=True), defaults))
    return sorted(found)


def log_head():
    out = subprocess.run([CLI, "status", "--json"], capture_output=True, text=True, timeout=30)
    return int(json.loads(out.stdout)["log"]["headOffset"])


def main():
    run(["bash", os.path.join(SOURCE, "scripts/demo/load.sh"), CLI], SOURCE, "scripts/demo/load.sh")
    head = log_head()
    run(["bash", os.path.join(SOURCE, "scripts/demo/load.sh"), CLI], SOURCE,
        "scripts/demo/load.sh (again)")
    if log_head() != head:
        fail("scripts/demo/load.sh is not idempotent: the log head moved from %d to %d"
             % (head, log_head()))

    with open(os.path.join(SOURCE, "README.md")) as f:
        found = blocks(f.read())
    kinds = [k for k, _, _ in found]
    for kind in ("sh", "python", "node", "grpcurl"):
        if kind not in kinds:
            fail("README has no <!-- test:%s --> block" % kind)
    for i, (kind, line, code) in enumerate(found):
        code = substitute(code)
        print("== README line %d: %s" % (line, kind))
        if kind == "sh":
            run_sh(code, line)
        elif kind == "python":
            run_python(code, line)
        elif kind == "node":
            run_node(code, line)
        elif kind == "grpcurl":
            following = [c for k, _, c in found[i + 1:] if k == "sh"]
            if not following or calls(code, "grpcurl") != calls(substitute(following[0]), "buf"):
                fail("the grpcurl block at README line %d and the buf curl block after it make "
                     "different calls:\n  %s\n  %s" % (line, calls(code, "grpcurl"),
                                                     following and calls(following[0], "buf")))
            if shutil.which("grpcurl"):
                run(["bash", "-c", code], SOURCE, "grpcurl block at README line %d" % line)
            else:
                print("(grpcurl is not installed: its calls were compared with buf curl's)")
        else:
            fail("README line %d: unknown test kind %r" % (line, kind))
    if failures:
        sys.exit(1)
    print("readme snippets: ok (%d blocks)" % len(found))


if __name__ == "__main__":
    main()
