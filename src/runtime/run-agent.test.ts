import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { commandForAudit } from './run-agent.js';

describe('commandForAudit', () => {
  it('keeps an ordinary command whole, with no digest', () => {
    expect(commandForAudit(['npm', 'test', '--', '-t', 'x'])).toEqual({ command: ['npm', 'test', '--', '-t', 'x'] });
  });

  it('shortens a command line longer than an audit record allows, and records its size and SHA-256', () => {
    const command = ['sh', '-c', 'x'.repeat(100_000), ...Array.from({ length: 5000 }, (_, i) => `arg${i}`)];
    const { command: head, command_digest: digest } = commandForAudit(command);
    expect(Buffer.byteLength(JSON.stringify(head))).toBeLessThanOrEqual(16 * 1024);
    expect(head.slice(0, 2)).toEqual(['sh', '-c']);
    expect(head[2]).toMatch(/^x{1024}…\[100000 chars\]$/);
    expect(head.length).toBeLessThan(command.length);
    expect(digest).toEqual({
      bytes: Buffer.byteLength(JSON.stringify(command)),
      args: command.length,
      sha256: createHash('sha256').update(JSON.stringify(command)).digest('hex'),
    });
  });
});
