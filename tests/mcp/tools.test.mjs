// `meanwhile mcp` driven by the official MCP TypeScript SDK client over stdio: initialize,
// tools/list and the background tools, progress, cancellation, logging.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { McpError } from '@modelcontextprotocol/sdk/types.js';

import { connect, eventually, makeWorkspace, processGone, sleep } from './helpers.mjs';

const BACKGROUND_TOOLS = [
  'background_input',
  'background_kill',
  'background_output',
  'background_run',
  'background_wait',
  'check_background',
];

const text = (result) => result.content.map((c) => c.text).join('\n');

describe('meanwhile mcp with the SDK client', () => {
  let s;
  before(async () => {
    s = await connect(makeWorkspace('sdk'), ['--all-structured']);
  });
  after(async () => {
    await s?.close();
  });

  test('initialize advertises tools, logging and tasks', () => {
    assert.equal(s.client.getServerVersion().name, 'meanwhile');
    const caps = s.client.getServerCapabilities();
    assert.ok(caps.tools, 'tools capability');
    assert.ok(caps.logging, 'logging capability');
    assert.deepEqual(caps.tasks, {
      list: {},
      cancel: {},
      requests: { tools: { call: {} } },
    });
    assert.match(s.client.getInstructions(), /background_run/);
  });

  test('tools/list: the six background tools from the shared registry', async () => {
    const { tools } = await s.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), BACKGROUND_TOOLS);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const tool of tools) {
      assert.ok(tool.description.length > 40, `${tool.name} has a description`);
      assert.equal(tool.inputSchema.type, 'object');
      assert.equal(tool.outputSchema?.type, 'object', `${tool.name} has an outputSchema`);
      assert.equal(typeof tool.annotations?.readOnlyHint, 'boolean');
    }
    assert.deepEqual(byName.background_run.inputSchema.required, ['command']);
    assert.ok(byName.background_run.inputSchema.properties.timeout);
    assert.deepEqual(byName.background_run.execution, { taskSupport: 'optional' });
    for (const name of BACKGROUND_TOOLS.filter((n) => n !== 'background_run')) {
      assert.equal(byName[name].execution, undefined, `${name} is not a task tool`);
    }
    assert.equal(byName.check_background.annotations.readOnlyHint, true);
    assert.equal(byName.background_output.annotations.readOnlyHint, true);
    assert.equal(byName.background_kill.annotations.destructiveHint, true);
    assert.equal(byName.background_kill.annotations.readOnlyHint, false);
  });

  test('run, output since the last read, wait, kill', async () => {
    const run = await s.call('background_run', {
      command: 'echo one; sleep 0.3; echo two; exec sleep 30',
      label: 'counter',
    });
    assert.ok(!run.isError, text(run));
    const id = run.structuredContent.task_id;
    assert.match(id, /^\d+$/);

    let seen = '';
    await eventually(async () => {
      const out = await s.call('background_output', { task_id: id });
      seen += out.structuredContent.text;
      return seen.includes('two');
    }, 'both lines in the output');
    assert.match(seen, /one\n[^]*two/);
    const again = await s.call('background_output', { task_id: id });
    assert.equal(again.structuredContent.text, '', 'nothing new since the last read');
    assert.match(text(again), /no new output/);
    const all = await s.call('background_output', { task_id: id, mode: 'all' });
    assert.equal(all.structuredContent.text, 'one\ntwo\n');

    const wait = await s.call('background_wait', { task_ids: [id], timeout: 0.5 });
    assert.equal(wait.structuredContent.timed_out, true);
    assert.equal(wait.structuredContent.running[0].task_id, id);

    const kill = await s.call('background_kill', { task_id: id });
    assert.ok(!kill.isError, text(kill));
    assert.equal(kill.structuredContent.signalled, true);
    const check = await s.call('check_background', { task_id: id });
    assert.equal(check.structuredContent.job.status, 'killed');
    assert.ok(processGone(check.structuredContent.job.pid));
  });

  test('`sleep 300 & echo hi` finishes at once', async () => {
    const started = Date.now();
    const run = await s.call('background_run', { command: 'sleep 300 & echo hi' });
    const id = run.structuredContent.task_id;
    const wait = await s.call('background_wait', { task_ids: [id], timeout: 60 });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `background_wait returned after ${elapsed} ms`);
    const events = wait.structuredContent.events;
    const ended = [...events.map((e) => e.job), ...wait.structuredContent.ended];
    const job = ended.find((j) => j.task_id === id);
    assert.ok(job, `job ${id} reported: ${text(wait)}`);
    assert.equal(job.status, 'exited');
    assert.equal(job.exit_code, 0);
    const out = await s.call('background_output', { task_id: id, mode: 'all' });
    assert.equal(out.structuredContent.text, 'hi\n');
    // The leftover `sleep 300` belongs to the job: background_kill ends it.
    await s.call('background_kill', { task_id: id });
    await eventually(async () => {
      const check = await s.call('check_background', { task_id: id });
      return check.structuredContent.job.descendants.length === 0;
    }, 'the leftover sleep is gone');
  });

  test('finished jobs are announced as notifications/message', async () => {
    const run = await s.call('background_run', { command: 'echo announced', label: 'herald' });
    const id = run.structuredContent.task_id;
    const message = await eventually(
      () => s.messages.find((m) => m.data.includes(`[task ${id}]`)),
      `a log message for task ${id}`,
    );
    assert.equal(message.level, 'info');
    assert.equal(message.logger, 'meanwhile');
    assert.match(message.data, /herald/);
    assert.match(message.data, /announced/);
  });

  test('progress notifications while background_wait waits', async () => {
    const run = await s.call('background_run', { command: 'sleep 30' });
    const id = run.structuredContent.task_id;
    const progress = [];
    const wait = await s.call(
      'background_wait',
      { task_ids: [id], timeout: 2.5 },
      { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true, timeout: 20000 },
    );
    assert.equal(wait.structuredContent.timed_out, true);
    assert.ok(progress.length >= 1, `progress received: ${JSON.stringify(progress)}`);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i].progress > progress[i - 1].progress, 'progress increases');
    }
    assert.equal(progress[0].total, 2.5);
    assert.match(progress[0].message, /waiting/);
    await s.call('background_kill', { task_id: id });
  });

  test('notifications/cancelled ends a waiting background_wait at once', async () => {
    const run = await s.call('background_run', { command: 'sleep 30' });
    const id = run.structuredContent.task_id;
    const controller = new AbortController();
    const call = s.call('background_wait', { task_ids: [id], timeout: 60 }, {
      signal: controller.signal,
    });
    await sleep(300);
    const cancelledAt = Date.now();
    controller.abort('changed my mind');
    await assert.rejects(call);
    // The server stops the wait (and sends no response, as the spec asks); it says so on stderr.
    await eventually(
      () => /tools\/call \d+ \(background_wait\) cancelled/.test(s.stderr),
      'the server to end the cancelled wait',
      2000,
    );
    assert.ok(Date.now() - cancelledAt < 2000);
    // Still serving.
    const check = await s.call('check_background', { task_id: id });
    assert.equal(check.structuredContent.job.status, 'running');
    await s.call('background_kill', { task_id: id });
  });

  test('a blocking background_wait does not hold up other requests', async () => {
    const run = await s.call('background_run', { command: 'sleep 30', label: 'blocker' });
    const id = run.structuredContent.task_id;
    let waitDone = false;
    const wait = s.call('background_wait', { task_ids: [id], timeout: 30 }).then((r) => {
      waitDone = true;
      return r;
    });
    await sleep(200);
    // Several requests while the wait blocks: all answered, the wait still pending.
    const [check, list, output] = await Promise.all([
      s.call('check_background', { task_id: id }),
      s.call('check_background', {}),
      s.call('background_output', { task_id: id }),
    ]);
    await s.client.ping();
    assert.equal(check.structuredContent.job.status, 'running');
    assert.ok(list.structuredContent.jobs.some((j) => j.task_id === id));
    assert.equal(output.structuredContent.job_running, true);
    assert.equal(waitDone, false, 'the wait is still blocking');
    // Ending the job ends the wait.
    await s.call('background_kill', { task_id: id });
    const result = await wait;
    assert.equal(result.structuredContent.timed_out, false);
  });

  test('logging/setLevel filters the announcements', async () => {
    await s.client.setLoggingLevel('warning');
    try {
      const quiet = await s.call('background_run', { command: 'echo quiet' });
      const quietId = quiet.structuredContent.task_id;
      await s.call('background_wait', { task_ids: [quietId], timeout: 10 });
      const loud = await s.call('background_run', { command: 'echo loud; exit 4' });
      const loudId = loud.structuredContent.task_id;
      const message = await eventually(
        () => s.messages.find((m) => m.data.includes(`[task ${loudId}]`)),
        'a warning for the failed job',
      );
      assert.equal(message.level, 'warning');
      assert.match(message.data, /exited 4/);
      assert.ok(!s.messages.some((m) => m.data.includes(`[task ${quietId}]`)), 'info filtered out');
    } finally {
      await s.client.setLoggingLevel('info');
    }
  });

  test('invalid tool arguments: an isError result that names the field', async () => {
    const result = await s.call('background_run', { command: 42 });
    assert.equal(result.isError, true);
    assert.match(text(result), /command/);
    const unknown = await s.call('background_output', { task_id: '999999' });
    assert.equal(unknown.isError, true);
    assert.match(text(unknown), /unknown task/);
  });

  test('an unknown tool is a -32602 error', async () => {
    await assert.rejects(s.call('no_such_tool', {}), (error) => {
      assert.ok(error instanceof McpError);
      assert.equal(error.code, -32602);
      assert.match(error.message, /Unknown tool: no_such_tool/);
      return true;
    });
    // bash is in the registry but not one of the background tools the server exposes.
    await assert.rejects(s.call('bash', { command: 'true' }), /Unknown tool: bash/);
  });
});


