// What a model sees through each client: Claude Code and Codex show it structuredContent when
// there is one, Gemini CLI the text. So every tool's structured content is at most 1.2x its
// text (the same facts and hints, compactly), or the tool sends none and its text serves all
// clients: check_background, background_output and background_wait, whose JSON was 2-8x the
// text and lost its hints.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, makeWorkspace } from './helpers.mjs';

const TEXT_ONLY = ['background_output', 'background_wait', 'check_background'];
const text = (result) => result.content.map((c) => c.text).join('\n');

describe('meanwhile mcp: result sizes per tool (default mode)', () => {
  let s;
  const results = [];
  const record = (tool, result) => {
    results.push({ tool, result });
    return result;
  };
  before(async () => {
    s = await connect(makeWorkspace('sizes'));
  });
  after(async () => {
    await s?.close();
  });

  test('text-only tools list no outputSchema; the others do', async () => {
    const { tools } = await s.client.listTools();
    for (const tool of tools) {
      if (TEXT_ONLY.includes(tool.name)) assert.equal(tool.outputSchema, undefined, tool.name);
      else assert.equal(tool.outputSchema?.type, 'object', tool.name);
    }
  });

  test('every structured result is at most 1.2x its text', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const run = record('background_run', await s.call('background_run', {
        command: `echo start-${i}; sleep 1; echo done-${i}`,
        label: `job ${i}`,
      }));
      assert.ok(!run.isError, text(run));
      ids.push(run.structuredContent.task_id);
    }
    const server = record('background_run', await s.call('background_run', {
      command: 'echo listening; sleep 30',
      stdin: 'pipe',
      watch: 'listening',
    }));
    const serverId = server.structuredContent.task_id;
    record('check_background', await s.call('check_background', {}));
    record('check_background', await s.call('check_background', { task_id: ids[0] }));
    record('background_output', await s.call('background_output', { task_id: ids[1] }));
    record('background_wait', await s.call('background_wait', { task_ids: ids, timeout: 30 }));
    record('check_background', await s.call('check_background', {}));
    record('background_input', await s.call('background_input', { task_id: serverId, text: 'hi\n' }));
    record('background_kill', await s.call('background_kill', { task_id: serverId }));

    const seen = new Set();
    for (const { tool, result } of results) {
      seen.add(tool);
      const said = text(result).length;
      if (TEXT_ONLY.includes(tool)) {
        assert.equal(result.structuredContent, undefined, `${tool} sends text only`);
        continue;
      }
      assert.ok(result.structuredContent, `${tool} has structured content`);
      const json = JSON.stringify(result.structuredContent).length;
      assert.ok(json <= 1.2 * said, `${tool}: ${json} characters of JSON against ${said} of text`);
    }
    assert.equal(seen.size, 6, 'every tool was measured');
  });

  test('background_run carries the next step in both channels', async () => {
    const run = await s.call('background_run', { command: 'sleep 5' });
    assert.match(text(run), /next call of any meanwhile tool/);
    assert.match(run.structuredContent.next, /next meanwhile tool result/);
    await s.call('background_kill', { task_id: run.structuredContent.task_id });
  });
});
