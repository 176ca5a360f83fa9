// `meanwhile mcp` against hostile or unlucky clients (issue 9): deep nesting, ids past 64 bits,
// input closed right after the requests, blocking waits next to control calls, a process limit
// used up by jobs, a client that never reads.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, test } from 'node:test';

import { eventually, makeWorkspace, peakRss, sleep, spawnRaw } from './helpers.mjs';

const MiB = 1024 * 1024;
let raw;
afterEach(() => {
  if (raw) {
    assert.deepEqual(raw.notStdoutProtocol, [], 'stdout carries nothing but JSON-RPC');
    raw.kill();
  }
  raw = undefined;
});

const line = (message) => JSON.stringify({ jsonrpc: '2.0', ...message });
const initialize = (id = 0) =>
  line({
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
const call = (id, name, args) => line({ id, method: 'tools/call', params: { name, arguments: args } });

// Several tests start more than one `sleep 300`: each is meant as a job of its own.
async function startJob(id, command = 'sleep 300') {
  const run = await raw.request(id, 'tools/call', {
    name: 'background_run',
    arguments: { command, allow_duplicate: true },
  });
  return run.result.structuredContent.task_id;
}

describe('input', () => {
  test('arguments nested 100,000 deep are refused with -32600 and the server stays up', async () => {
    raw = spawnRaw(makeWorkspace('deep'));
    await raw.initialize();
    const nested = '['.repeat(100000) + ']'.repeat(100000);
    await raw.writeLine(
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"background_output","arguments":{"task_id":${nested}}}}`,
    );
    const refused = await raw.next((m) => m.error?.code === -32600, 'a nesting error');
    assert.equal(refused.id, null);
    assert.match(refused.error.message, /nested deeper than 64 levels/);
    assert.deepEqual((await raw.request(2, 'ping')).result, {}, 'the server still answers');
  });

  test('ids come back exactly as sent; ids past 64 bits are refused, never merged', async () => {
    raw = spawnRaw(makeWorkspace('ids'), { keepLines: true });
    await raw.initialize();
    // JSON.parse cannot hold these: the raw lines are compared.
    for (const id of ['9007199254740993', '18446744073709551615', '-9223372036854775808']) {
      await raw.writeLine(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
    }
    for (const id of ['18446744073709551616', '18446744073709551617']) {
      await raw.writeLine(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
    }
    await raw.request('last', 'ping');  // answered in order after the others (all on one thread)
    const answers = raw.lines.filter((l) => !l.includes('"last"') && !l.includes('"id":0,'));
    assert.deepEqual(answers.slice(0, 3), [
      '{"id":9007199254740993,"jsonrpc":"2.0","result":{}}',
      '{"id":18446744073709551615,"jsonrpc":"2.0","result":{}}',
      '{"id":-9223372036854775808,"jsonrpc":"2.0","result":{}}',
    ]);
    const refused = answers.slice(3).map((l) => JSON.parse(l));
    assert.equal(refused.length, 2);
    for (const message of refused) {
      assert.equal(message.id, null);
      assert.equal(message.error.code, -32600);
      assert.match(message.error.message, /64 bits/);
    }
  });
});

describe('stdin closed right after the requests', () => {
  test('everything read is answered, then the server stops', async () => {
    raw = spawnRaw(makeWorkspace('eof'));
    const closedAt = Date.now();
    // docs/MCP.md's own usage: printf '...' | meanwhile mcp
    await raw.write(
      [
        initialize(0),
        line({ method: 'notifications/initialized' }),
        line({ id: 1, method: 'tools/list' }),
        call(2, 'background_run', { command: 'sleep 300' }),
        call(3, 'check_background', {}),
        call(4, 'background_wait', { timeout: 60 }),
      ].join('\n') + '\n',
    );
    raw.child.stdin.end();
    const exit = await raw.exited;
    if (!raw.child.stdout.readableEnded) await new Promise((r) => raw.child.stdout.once('end', r));
    const answered = raw.received.filter((m) => 'id' in m && !('method' in m)).map((m) => m.id);
    assert.deepEqual(answered.sort(), [0, 1, 2, 3, 4], `stderr: ${raw.stderr}`);
    assert.ok(raw.received.find((m) => m.id === 2).result.structuredContent.task_id);
    // A wait still running gets what it has within the drain budget (1 s), then the jobs die.
    assert.ok(exit.at - closedAt < 4000, `exited ${exit.at - closedAt} ms after stdin closed`);
    assert.equal(exit.code, 0);
  });
});

describe('blocking waits', () => {
  test('check_background and background_kill are answered at once while 20 waits block', async () => {
    raw = spawnRaw(makeWorkspace('lanes'));
    await raw.initialize();
    const waited = await startJob('a');
    const other = await startJob('b');
    for (let i = 0; i < 20; i++) {
      await raw.send({
        id: `w${i}`,
        method: 'tools/call',
        params: { name: 'background_wait', arguments: { task_ids: [waited], timeout: 30 } },
      });
    }
    const askedAt = Date.now();
    const check = await raw.request('check', 'tools/call', { name: 'check_background', arguments: {} }, 2000);
    assert.match(check.result.content[0].text, /running/);
    const kill = await raw.request(
      'kill',
      'tools/call',
      { name: 'background_kill', arguments: { task_id: other } },
      2000,
    );
    assert.notEqual(kill.result.isError, true, kill.result.content[0].text);
    assert.ok(Date.now() - askedAt < 2000, `control took ${Date.now() - askedAt} ms`);
    assert.equal(raw.received.filter((m) => String(m.id).startsWith('w')).length, 0, 'the waits still block');

    await raw.request('end', 'tools/call', { name: 'background_kill', arguments: { task_id: waited } }, 2000);
    for (let i = 0; i < 20; i++) {
      const done = await raw.response(`w${i}`, 5000);
      assert.ok(done.result, JSON.stringify(done));
    }
  });
});

// Every task (thread or process) running as `uid`: what RLIMIT_NPROC counts.
function tasksOf(uid) {
  let count = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(status.match(/^Uid:\s+(\d+)/m)[1]) !== uid) continue;
      count += Number(status.match(/^Threads:\s+(\d+)/m)[1]);
    } catch {
      // gone meanwhile
    }
  }
  return count;
}

function hasPrlimit() {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('process limit', () => {
  // RLIMIT_NPROC binds only a user without CAP_SYS_RESOURCE: the server runs as a uid of its own.
  const why =
    process.getuid() !== 0
      ? 'needs root, to run the server as an unprivileged uid whose process limit binds'
      : !hasPrlimit()
        ? 'needs prlimit (util-linux)'
        : false;
  if (why) console.log(`skipped: the process-limit test ${why}`);
  test('with RLIMIT_NPROC used up, 20 background_waits get busy answers, not an abort', { skip: why }, async () => {
    let uid = 0;
    for (let candidate = 47000 + (process.pid % 1000); ; candidate++) {
      if (tasksOf(candidate) === 0) {
        uid = candidate;
        break;
      }
    }
    const asUid = async (wrap) => {
      const workspace = makeWorkspace('nproc');
      fs.chownSync(workspace, uid, uid);
      raw = spawnRaw(workspace, {
        spawn: { uid, gid: uid, env: { ...process.env, HOME: workspace } },
        wrap,
        args: ['--all-structured'],
      });
      await raw.initialize();
      return startJob('run');
    };
    // Lowering one's own limit needs no privilege (raising another process's would need
    // CAP_SYS_RESOURCE): a first server shows how many tasks it has with its job running, the
    // second gets a limit of two tasks more.
    // A task can be transient right after a start (a process being spawned, one exiting):
    // the count is taken once two readings 200 ms apart agree.
    const settled = async () => {
      let last = -1;
      return eventually(async () => {
        const now = tasksOf(uid);
        const same = now === last;
        last = now;
        await sleep(200);
        return same ? now : 0;
      }, `the tasks of uid ${uid} settle`);
    };
    await asUid([]);
    const idle = await settled();
    raw.kill();
    await raw.exited;
    await eventually(() => tasksOf(uid) === 0, `the first server's tasks (uid ${uid}) gone`);
    const limit = idle + 2;
    const job = await asUid(['prlimit', `--nproc=${limit}:${limit}`, '--']);
    assert.equal(await settled(), idle, 'the second server runs as many tasks as the first');
    for (let i = 0; i < 20; i++) {
      await raw.send({
        id: `w${i}`,
        method: 'tools/call',
        params: { name: 'background_wait', arguments: { task_ids: [job], timeout: 30 } },
      });
    }
    // The first busy answer comes at once, while the waits that got a thread still block.
    const first = await raw.next((m) => m.error && String(m.id).startsWith('w'), 'a busy answer', 5000);
    raw.received.unshift(first);
    // Control still works (its thread exists from the start).
    const check = await raw.request('check', 'tools/call', { name: 'check_background', arguments: { task_id: job } });
    assert.equal(check.result.structuredContent.job.status, 'running');
    await raw.request('kill', 'tools/call', { name: 'background_kill', arguments: { task_id: job } });
    let busy = 0;
    for (let i = 0; i < 20; i++) {
      const answer = await raw.response(`w${i}`, 5000);
      if (answer.error) {
        assert.equal(answer.error.code, -32000);
        assert.match(answer.error.message, /Server busy: .*process limit \(ulimit -u\)/);
        busy++;
      } else {
        // The first wait to return takes the job's note; the others see it ended.
        const { events, ended } = answer.result.structuredContent;
        assert.equal((events[0] ?? ended[0])?.task_id, job, JSON.stringify(answer));
      }
    }
    assert.ok(busy >= 10 && busy < 20, `${busy} of 20 waits were busy`);
    assert.equal(raw.exit, undefined, `the server is alive; stderr: ${raw.stderr}`);
    assert.match(raw.stderr, /cannot start a blocking thread/);
  });
});

describe('a client that does not read', () => {
  test('the server stops reading instead of queueing answers without bound', async () => {
    // Under ASan freed memory waits in a 256 MiB quarantine by default, which the peak RSS
    // would count; a small quarantine measures what the server keeps (other builds ignore it).
    const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=8'].filter(Boolean).join(':');
    raw = spawnRaw(makeWorkspace('noread'), { spawn: { env: { ...process.env, ASAN_OPTIONS: asan } } });
    await raw.initialize();
    const job = await startJob('run', 'seq 1 20000');  // each full read answers ~72 KB
    await raw.request('wait', 'tools/call', { name: 'background_wait', arguments: { task_ids: [job] } });
    raw.stopReading();
    const before = peakRss(raw.child.pid);

    const count = 1500;  // ~105 MB of answers if they were all kept
    const read = (i) => call(`r${i}`, 'background_output', { task_id: job, mode: 'all' });
    // Written without waiting for 'drain': node buffers what the server does not read yet.
    raw.child.stdin.write(Array.from({ length: count }, (_, i) => read(i)).join('\n') + '\n');
    await raw.stderrMatching(/not reading its answers/, 'pause of the reader');

    raw.resume();
    for (let i = 0; i < count; i++) await raw.response(`r${i}`, 20000);
    const growth = peakRss(raw.child.pid) - before;
    console.log(`peak RSS growth over ${count} unread answers: ${(growth / MiB).toFixed(1)} MiB`);
    // Bounded by 4 MiB of queued answers and 32 requests in flight (a few times that under
    // sanitizers), against ~200 MiB when every answer was queued.
    assert.ok(growth < 64 * MiB, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  });
});
