import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readLocalSettings, resolveDevSettings } from '../../../dev/settings';

describe('dev host settings', () => {
  const dirs: string[] = [];
  const projectWith = (content?: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kvguard-settings-'));
    dirs.push(dir);
    if (content !== undefined) writeFileSync(path.join(dir, 'local.settings.json'), content);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('layers defaults, then local.settings.json Values, then environment variables', () => {
    const root = projectWith(
      JSON.stringify({
        IsEncrypted: false,
        Values: { KVGUARD_RPO_HOURS: '12', CUSTOM: 'file', KVGUARD_PAGE_SIZE: 10 },
        Host: { LocalHttpPort: 7072 },
      }),
    );
    const settings = resolveDevSettings({
      root,
      defaults: { KVGUARD_RPO_HOURS: '24', KVGUARD_CREDENTIAL: 'emulator', CUSTOM: 'default' },
      env: { CUSTOM: 'env', KVGUARD_CREDENTIAL: 'default', KVGUARD_EXTRA: 'x', PATH: '/bin' },
    });
    expect(settings).toEqual({
      KVGUARD_RPO_HOURS: '12',
      KVGUARD_PAGE_SIZE: '10',
      KVGUARD_CREDENTIAL: 'default',
      KVGUARD_EXTRA: 'x',
      CUSTOM: 'env',
    });
    expect(readLocalSettings(root).localHttpPort).toBe(7072);
  });

  it('works without local.settings.json and refuses a malformed or encrypted one, naming the file only', () => {
    expect(resolveDevSettings({ root: projectWith(), env: {}, defaults: { A: '1' } })).toEqual({ A: '1' });
    expect(() => readLocalSettings(projectWith('{"Values": {"KVGUARD_STORAGE": "AccountKey=abc'))).toThrow(
      /local\.settings\.json is not valid JSON/,
    );
    expect(() => readLocalSettings(projectWith('{"Values": {"KVGUARD_STORAGE": "AccountKey=abc'))).not.toThrow(
      /AccountKey/,
    );
    expect(() => readLocalSettings(projectWith('{"IsEncrypted": true, "Values": {}}'))).toThrow(/is encrypted/);
  });
});
