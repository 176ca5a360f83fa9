// What an MCP client's model learns without asking: the notes pending for the session ride on
// the next result of any meanwhile tool (the seed's drain), fields a client adds of its own are
// ignored rather than failing the call, and nothing promises a push the client never receives.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, eventually, makeWorkspace } from './helpers.mjs';

const text = (result) => result.content.map((c) => c.text).join('\n');

describe('meanwhile mcp: pending notes and client-added fields', () => {
  let s;
  before(async () => {
    // --all-structured: check_background's structured form carries the notes too.
    s = await connect(makeWorkspace('drain'), ['--all-structured']);
  });
  after(async () => {
    await s?.close();
  });

  test('a finished job is reported once, on the next result of any tool', async () => {
    const run = await s.call('background_run', { command: 'echo 42 passed', label: 'suite' });
    assert.ok(!run.isError, text(run));
    const id = run.structuredContent.task_id;
    // Any tool will do; a job this quick may even have ended before background_run answered.
    const carrying = text(run).includes('since your last call:')
      ? run
      : await eventually(async () => {
          const result = await s.call('check_background', {});
          return text(result).includes('since your last call:') ? result : null;
        }, 'a result that carries the finished note');
    const said = text(carrying);
    assert.match(said, new RegExp(`since your last call:\\n\\[task ${id}\\] .*exited 0`));
    assert.match(said, /42 passed/);
    const structured = carrying.structuredContent.since_last_call;
    assert.equal(structured.length, 1);
    assert.match(structured[0], new RegExp(`^\\[task ${id}\\]`));
    // Delivered once: the next result has nothing more to say about it.
    const next = await s.call('check_background', {});
    assert.doesNotMatch(text(next), /since your last call/);
    assert.equal(next.structuredContent.since_last_call, undefined);
  });

  test('notes of other jobs ride on a background_wait for one job', async () => {
    // `after` orders them, and the gate keeps the quick job from ending before its own
    // background_run answers: its note is pending when the wait for the slow one returns.
    const gate = await s.call('background_run', { command: 'sleep 0.3' });
    const gateId = gate.structuredContent.task_id;
    const quick = await s.call('background_run', { command: 'echo quick', after: [gateId] });
    const quickId = quick.structuredContent.task_id;
    const slow = await s.call('background_run', {
      command: 'sleep 0.2; echo slow',
      after: [quickId],
    });
    assert.ok(!slow.isError, text(slow));
    const slowId = slow.structuredContent.task_id;
    const waited = await s.call('background_wait', { task_ids: [slowId], timeout: 30 });
    const said = text(waited);
    assert.match(said, new RegExp(`\\[task ${slowId}\\] .*exited 0`));
    assert.match(said, /since your last call:\n/);
    assert.match(said.slice(said.indexOf('since your last call:')), new RegExp(`\\[task ${quickId}\\] \`echo quick\` exited 0`));
    assert.equal(waited.structuredContent.since_last_call.length, 2, 'the gate and the quick job');
  });

  test('one result carries at most 20 notes; the rest come with the next', async () => {
    await s.call('check_background', {});  // whatever earlier tests left pending
    const gate = await s.call('background_run', { command: 'sleep 0.5' });
    const ids = [];
    for (let i = 0; i < 25; i++) {
      const run = await s.call('background_run', {
        command: `true ${i}`,
        after: [gate.structuredContent.task_id],
      });
      ids.push(run.structuredContent.task_id);
    }
    const last = await s.call('background_run', { command: 'true last', after: ids });
    const waited = await s.call('background_wait', {
      task_ids: [last.structuredContent.task_id],
      timeout: 60,
    });
    // Pending besides the last job's own event: the gate's and the 25 jobs' notes.
    assert.equal(waited.structuredContent.since_last_call.length, 20);
    assert.match(text(waited), /\(6 more events wait for your next call of any meanwhile tool\)/);
    const next = await s.call('check_background', {});
    assert.equal(next.structuredContent.since_last_call.length, 6);
    assert.doesNotMatch(text(next), /more events wait/);
  });

  test('a field the schema does not know is ignored and named; wrong types still fail', async () => {
    // Gemini CLI adds wait_for_previous to every call.
    const listed = await s.call('check_background', { wait_for_previous: true });
    assert.ok(!listed.isError, text(listed));
    assert.match(text(listed), /ignored field wait_for_previous: this tool does not take it/);
    assert.deepEqual(listed.structuredContent.ignored_fields, ['wait_for_previous']);

    // A job that cannot end before background_run answers: the result says "started".
    const run = await s.call('background_run', { command: 'sleep 20', wait_for_previous: false });
    assert.ok(!run.isError, text(run));
    assert.match(text(run), /^started task \d+/);
    assert.match(text(run), /ignored field wait_for_previous/);
    await s.call('background_kill', { task_id: run.structuredContent.task_id });

    const wrong = await s.call('background_run', { command: 5, wait_for_previous: true });
    assert.equal(wrong.isError, true);
    assert.match(text(wrong), /command: expected a string, got 5/);
    const missing = await s.call('background_kill', { wait_for_previous: true });
    assert.equal(missing.isError, true);
    assert.match(text(missing), /task_id: required field is missing/);
  });

  test('descriptions and results promise no <background-results> block', async () => {
    const { tools } = await s.client.listTools();
    for (const tool of tools) {
      assert.doesNotMatch(JSON.stringify(tool), /background-results/, tool.name);
    }
    const run = await s.call('background_run', { command: 'sleep 5' });
    assert.doesNotMatch(text(run), /background-results/);
    assert.match(text(run), /next call of any meanwhile tool/);
    await s.call('background_kill', { task_id: run.structuredContent.task_id });
  });
});
