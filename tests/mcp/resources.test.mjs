// Job logs as MCP resources, through the SDK client: the template, the live jobs listed, a read
// with a range, updates to a subscriber, and clear errors for a bad or unknown URI.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  McpError,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

import { connect, eventually, makeWorkspace } from './helpers.mjs';

describe('meanwhile mcp: job logs as resources', () => {
  let s;
  const updated = [];
  let listChanged = 0;
  before(async () => {
    s = await connect(makeWorkspace('resources'));
    s.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updated.push(n.params.uri);
    });
    s.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
      listChanged++;
    });
  });
  after(async () => {
    await s?.close();
  });

  test('the server offers resources with subscriptions and a log template', async () => {
    assert.deepEqual(s.client.getServerCapabilities().resources, {
      subscribe: true,
      listChanged: true,
    });
    const { resourceTemplates } = await s.client.listResourceTemplates();
    assert.equal(resourceTemplates.length, 1);
    assert.equal(resourceTemplates[0].uriTemplate, 'meanwhile://jobs/{id}/log');
    assert.equal(resourceTemplates[0].mimeType, 'text/plain');
  });

  test('live jobs are listed; a log reads whole or by range; a subscriber hears of the end', async () => {
    const run = await s.call('background_run', {
      command: 'for i in 1 2 3 4 5; do echo line-$i; done; sleep 0.5',
      label: 'counter',
    });
    const id = run.structuredContent.task_id;
    const uri = `meanwhile://jobs/${id}/log`;
    const { resources } = await s.client.listResources();
    const listed = resources.find((r) => r.uri === uri);
    assert.ok(listed, JSON.stringify(resources));
    assert.equal(listed.mimeType, 'text/plain');
    assert.match(listed.description, new RegExp(`\\[task ${id}\\] .*\\(counter\\)`));

    await s.client.subscribeResource({ uri });
    const whole = await eventually(async () => {
      const read = await s.client.readResource({ uri: `${uri}?all` });
      return read.contents[0].text.includes('line-5') ? read : null;
    }, 'all five lines logged');
    assert.equal(whole.contents[0].uri, `${uri}?all`);
    assert.equal(whole.contents[0].text, 'line-1\nline-2\nline-3\nline-4\nline-5\n');
    const tail = await s.client.readResource({ uri: `${uri}?tail=2` });
    assert.equal(tail.contents[0].text, 'line-4\nline-5\n');
    const head = await s.client.readResource({ uri: `${uri}?head=1` });
    assert.equal(head.contents[0].text, 'line-1\n');

    await eventually(() => updated.includes(uri), 'notifications/resources/updated at the end');
    assert.ok(listChanged > 0, 'the live list changed');
    const after = await s.client.listResources();
    assert.ok(!after.resources.some((r) => r.uri === uri), 'an ended job is no longer live');
    // An ended job's log still reads.
    const ended = await s.client.readResource({ uri });
    assert.match(ended.contents[0].text, /line-5/);
    await s.client.unsubscribeResource({ uri });
  });

  test('a malformed URI is -32602 and an unknown job -32002', async () => {
    for (const uri of [
      'meanwhile://jobs/abc/log',
      'meanwhile://jobs/1/output',
      'file:///etc/passwd',
      'meanwhile://jobs/1/log?tail=0',
      'meanwhile://jobs/1/log?tail=x',
    ]) {
      await assert.rejects(s.client.readResource({ uri }), (error) => {
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, -32602, uri);
        assert.match(error.message, /expected meanwhile:\/\/jobs\/\{id\}\/log/);
        return true;
      });
    }
    await assert.rejects(s.client.readResource({ uri: 'meanwhile://jobs/99999/log' }), (error) => {
      assert.equal(error.code, -32002);
      assert.match(error.message, /Resource not found: meanwhile:\/\/jobs\/99999\/log/);
      return true;
    });
    await assert.rejects(s.client.subscribeResource({ uri: 'meanwhile://jobs/99999/log' }), (e) =>
      e.code === -32002);
  });
});
