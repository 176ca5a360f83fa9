// `meanwhile mcp` driven by the official MCP TypeScript SDK client over stdio.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';

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
    s = await connect(makeWorkspace('sdk'));
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

describe('tasks', () => {
  let s;
  before(async () => {
    s = await connect(makeWorkspace('tasks'));
    await s.client.listTools();  // lets the client know background_run supports tasks
  });
  after(async () => {
    await s?.close();
  });

  test('task-augmented background_run through callToolStream ends with the job result', async () => {
    const stream = s.client.experimental.tasks.callToolStream(
      { name: 'background_run', arguments: { command: 'echo from-a-task; sleep 0.5' } },
      CallToolResultSchema,
      { task: { ttl: 60000 } },
    );
    const seen = [];
    for await (const message of stream) seen.push(message);
    const types = seen.map((m) => m.type);
    assert.equal(types[0], 'taskCreated');
    assert.equal(types.at(-1), 'result', JSON.stringify(seen.at(-1)));
    const created = seen[0].task;
    assert.equal(created.ttl, 60000);
    assert.ok(created.pollInterval > 0);
    assert.ok(!Number.isNaN(Date.parse(created.createdAt)));
    const statuses = seen.filter((m) => m.type === 'taskStatus').map((m) => m.task.status);
    assert.equal(statuses.at(-1), 'completed');

    const result = seen.at(-1).result;
    assert.ok(!result.isError);
    assert.match(text(result), /from-a-task/);
    assert.equal(result.structuredContent.task_id, created.taskId);
    assert.equal(result.structuredContent.status, 'exited');
    assert.equal(result.structuredContent.exit_code, 0);
    assert.equal(result.structuredContent.output, 'from-a-task\n');
    assert.deepEqual(result._meta['io.modelcontextprotocol/related-task'], {
      taskId: created.taskId,
    });
    // The task id is the job id: the other tools work on it.
    const check = await s.call('check_background', { task_id: created.taskId });
    assert.equal(check.structuredContent.job.status, 'exited');
    await eventually(
      () => s.taskStatuses.find((t) => t.taskId === created.taskId && t.status === 'completed'),
      'notifications/tasks/status completed',
    );
  });

  test('a job that exits non-zero is a failed task whose result says why', async () => {
    const stream = s.client.experimental.tasks.callToolStream(
      { name: 'background_run', arguments: { command: 'echo oops; exit 3' } },
      CallToolResultSchema,
      { task: {} },
    );
    const seen = [];
    for await (const message of stream) seen.push(message);
    assert.equal(seen.at(-1).type, 'error');
    const taskId = seen[0].task.taskId;
    const task = await s.client.experimental.tasks.getTask(taskId);
    assert.equal(task.status, 'failed');
    assert.match(task.statusMessage, /exited with code 3/);
    const result = await s.client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent.exit_code, 3);
    assert.match(text(result), /oops/);
  });

  test('tasks/result blocks until the job ends', async () => {
    const { task } = await s.client.request(
      {
        method: 'tools/call',
        params: { name: 'background_run', arguments: { command: 'sleep 1; echo late' } },
      },
      CreateTaskResultSchema,
      { task: { ttl: 30000 } },
    );
    assert.equal(task.status, 'working');
    const started = Date.now();
    const result = await s.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    assert.ok(Date.now() - started >= 500, 'waited for the job');
    assert.equal(result.structuredContent.output, 'late\n');
    assert.equal((await s.client.experimental.tasks.getTask(task.taskId)).status, 'completed');
  });

  test('tasks/cancel kills the job and the task stays cancelled', async () => {
    const { task } = await s.client.request(
      { method: 'tools/call', params: { name: 'background_run', arguments: { command: 'sleep 60' } } },
      CreateTaskResultSchema,
      { task: { ttl: 60000 } },
    );
    const check = await s.call('check_background', { task_id: task.taskId });
    const pid = check.structuredContent.job.pid;
    assert.equal((await s.client.experimental.tasks.getTask(task.taskId)).status, 'working');

    const cancelled = await s.client.experimental.tasks.cancelTask(task.taskId);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal((await s.client.experimental.tasks.getTask(task.taskId)).status, 'cancelled');
    await eventually(() => processGone(pid), `job process ${pid} gone`, 2000);
    const result = await s.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent.status, 'killed');
    // A terminal task cannot be cancelled again: -32602.
    await assert.rejects(s.client.experimental.tasks.cancelTask(task.taskId), (error) => {
      assert.equal(error.code, -32602);
      return true;
    });
  });

  test('tasks/get of an unknown task is -32602', async () => {
    await assert.rejects(s.client.experimental.tasks.getTask('no-such-task'), (error) => {
      assert.equal(error.code, -32602);
      assert.match(error.message, /no task/);
      return true;
    });
  });

  test('ttl: a finished task is forgotten ttl after it ended', async () => {
    const { task } = await s.client.request(
      { method: 'tools/call', params: { name: 'background_run', arguments: { command: 'true' } } },
      CreateTaskResultSchema,
      { task: { ttl: 1000 } },
    );
    assert.equal(task.ttl, 1000);
    await eventually(async () => {
      const t = await s.client.experimental.tasks.getTask(task.taskId);
      return t.status === 'completed';
    }, 'the task to complete');
    await sleep(1300);
    await assert.rejects(s.client.experimental.tasks.getTask(task.taskId), (error) => {
      assert.equal(error.code, -32602);
      assert.match(error.message, /expired/);
      return true;
    });
  });

  test('tasks/list pages through every task with cursors', async () => {
    const ids = [];
    for (let i = 0; i < 55; i++) {
      const { task } = await s.client.request(
        { method: 'tools/call', params: { name: 'background_run', arguments: { command: 'true' } } },
        CreateTaskResultSchema,
        { task: {} },
      );
      ids.push(task.taskId);
    }
    const listed = [];
    let cursor;
    let pages = 0;
    do {
      const page = await s.client.experimental.tasks.listTasks(cursor);
      assert.ok(page.tasks.length <= 50);
      listed.push(...page.tasks.map((t) => t.taskId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.ok(pages >= 2, `${pages} pages`);
    for (const id of ids) assert.ok(listed.includes(id), `task ${id} listed`);
    assert.equal(new Set(listed).size, listed.length, 'no task listed twice');
    await assert.rejects(s.client.experimental.tasks.listTasks('bogus'), (error) => {
      assert.equal(error.code, -32602);
      return true;
    });
  });
});

describe('two servers on one workspace', () => {
  test('share the store without mixing up their jobs', async () => {
    const workspace = makeWorkspace('shared');
    const [a, b] = await Promise.all([connect(workspace), connect(workspace)]);
    try {
      const runs = async (s, tag) => {
        const ids = [];
        for (let i = 0; i < 5; i++) {
          const run = await s.call('background_run', { command: `echo ${tag}-${i}` });
          assert.ok(!run.isError, text(run));
          ids.push(run.structuredContent.task_id);
        }
        return ids;
      };
      const [idsA, idsB] = await Promise.all([runs(a, 'a'), runs(b, 'b')]);
      assert.equal(new Set([...idsA, ...idsB]).size, 10, 'ten distinct job ids');
      for (const [s, ids, tag] of [
        [a, idsA, 'a'],
        [b, idsB, 'b'],
      ]) {
        for (const [i, id] of ids.entries()) {
          await eventually(async () => {
            const check = await s.call('check_background', { task_id: id });
            return check.structuredContent.job.status === 'exited';
          }, `job ${id} to exit`);
          const out = await s.call('background_output', { task_id: id, mode: 'all' });
          assert.equal(out.structuredContent.text, `${tag}-${i}\n`);
        }
      }
      // Each sees the other's jobs in its list (one store), marked as not its own.
      const list = await a.call('check_background', {});
      const fromB = list.structuredContent.jobs.find((j) => j.task_id === idsB[0]);
      assert.ok(fromB, 'a lists b\'s job');
      assert.equal(fromB.ours, false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
