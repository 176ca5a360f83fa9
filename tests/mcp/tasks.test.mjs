// `meanwhile mcp` driven by the official MCP TypeScript SDK client: task-augmented tool calls
// (MCP 2025-11-25 tasks), and two servers sharing one workspace.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';

import { connect, eventually, makeWorkspace, processGone, sleep } from './helpers.mjs';

const text = (result) => result.content.map((c) => c.text).join('\n');

describe('tasks', () => {
  let s;
  before(async () => {
    s = await connect(makeWorkspace('tasks'), ['--all-structured']);
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
        {
          method: 'tools/call',
          params: { name: 'background_run', arguments: { command: `true ${i}` } },
        },
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
    const [a, b] = await Promise.all([
      connect(workspace, ['--all-structured']),
      connect(workspace, ['--all-structured']),
    ]);
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
