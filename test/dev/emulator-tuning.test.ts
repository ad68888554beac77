import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEmulatorTuning, startLocalStack } from '../../dev/start';
import { emulatorSdkClients } from '../../dev/emulator/clients';

describe('KVGUARD_EMULATOR: tuning the emulator of npm start', () => {
  it('accepts throttling, faults, timing and persistence', () => {
    expect(parseEmulatorTuning(undefined)).toEqual({});
    expect(
      parseEmulatorTuning(
        '{"throttle":{"operations":100,"windowSeconds":10,"retryAfter":"never"},"faults":{"seed":3,"rate503":0.1},"persist":true}',
      ),
    ).toEqual({
      throttle: { operations: 100, windowSeconds: 10, retryAfter: 'never' },
      faults: { seed: 3, rate503: 0.1 },
      persist: true,
    });
  });

  it('accepts vaults with a subscription and a location each', () => {
    const text = JSON.stringify({
      vaults: [
        { name: 'demo' },
        { name: 'us-copy', subscription: '11111111-1111-1111-1111-111111111111', location: 'eastus' },
      ],
    });
    expect(parseEmulatorTuning(text).vaults).toEqual([
      { name: 'demo' },
      { name: 'us-copy', subscription: '11111111-1111-1111-1111-111111111111', location: 'eastus' },
    ]);
  });

  it.each([
    ['{nope', 'KVGUARD_EMULATOR is not valid JSON'],
    ['{"vaults":[{"name":"x"}]}', 'KVGUARD_EMULATOR: vaults.0.name: must be 2-24 letters'],
    ['{"vaults":[{"name":"demo","location":"West Europe"}]}', 'KVGUARD_EMULATOR: vaults.0.location: must be an Azure'],
    ['{"vaults":[{"name":"demo","subscription":"mine"}]}', 'KVGUARD_EMULATOR: vaults.0.subscription:'],
    ['{"faults":{"rate429":2}}', 'KVGUARD_EMULATOR: faults.rate429:'],
    ['{"throttel":{}}', 'KVGUARD_EMULATOR: throttel:'],
  ])('refuses %s naming the field', (text, message) => {
    expect(() => parseEmulatorTuning(text)).toThrow(message);
  });

  it('keeps the demo vault across restarts when persisted, without seeding it twice', async () => {
    const root = join(__dirname, '..', '..');
    const devDir = mkdtempSync(join(tmpdir(), 'kvguard-persist-'));
    const start = () =>
      startLocalStack({ root, devDir, ephemeralPorts: true, hostLogs: false, emulator: { persist: true }, env: {} });
    const versionsOfDemoEc = async (stack: Awaited<ReturnType<typeof start>>) => {
      const { keys } = emulatorSdkClients(stack.file.vaults[0]!.url, readFileSync(stack.file.caCertPath, 'utf8'));
      const versions: string[] = [];
      for await (const version of keys.listPropertiesOfKeyVersions('demo-ec')) versions.push(version.version!);
      return versions.sort();
    };
    const first = await start();
    const before = await versionsOfDemoEc(first);
    await first.stop();
    const second = await start();
    try {
      expect(before).toHaveLength(2);
      expect(await versionsOfDemoEc(second)).toEqual(before);
    } finally {
      await second.stop();
    }
  });
});