describe('meanwhile mcp --max-events', () => {
  test('a client that never waits keeps the server bounded; background_wait says what was dropped', async () => {
    const s = await connect(makeWorkspace('bounded'), ['--max-events', '2', '--all-structured']);
    try {
      // Every tool result drains the notes, so they pile up only while no call is made: the
      // gate holds five jobs back until their calls are done, and the last job waits for them.
      const gate = await s.call('background_run', { command: 'sleep 0.5' });
      const gateId = gate.structuredContent.task_id;
      const ids = [];
      for (let i = 0; i < 5; i++) {
        const run = await s.call('background_run', { command: `true ${i}`, after: [gateId] });
        assert.ok(!run.isError, text(run));
        ids.push(run.structuredContent.task_id);
      }
      const last = await s.call('background_run', { command: 'true', after: ids });
      const lastId = last.structuredContent.task_id;
      const wait = await s.call('background_wait', { task_ids: [lastId], timeout: 30 });
      assert.ok(!wait.isError, text(wait));
      // Seven notes, at most two kept: the last job's (the wait's event) and the newest other.
      assert.equal(wait.structuredContent.events.length, 1);
      assert.equal(wait.structuredContent.since_last_call.length, 1);
      assert.equal(wait.structuredContent.dropped_events, 5);
      assert.match(text(wait), /5 older events were dropped[^]*check_background/);
    } finally {
      await s.close();
    }
  });
});
