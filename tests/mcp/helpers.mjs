// Shared by the tests of `meanwhile mcp`: temporary workspaces, an SDK client connected to the
// server, a raw JSON-RPC connection for malformed input, and small polling utilities.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  LoggingMessageNotificationSchema,
  TaskStatusNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

export const BIN = process.env.MEANWHILE_BIN;
if (!BIN || !fs.existsSync(BIN)) {
  throw new Error(
    `MEANWHILE_BIN must name the meanwhile executable (got ${JSON.stringify(BIN)}); ` +
      'ctest sets it, or run: MEANWHILE_BIN=build/debug/src/cli/meanwhile node --test tests/mcp',
  );
}

const workspaces = [];
export function makeWorkspace(name = 'ws') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `meanwhile-mcp-${name}-`));
  workspaces.push(dir);
  return fs.realpathSync(dir);
}
process.on('exit', () => {
  for (const dir of workspaces) fs.rmSync(dir, { recursive: true, force: true });
});

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls `probe` until it returns a truthy value or `timeoutMs` passes (then throws `what`).
export async function eventually(probe, what, timeoutMs = 5000, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(intervalMs);
  }
}

// True once `pid` no longer runs (gone, or a zombie waiting for a reaper other than us).
export function processGone(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (error.code === 'ESRCH') return true;
    throw error;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

// An SDK client connected to `meanwhile mcp` started in `workspace`, collecting the server's
// log messages, task status notifications and stderr.
export async function connect(workspace, extraArgs = []) {
  const transport = new StdioClientTransport({
    command: BIN,
    args: ['mcp', ...extraArgs],
    cwd: workspace,
    env: { ...process.env },
    stderr: 'pipe',
  });
  const session = { transport, messages: [], taskStatuses: [], stderr: '' };
  transport.stderr.setEncoding('utf8');
  transport.stderr.on('data', (chunk) => {
    session.stderr += chunk;
  });
  const client = new Client({ name: 'meanwhile-mcp-test', version: '1.0.0' });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    session.messages.push(n.params);
  });
  client.setNotificationHandler(TaskStatusNotificationSchema, (n) => {
    session.taskStatuses.push(n.params);
  });
  await client.connect(transport);
  session.client = client;
  session.pid = transport.pid;
  session.call = async (name, args = {}, options) => {
    const result = await client.callTool({ name, arguments: args }, undefined, options);
    return result;
  };
  session.close = () => client.close();
  return session;
}

// A connection that speaks raw lines, for what the SDK would never send. Options: `spawn`
// (extra child_process options, e.g. uid), `wrap` (a command line the server runs under, e.g.
// ['prlimit', '--nproc=8:8', '--']), `args` (after `meanwhile mcp`), `keepLines` (raw.lines keeps every stdout line as
// text, for what JSON.parse cannot show exactly, such as ids past 2^53). raw.stopReading() and
// raw.resume() make a client that does not read, then reads again.
export function spawnRaw(
  workspace,
  { spawn: spawnOptions = {}, wrap = [], keepLines = false, args = [] } = {},
) {
  const argv = [...wrap, BIN, 'mcp', ...args];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: workspace,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...spawnOptions,
  });
  const raw = { child, received: [], lines: [], notStdoutProtocol: [], stderr: '', waiters: [] };
  let buffer = '';
  const wakeAll = () => {
    for (const wake of raw.waiters.splice(0)) wake();
  };
  child.stdout.setEncoding('utf8');
  const onData = (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (keepLines) raw.lines.push(line);
      try {
        raw.received.push(JSON.parse(line));
      } catch {
        raw.notStdoutProtocol.push(line);  // anything but JSON on stdout is a bug
      }
    }
    wakeAll();
  };
  child.stdout.on('data', onData);
  child.stdout.on('end', wakeAll);
  raw.stopReading = () => {
    child.stdout.off('data', onData);
    child.stdout.pause();
  };
  raw.resume = () => {
    child.stdout.on('data', onData);
    child.stdout.resume();
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    raw.stderr += chunk;
    wakeAll();
  });
  // Waits (on the stream, not a timer) until stderr matches `pattern`.
  raw.stderrMatching = async (pattern, what, timeoutMs = 10000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(raw.stderr)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} on stderr within ${timeoutMs} ms: ${raw.stderr}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        raw.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  child.stdin.on('error', () => {});  // EPIPE after the server exits is expected in some tests
  raw.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      raw.exit = { code, signal, at: Date.now() };
      resolve(raw.exit);
      wakeAll();  // a waiter for a response learns that none will come
    });
  });
  raw.writeLine = (text) =>
    new Promise((resolve) => {
      if (child.stdin.write(text + '\n')) resolve();
      else child.stdin.once('drain', resolve);
    });
  raw.write = (chunk) =>
    new Promise((resolve) => {
      if (child.stdin.write(chunk)) resolve();
      else child.stdin.once('drain', resolve);
    });
  raw.send = (message) => raw.writeLine(JSON.stringify({ jsonrpc: '2.0', ...message }));
  // The first received message matching `predicate` (removed from the list).
  raw.next = async (predicate, what = 'a message', timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = raw.received.findIndex(predicate);
      if (index >= 0) return raw.received.splice(index, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0 || (raw.exit && raw.child.stdout.readableEnded)) {
        const why = raw.exit ? `the server exited (${JSON.stringify(raw.exit)})` : `within ${timeoutMs} ms`;
        throw new Error(
          `no ${what}: ${why}; received ${JSON.stringify(raw.received).slice(0, 2000)}; ` +
            `stderr: ${raw.stderr.slice(-2000)}`,
        );
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        raw.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  raw.response = (id, timeoutMs) =>
    raw.next((m) => m.id === id && !('method' in m), `response to ${id}`, timeoutMs);
  raw.request = async (id, method, params, timeoutMs) => {
    await raw.send({ id, method, ...(params === undefined ? {} : { params }) });
    return raw.response(id, timeoutMs);
  };
  raw.initialize = (protocolVersion = '2025-11-25') =>
    raw.request(0, 'initialize', {
      protocolVersion,
      capabilities: {},
      clientInfo: { name: 'raw-test', version: '1' },
    });
  raw.kill = () => {
    if (raw.child.exitCode === null && raw.child.signalCode === null) raw.child.kill('SIGKILL');
  };
  return raw;
}

// VmHWM (peak resident set) of a process, in bytes.
export function peakRss(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = status.match(/^VmHWM:\s+(\d+) kB/m);
  return match ? Number(match[1]) * 1024 : 0;
}
