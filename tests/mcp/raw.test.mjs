// `meanwhile mcp` on a raw stream: what the SDK would never send, version negotiation, and how
// the server ends (stdin closed, SIGTERM).
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { eventually, makeWorkspace, peakRss, processGone, spawnRaw } from './helpers.mjs';

const MiB = 1024 * 1024;
let raw;
afterEach(() => {
  if (raw) {
    assert.deepEqual(raw.notStdoutProtocol, [], 'stdout carries nothing but JSON-RPC');
    raw.kill();
  }
  raw = undefined;
});

describe('malformed input', () => {
  test('bad JSON, bad messages and bad params get errors and the connection stays up', async () => {
    raw = spawnRaw(makeWorkspace('raw'));
    await raw.writeLine('this is not json');
    const parse = await raw.next((m) => m.error?.code === -32700, 'a parse error');
    assert.equal(parse.id, null);

    await raw.writeLine('{"jsonrpc":"2.0","id":7,"method":"tools/list"');  // cut short
    await raw.next((m) => m.error?.code === -32700, 'a parse error for a truncated message');

    // Before initialize only initialize and ping are served.
    assert.equal((await raw.request(1, 'tools/list')).error.code, -32600);
    assert.deepEqual((await raw.request(2, 'ping')).result, {});

    const init = await raw.initialize();
    assert.equal(init.result.protocolVersion, '2025-11-25');

    await raw.writeLine('[]');
    assert.equal((await raw.next((m) => m.error?.code === -32600, 'a batch error')).id, null);
    await raw.writeLine('{"jsonrpc":"1.0","id":3,"method":"ping"}');
    assert.equal((await raw.response(3)).error.code, -32600);
    await raw.writeLine('{"jsonrpc":"2.0","id":4}');
    assert.equal((await raw.response(4)).error.code, -32600);
    await raw.writeLine('{"jsonrpc":"2.0","id":null,"method":"ping"}');
    assert.equal((await raw.next((m) => m.error?.code === -32600, 'a null id error')).id, null);

    const unknown = await raw.request(5, 'no/such/method');
    assert.equal(unknown.error.code, -32601);
    assert.match(unknown.error.message, /no\/such\/method/);

    const noName = await raw.request(6, 'tools/call', { arguments: {} });
    assert.equal(noName.error.code, -32602);
    assert.match(noName.error.message, /name: required/);
    const badArgs = await raw.request(7, 'tools/call', { name: 'check_background', arguments: 3 });
    assert.equal(badArgs.error.code, -32602);
    assert.match(badArgs.error.message, /arguments: expected an object/);
    const noTask = await raw.request(8, 'tasks/get', {});
    assert.equal(noTask.error.code, -32602);
    assert.match(noTask.error.message, /taskId: required/);
    const badTtl = await raw.request(9, 'tools/call', {
      name: 'background_run',
      arguments: { command: 'true' },
      task: { ttl: 'soon' },
    });
    assert.match(badTtl.error.message, /task\.ttl/);
    const badLevel = await raw.request(10, 'logging/setLevel', { level: 'loud' });
    assert.equal(badLevel.error.code, -32602);
    assert.match(badLevel.error.message, /level/);
    const params = await raw.request(11, 'tools/list', [1, 2]);
    assert.equal(params.error.code, -32602);
    // A task on a tool that does not support tasks: -32601 as the spec says.
    const forbidden = await raw.request(12, 'tools/call', {
      name: 'check_background',
      arguments: {},
      task: {},
    });
    assert.equal(forbidden.error.code, -32601);

    // A tool's own argument check: an isError result naming the field.
    const missing = await raw.request(13, 'tools/call', { name: 'background_run', arguments: {} });
    assert.equal(missing.result.isError, true);
    assert.match(missing.result.content[0].text, /command/);

    // Notifications are never answered, even unknown or malformed ones.
    await raw.send({ method: 'notifications/whatever', params: { x: 1 } });
    await raw.send({ method: 'notifications/cancelled', params: { requestId: 12345 } });
    const list = await raw.request(14, 'tools/list');
    assert.equal(list.result.tools.length, 6);
    assert.equal(raw.received.length, 0, `unexpected messages: ${JSON.stringify(raw.received)}`);
  });

  test('a line over 10 MiB is refused without being buffered', async () => {
    raw = spawnRaw(makeWorkspace('big'));
    await raw.initialize();
    const before = peakRss(raw.child.pid);
    const chunk = Buffer.alloc(MiB, 'x');
    await raw.write('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"junk":"');
    const lineMiB = 192;
    for (let i = 0; i < lineMiB; i++) await raw.write(chunk);
    await raw.writeLine('"}}');
    const refused = await raw.next((m) => m.error?.code === -32600, 'a message-too-large error');
    assert.equal(refused.id, null);
    assert.match(refused.error.message, /too large/);
    assert.deepEqual((await raw.request(2, 'ping')).result, {}, 'the next message still works');
    // Buffered, the line would cost at least its size; refused, at most the 10 MiB limit (a few
    // times that under sanitizers, whose shadow memory follows the buffer).
    const growth = peakRss(raw.child.pid) - before;
    assert.ok(growth < (lineMiB / 2) * MiB, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  test('a line just under the limit is still read', async () => {
    raw = spawnRaw(makeWorkspace('under'));
    await raw.initialize();
    const padding = 'y'.repeat(9 * MiB);
    await raw.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { _meta: { padding } } }));
    assert.deepEqual((await raw.response(1, 10000)).result, {});
  });
});

