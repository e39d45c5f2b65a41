import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tokenIdentity } from '../identity/index.js';
import { gatewaySigningKeys } from './signing-keys.js';

// Issued by the code before identity stopped reading the audit key itself (commit 2022d08's
// identity/index.ts), from an audit.key of 32 bytes 0x2a: it must still verify, or every token
// already handed out would stop working after an upgrade.
const ISSUED_BEFORE =
  'eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCIsImtpZCI6InFXanJiU1cxZ0NSNzlzeHIifQ.eyJzY29wZSI6Im1jcCIsImlzcyI6IndhcmRlbiIsImF1ZCI6IndhcmRlbi1nYXRld2F5L2NvZGluZyIsInN1YiI6Im9sZC1hZ2VudCIsImlhdCI6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDAsImp0aSI6Ikx5RngyV0daT3htM215X016ZmhVY0EifQ.XRzOSucdlirHKyrrXNuRuiTQBCUhly1wrpeH_rauPnEQaIFq9w7DMY4oG9HurT6DMfB_7w4G4YmUsnYG8jRzCw';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function stateDirWithKey(byte: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-keys-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'audit.key'), Buffer.alloc(32, byte), { mode: 0o600 });
  return dir;
}

describe('gatewaySigningKeys', () => {
  it('tokens issued before the key moved out of identity still verify (same key, same kid)', async () => {
    const keys = gatewaySigningKeys(stateDirWithKey(0x2a));
    expect(keys.kid).toBe('qWjrbSW1gCR79sxr');
    expect(await tokenIdentity(ISSUED_BEFORE, keys)).toEqual({
      jti: 'LyFx2WGZOxm3my_MzfhUcA',
      exp: 1_700_003_600,
      subject: 'old-agent',
    });
  });

  it("another installation's key does not verify them", async () => {
    expect(await tokenIdentity(ISSUED_BEFORE, gatewaySigningKeys(stateDirWithKey(0x2b)))).toBeNull();
  });
});
