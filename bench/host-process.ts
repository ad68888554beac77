// The dev host with every function of the app, in its own process, for the bench's event scenario: the emulator
// posts Event Grid deliveries to it and its queue trigger runs the snapshots. argv[2] holds the app settings as
// JSON; the host's URL goes to the parent over IPC. Stops when the parent disconnects.
import { startDevHost } from '../dev/host';
import { functionDefinitions } from '../src/functions';

async function main(): Promise<void> {
  const settings = JSON.parse(process.argv[2]!) as Record<string, string>;
  const host = await startDevHost({ definitions: functionDefinitions, settings, logSink: () => undefined });
  process.on('disconnect', () => void host.stop().finally(() => process.exit(0)));
  process.send!({ url: host.url });
}

void main();
