#!/usr/bin/python3
"""Checks that proto/etcd declares etcd's messages as etcd does: every field
and enum value of proto/etcd/{etcdserverpb/rpc,mvccpb/kv}.proto has the same
name, number and type in etcd 3.4's own API files (Debian's
golang-etcd-server-dev, of which scripts/install_deps.sh keeps the two files in
.cache/etcd-api-3.4.23).
  scripts/check_etcd_proto.py [SOURCE_DIR]
"""
import os
import re
import sys

ETCD_API = ".cache/etcd-api-3.4.23"


def fields(path):
    """{(Message[.Nested], name): (number, type)} of a .proto file."""
    text = re.sub(r"//.*", "", open(path).read())
    text = re.sub(r"\[[^\]]*\]", "", text)  # options such as (gogoproto.nullable)
    out, stack = {}, []
    for m in re.finditer(r"(message|enum|oneof|service)\s+(\w+)\s*\{|\}|"
                         r"(\w[\w.]*\s+)?(\w+)\s*=\s*(\d+)\s*;", text):
        if m.group(1):
            stack.append((m.group(1), m.group(2)))
        elif m.group(0) == "}":
            if stack:
                stack.pop()
        else:
            scope = [n for k, n in stack if k in ("message", "enum")]
            if scope:
                out[(".".join(scope), m.group(4))] = (m.group(5), (m.group(3) or "").strip())
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    ours = {**fields(os.path.join(src, "proto/etcd/etcdserverpb/rpc.proto")),
            **fields(os.path.join(src, "proto/etcd/mvccpb/kv.proto"))}
    etcd = os.path.join(src, ETCD_API)
    theirs_files = [os.path.join(etcd, "etcdserver/etcdserverpb/rpc.proto"),
                    os.path.join(etcd, "mvcc/mvccpb/kv.proto")]
    for f in theirs_files:
        if not os.path.exists(f):
            print(f"{f} is missing: run scripts/install_deps.sh")
            return 1
    theirs = {**fields(theirs_files[0]), **fields(theirs_files[1])}
    bad = 0
    for key, (number, kind) in sorted(ours.items()):
        if key not in theirs:
            print(f"{key[0]}.{key[1]}: not in etcd's API")
            bad += 1
        elif theirs[key][0] != number or theirs[key][1].split(".")[-1] != kind.split(".")[-1]:
            print(f"{key[0]}.{key[1]}: ours {kind} = {number}, etcd's {theirs[key][1]} = "
                  f"{theirs[key][0]}")
            bad += 1
    print(f"checked {len(ours)} fields and enum values against etcd 3.4's API: "
          f"{'ok' if not bad else f'{bad} differ'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