describe('protocol versions', () => {
  test('a supported version is echoed; 2025-03-26 gets no tasks or output schemas', async () => {
    raw = spawnRaw(makeWorkspace('v0326'));
    const init = await raw.initialize('2025-03-26');
    assert.equal(init.result.protocolVersion, '2025-03-26');
    assert.equal(init.result.capabilities.tasks, undefined);
    const { tools } = (await raw.request(1, 'tools/list')).result;
    assert.ok(tools.every((t) => t.outputSchema === undefined && t.execution === undefined));
    const call = await raw.request(2, 'tools/call', {
      name: 'background_run',
      arguments: { command: 'true' },
    });
    assert.equal(call.result.structuredContent, undefined);
    assert.equal(call.result.content[0].type, 'text');
  });

  test('2025-06-18 gets output schemas but no tasks', async () => {
    raw = spawnRaw(makeWorkspace('v0618'));
    const init = await raw.initialize('2025-06-18');
    assert.equal(init.result.protocolVersion, '2025-06-18');
    assert.equal(init.result.capabilities.tasks, undefined);
    const { tools } = (await raw.request(1, 'tools/list')).result;
    assert.ok(tools.every((t) => t.execution === undefined));
    // By default the tools answered best by text have no output schema (sizes.test.mjs).
    const textOnly = ['background_output', 'background_wait', 'check_background'];
    for (const t of tools) {
      if (textOnly.includes(t.name)) assert.equal(t.outputSchema, undefined, t.name);
      else assert.equal(t.outputSchema?.type, 'object', t.name);
    }
  });

  test('an unknown version gets our latest; a second initialize is refused', async () => {
    raw = spawnRaw(makeWorkspace('vnew'));
    const bad = await raw.request(1, 'initialize', { capabilities: {} });
    assert.equal(bad.error.code, -32602);
    assert.match(bad.error.message, /protocolVersion: required/);
    const init = await raw.initialize('2099-01-01');
    assert.equal(init.result.protocolVersion, '2025-11-25');
    assert.ok(init.result.capabilities.tasks.requests.tools.call);
    assert.equal((await raw.initialize()).error.code, -32600);
  });
});

describe('shutdown', () => {
  async function startJob(workspace) {
    raw = spawnRaw(workspace, { args: ['--all-structured'] });
    await raw.initialize();
    await raw.send({ method: 'notifications/initialized' });
    const run = await raw.request(1, 'tools/call', {
      name: 'background_run',
      arguments: { command: 'sleep 300 & exec sleep 301' },
    });
    const id = run.result.structuredContent.task_id;
    const check = await eventually(async () => {
      const c = await raw.request(`c${Date.now()}`, 'tools/call', {
        name: 'check_background',
        arguments: { task_id: id },
      });
      const job = c.result.structuredContent.job;
      return job.pid > 0 && job.descendants.length > 0 && job;
    }, 'the job and its child to run');
    return [check.pid, ...check.descendants];
  }

  test('closing stdin kills the jobs and exits within 2 s', async () => {
    const pids = await startJob(makeWorkspace('eof'));
    const closedAt = Date.now();
    raw.child.stdin.end();
    const exit = await raw.exited;
    assert.ok(exit.at - closedAt < 2000, `exited ${exit.at - closedAt} ms after stdin closed`);
    assert.equal(exit.code, 0);
    await eventually(() => pids.every(processGone), `job processes ${pids} gone`, 2000);
  });

  test('SIGTERM kills the jobs and exits within 2 s', async () => {
    const pids = await startJob(makeWorkspace('term'));
    const signalledAt = Date.now();
    raw.child.kill('SIGTERM');
    const exit = await raw.exited;
    assert.ok(exit.at - signalledAt < 2000, `exited ${exit.at - signalledAt} ms after SIGTERM`);
    await eventually(() => pids.every(processGone), `job processes ${pids} gone`, 2000);
  });
});
