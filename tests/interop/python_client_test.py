#!/usr/bin/python3
"""Interop: a Python client nobody here wrote (Debian's python3-grpcio, stubs
generated from proto/ at test time by python3-grpc-tools) against a local
suite started by with_cluster (addresses in $ARBITER_*_ADDRESS).

Creates a tenant, pushes a policy, writes facts, then Authorize (allowed and
denied, read-your-writes), List, Actions, health, and one bad request's status
code and message. Over TLS with a client certificate when $ARBITER_TLS_CA,
$ARBITER_TLS_CERT and $ARBITER_TLS_KEY are set (with_cluster --tls). Run with
/usr/bin/python3 (the pyenv python3 has no grpc).
"""
import glob
import os
import subprocess
import sys
import tempfile

SOURCE = os.environ["ARBITER_SOURCE_DIR"]
HEALTH_DIR = "/usr/share/grpc-proto/grpc/health/v1"


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def generate_stubs(out):
    """protoc for proto/arbiter/v1/*.proto and the standard health.proto."""
    try:
        import grpc_tools  # noqa: F401
    except ImportError:
        fail("grpc_tools is missing: run scripts/install_deps.sh (python3-grpc-tools)")
    protos = sorted(glob.glob(os.path.join(SOURCE, "proto/arbiter/v1/*.proto")))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(SOURCE, "proto"),
                    "--python_out", out, "--grpc_python_out", out] + protos, check=True)
    # -I at health.proto's own folder: a generated `grpc/` package would
    # shadow grpcio.
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", HEALTH_DIR,
                    "--python_out", out, "--grpc_python_out", out,
                    os.path.join(HEALTH_DIR, "health.proto")], check=True)
    sys.path.insert(0, out)


def channel(grpc, address):
    """A TLS channel when with_cluster --tls set $ARBITER_TLS_*, else plaintext."""
    if not os.environ.get("ARBITER_TLS_CA"):
        return grpc.insecure_channel(address)

    def read(name):
        with open(os.environ[name], "rb") as f:
            return f.read()
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(
        root_certificates=read("ARBITER_TLS_CA"), private_key=read("ARBITER_TLS_KEY"),
        certificate_chain=read("ARBITER_TLS_CERT")))


def main():
    try:
        import grpc
    except ImportError:
        fail("grpcio is missing: run scripts/install_deps.sh (python3-grpcio) and use /usr/bin/python3")
    stubs = tempfile.mkdtemp(dir=os.environ.get("ARBITER_TEST_TMPDIR"))
    generate_stubs(stubs)
    from arbiter.v1 import log_pb2, log_pb2_grpc, reader_pb2, reader_pb2_grpc, types_pb2
    import health_pb2
    import health_pb2_grpc

    def V(t, i):
        return types_pb2.Value(type=t, id=i)

    def fact(predicate, *args):
        return types_pb2.Fact(predicate=predicate, args=[V(*a.split(":", 1)) for a in args])

    timeout = 10.0
    tenant = "python-interop"
    # Every call carries the API key as gRPC metadata (docs/SECURITY.md).
    md = (("authorization", "Bearer " + os.environ["ARBITER_KEY"]),)
    with channel(grpc, os.environ["ARBITER_LOG_ADDRESS"]) as log_channel, \
            channel(grpc, os.environ["ARBITER_READER_ADDRESS"]) as reader_channel:
        log = log_pb2_grpc.LogServiceStub(log_channel)
        reader = reader_pb2_grpc.ReaderServiceStub(reader_channel)
        health = health_pb2_grpc.HealthStub(reader_channel)

        status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout, metadata=md).status
        if status != health_pb2.HealthCheckResponse.SERVING:
            fail("reader health: %s" % status)

        log.CreateTenant(log_pb2.CreateTenantRequest(tenant=tenant, request_id="py-1"), timeout=timeout, metadata=md)
        with open(os.path.join(SOURCE, "tests/data/policies/github.polar")) as f:
            policy = log.SetPolicy(log_pb2.SetPolicyRequest(
                tenant=tenant, source=f.read(), filename="github.polar"), timeout=timeout, metadata=md)
        if policy.offset == 0:
            fail("SetPolicy returned offset 0")
        write = log.Write(log_pb2.WriteRequest(tenant=tenant, operations=[
            log_pb2.WriteOperation(insert=fact("has_role", "User:alice", "String:admin",
                                               "Organization:acme")),
            log_pb2.WriteOperation(insert=fact("has_relation", "Repository:anvils", "String:parent",
                                               "Organization:acme")),
            log_pb2.WriteOperation(insert=fact("has_relation", "Repository:tools", "String:parent",
                                               "Organization:acme")),
            log_pb2.WriteOperation(insert=fact("has_role", "User:bob", "String:reader",
                                               "Repository:anvils")),
        ], request_id="py-facts-1"), timeout=timeout, metadata=md)
        at_least = types_pb2.Consistency(at_least=write.consistency_token)

        def authorize(user, action, repo):
            return reader.Authorize(reader_pb2.AuthorizeRequest(
                tenant=tenant, actor=V("User", user), action=action,
                resource=V("Repository", repo), consistency=at_least), timeout=timeout, metadata=md)

        allowed = authorize("alice", "push", "anvils")
        if not allowed.allowed:
            fail("alice should push to anvils")
        if allowed.evaluation.offset < write.offset:
            fail("read-your-writes: evaluated at %d < %d" % (allowed.evaluation.offset, write.offset))
        if authorize("bob", "push", "anvils").allowed:
            fail("bob should not push to anvils")
        if not authorize("bob", "read", "anvils").allowed:
            fail("bob should read anvils")

        listed = reader.List(reader_pb2.ListRequest(
            tenant=tenant, actor=V("User", "alice"), action="push", resource_type="Repository",
            consistency=at_least), timeout=timeout, metadata=md)
        if list(listed.resource_ids) != ["anvils", "tools"]:
            fail("List: %s" % list(listed.resource_ids))
        actions = reader.Actions(reader_pb2.ActionsRequest(
            tenant=tenant, actor=V("User", "bob"), resource=V("Repository", "anvils"),
            consistency=at_least), timeout=timeout, metadata=md)
        if list(actions.actions) != ["read"]:
            fail("Actions: %s" % list(actions.actions))

        # A bad request: the actor has no type.
        try:
            reader.Authorize(reader_pb2.AuthorizeRequest(
                tenant=tenant, actor=types_pb2.Value(id="alice"), action="read",
                resource=V("Repository", "anvils")), timeout=timeout, metadata=md)
            fail("an actor without a type was accepted")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.INVALID_ARGUMENT or "actor.type" not in e.details():
                fail("bad request: %s %r" % (e.code(), e.details()))
        # No key: UNAUTHENTICATED, and nothing is written.
        try:
            log.Write(log_pb2.WriteRequest(tenant=tenant, operations=[
                log_pb2.WriteOperation(insert=fact("is_public", "Repository:x"))]), timeout=timeout)
            fail("a write without an API key was accepted")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNAUTHENTICATED:
                fail("no key: %s %r" % (e.code(), e.details()))
        # An unknown tenant.
        try:
            log.Write(log_pb2.WriteRequest(tenant="no-such-tenant", operations=[
                log_pb2.WriteOperation(insert=fact("is_public", "Repository:x"))]), timeout=timeout, metadata=md)
            fail("a write to an unknown tenant was accepted")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                fail("unknown tenant: %s %r" % (e.code(), e.details()))
    print("python interop: ok (grpcio %s)" % grpc.__version__)


if __name__ == "__main__":
    main()
