// The Key Vault emulator in its own process for the bench, so its CPU and memory are never counted as kvguard's.
// Started by bench/run.ts with the options as JSON in argv[2]; answers { ready } and then one reply per IPC request.
import { startKeyVaultEmulator, type EmulatorOptions, type RunningEmulator } from '../dev/emulator';

/** A request from the bench to the emulator process. */
export type EmulatorRequest =
  | { id: number; op: 'configure'; vault?: string; change: Parameters<RunningEmulator['configure']>[0] }
  | { id: number; op: 'traffic'; vault: string }
  | { id: number; op: 'subscribe'; vault: string; endpoint: string }
  | { id: number; op: 'stop' };

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as EmulatorOptions;
  const emulator = await startKeyVaultEmulator(options);
  process.on('message', (request: EmulatorRequest) => {
    void (async () => {
      try {
        let value: unknown;
        if (request.op === 'configure') emulator.configure(request.change, request.vault);
        else if (request.op === 'traffic') value = emulator.traffic(request.vault);
        else if (request.op === 'subscribe') emulator.addEventSubscription(request.vault, request.endpoint);
        else await emulator.stop();
        process.send!({ id: request.id, value });
        if (request.op === 'stop') process.disconnect();
      } catch (error) {
        process.send!({ id: request.id, error: error instanceof Error ? error.message : String(error) });
      }
    })();
  });
  // The bench's end (or crash) closes the IPC channel: never outlive it.
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: { vaults: emulator.vaults, caCertPath: emulator.caCertPath, caCertPem: emulator.caCertPem } });
}

void main();
