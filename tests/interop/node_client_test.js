// Interop: a Node client nobody here wrote (@grpc/grpc-js and
// @grpc/proto-loader, pinned in scripts/node/package-lock.json) against a
// local suite started by with_cluster (addresses in $ARBITER_*_ADDRESS).
// Same calls as the Python test: tenant, policy, facts, Authorize (allowed,
// denied, read-your-writes), List, Actions, one bad request, one call
// without an API key. Over TLS with a client certificate when
// $ARBITER_TLS_CA, $ARBITER_TLS_CERT and $ARBITER_TLS_KEY are set
// (with_cluster --tls).
'use strict';
const fs = require('fs');
const path = require('path');

const SOURCE = process.env.ARBITER_SOURCE_DIR;
const MODULES = path.join(SOURCE, 'scripts/node/node_modules');

function fail(message) {
  console.error('FAIL: ' + message);
  process.exit(1);
}

function load(name) {
  try {
    return require(path.join(MODULES, name));
  } catch (e) {
    fail(`${name} is missing from scripts/node/node_modules: run scripts/install_deps.sh (${e.message})`);
  }
}

const grpc = load('@grpc/grpc-js');
const protoLoader = load('@grpc/proto-loader');

const definition = protoLoader.loadSync(
    ['arbiter/v1/log.proto', 'arbiter/v1/reader.proto'],
    {includeDirs: [path.join(SOURCE, 'proto')], keepCase: true, longs: String, defaults: true, oneofs: true});
const v1 = grpc.loadPackageDefinition(definition).arbiter.v1;

const deadline = () => ({deadline: new Date(Date.now() + 10000)});
// Every call carries the API key as gRPC metadata (docs/SECURITY.md).
const keyed = () => {
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer ' + process.env.ARBITER_KEY);
  return md;
};
const call = (client, method, request, metadata = keyed()) => new Promise((resolve, reject) => {
  client[method](request, metadata, deadline(), (err, response) => (err ? reject(err) : resolve(response)));
});
const V = (word) => {
  const i = word.indexOf(':');
  return {type: word.slice(0, i), id: word.slice(i + 1)};
};
const insert = (predicate, ...args) => ({insert: {predicate, args: args.map(V)}});

async function main() {
  // TLS with a client certificate when with_cluster --tls set $ARBITER_TLS_*.
  const tls = process.env.ARBITER_TLS_CA;
  const credentials = tls
    ? grpc.credentials.createSsl(fs.readFileSync(tls), fs.readFileSync(process.env.ARBITER_TLS_KEY),
        fs.readFileSync(process.env.ARBITER_TLS_CERT))
    : grpc.credentials.createInsecure();
  const log = new v1.LogService(process.env.ARBITER_LOG_ADDRESS, credentials);
  const reader = new v1.ReaderService(process.env.ARBITER_READER_ADDRESS, credentials);
  const tenant = 'node-interop';
  try {
    await call(log, 'CreateTenant', {tenant, request_id: 'node-1'});
    const source = fs.readFileSync(path.join(SOURCE, 'tests/data/policies/github.polar'), 'utf8');
    await call(log, 'SetPolicy', {tenant, source, filename: 'github.polar'});
    const write = await call(log, 'Write', {
      tenant,
      request_id: 'node-facts-1',
      operations: [
        insert('has_role', 'User:alice', 'String:admin', 'Organization:acme'),
        insert('has_relation', 'Repository:anvils', 'String:parent', 'Organization:acme'),
        insert('has_relation', 'Repository:tools', 'String:parent', 'Organization:acme'),
        insert('has_role', 'User:bob', 'String:reader', 'Repository:anvils'),
      ],
    });
    const consistency = {at_least: write.consistency_token};
    const authorize = (user, action, repo) => call(reader, 'Authorize', {
      tenant, actor: V('User:' + user), action, resource: V('Repository:' + repo), consistency,
    });

    const allowed = await authorize('alice', 'push', 'anvils');
    if (!allowed.allowed) fail('alice should push to anvils');
    if (BigInt(allowed.evaluation.offset) < BigInt(write.offset)) {
      fail(`read-your-writes: evaluated at ${allowed.evaluation.offset} < ${write.offset}`);
    }
    if ((await authorize('bob', 'push', 'anvils')).allowed) fail('bob should not push to anvils');
    if (!(await authorize('bob', 'read', 'anvils')).allowed) fail('bob should read anvils');

    const listed = await call(reader, 'List', {
      tenant, actor: V('User:alice'), action: 'push', resource_type: 'Repository', consistency,
    });
    if (listed.resource_ids.join(',') !== 'anvils,tools') fail('List: ' + listed.resource_ids);
    const actions = await call(reader, 'Actions', {
      tenant, actor: V('User:bob'), resource: V('Repository:anvils'), consistency,
    });
    if (actions.actions.join(',') !== 'read') fail('Actions: ' + actions.actions);

    try {
      await call(reader, 'Authorize', {
        tenant, actor: {id: 'alice'}, action: 'read', resource: V('Repository:anvils'),
      });
      fail('an actor without a type was accepted');
    } catch (e) {
      if (e.code !== grpc.status.INVALID_ARGUMENT || !e.details.includes('actor.type')) {
        fail(`bad request: ${e.code} ${e.details}`);
      }
    }

    try {
      await call(reader, 'Authorize', {
        tenant, actor: V('User:alice'), action: 'read', resource: V('Repository:anvils'),
      }, new grpc.Metadata());
      fail('a call without an API key was accepted');
    } catch (e) {
      if (e.code !== grpc.status.UNAUTHENTICATED) fail(`no key: ${e.code} ${e.details}`);
    }
  } finally {
    // Close the channels so that the servers' graceful shutdown is not delayed.
    log.close();
    reader.close();
  }
  const version = require(path.join(MODULES, '@grpc/grpc-js/package.json')).version;
  console.log(`node interop: ok (@grpc/grpc-js ${version})`);
}

main().catch((e) => fail(e.stack || String(e)));
