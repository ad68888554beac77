import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useServices } from '../../src/composition';
import { createAlerts } from '../../src/core/alerts';
import { backupVaultNow } from '../../src/core/backup/runs';
import { dashboardFunction } from '../../src/functions/dashboard';
import { esc } from '../../src/functions/dashboard-page';
import { functionDefinitions } from '../../src/functions';
import { launchChromium } from '../support/chromium';
import { httpRequest, installRestoreWorld, invocationContext } from '../core/restore/function-harness';
import { bearer } from '../support/entra';
import { kvError, RecordingLogger, RecordingTelemetry } from '../support/in-memory';

/** A caller with the read role, as every read route requires. */
const reader = bearer('reader@contoso.com', ['kvguard.Read']);

let chromium: Awaited<ReturnType<typeof launchChromium>>;
let server: Server | undefined;

beforeAll(async () => {
  chromium = await launchChromium();
}, 60_000);

afterAll(async () => {
  await chromium?.close();
});

afterEach(async () => {
  useServices(undefined);
  // Chromium keeps its connection alive; close it, or the server would wait for it.
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Serves GET /api/dashboard from the function's handler, as a host would, to a caller with the read role. */
async function serveDashboard(): Promise<string> {
  server = createServer((req, res) => {
    void (async () => {
      const response = await dashboardFunction.handler(
        httpRequest({ path: req.url ?? '/', headers: reader }),
        invocationContext('dashboard'),
      );
      res.writeHead(response.status ?? 200, response.headers as Record<string, string>);
      res.end(response.body as string);
    })();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/dashboard`;
}

/** Two vaults: `prod` backed up 30 hours ago (past its 24 h RPO), `dr` backed up just now; one alert left pending. */
async function world() {
  const w = installRestoreWorld({ KVGUARD_RPO_HOURS: '24' });
  w.prod.seedKey('db-key').seedSecret('<script>alert(1)</script>'.replace(/[<>()]/g, '-'));
  w.dr.seedKey('dr-key');
  const settings = { pageSize: 25, deadlineSeconds: 60, objectConcurrency: 2, kvguardVersion: 'test', refreshDays: 7 };
  const target = (name: string) => w.services.config.vaults.find((v) => v.name === name)!;
  await backupVaultNow(target('prod'), w.deps, settings);
  w.clock.advance(30 * 3_600_000);
  await backupVaultNow(target('dr'), w.deps, settings);
  const alerts = createAlerts({
    sinks: [{ name: 'webhook', send: async () => Promise.reject(kvError('Transient', 'webhook answered 503')) }],
    outbox: w.services.alertOutbox,
    logger: new RecordingLogger(),
    telemetry: new RecordingTelemetry(),
    clock: w.clock,
    retry: { attempts: 1 },
  });
  await alerts.raise({
    type: 'kvguard.ObjectDeleted',
    severity: 'warning',
    subject: 'prod/secret/<img src=x onerror=alert(1)>',
    summary: 'The secret <img src=x onerror=alert(1)> in vault prod was deleted.',
    dedupeKey: 'deleted/prod/secret/x',
    occurredAt: w.clock.now().toISOString(),
    data: {},
  });
  return w;
}

describe('GET /api/dashboard', () => {
  it('is registered as an HTTP function guarded by the function key', () => {
    expect(functionDefinitions).toContain(dashboardFunction);
    expect(dashboardFunction).toMatchObject({ route: 'dashboard', methods: ['GET'], authLevel: 'function' });
  });

  it('renders in headless Chromium, shows the breached vault as breached, and writes a screenshot', async () => {
    await world();
    const url = await serveDashboard();
    const page = await chromium.browser.newPage();
    const scripts: string[] = [];
    page.on('dialog', (dialog) => {
      scripts.push(dialog.message());
      void dialog.dismiss();
    });
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(await page.title()).toBe('kvguard status');

    const prod = page.locator('[data-vault="prod"]');
    const dr = page.locator('[data-vault="dr"]');
    expect(await prod.getAttribute('data-rag')).toBe('red');
    expect(await prod.innerText()).toContain('RPO BREACHED');
    expect(await prod.innerText()).toContain('last success 30 h ago');
    expect(await dr.getAttribute('data-rag')).toBe('green');
    // The style sheet applies (the CSP lets the inline style through): a breached card has a red edge.
    expect(await page.evaluate(`getComputedStyle(document.querySelector('[data-vault="prod"]')).borderLeftColor`)).toBe(
      'rgb(207, 34, 46)',
    );
    expect(await page.locator('svg.timeline g').count()).toBe(2);
    const alertsText = await page.locator('section.two').innerText();
    expect(alertsText).toContain('1 pending');
    expect(alertsText).toContain('webhook: failed ×1');
    // A name from a vault is text, never markup.
    expect(alertsText).toContain('<img src=x onerror=alert(1)>');
    expect(await page.locator('img').count()).toBe(0);
    expect(scripts).toEqual([]);

    const dir = join(process.cwd(), 'test-results');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('answers 400 naming an unknown query parameter', async () => {
    installRestoreWorld();
    const response = await dashboardFunction.handler(
      httpRequest({ path: '/api/dashboard', query: { vault: 'x' }, headers: reader }),
      invocationContext('dashboard'),
    );
    expect(response.status).toBe(400);
    expect(response.jsonBody).toMatchObject({ error: { field: 'vault' } });
  });

  it('refuses a caller without a token (401) or without the read or restore role (403)', async () => {
    installRestoreWorld();
    const anonymous = await dashboardFunction.handler(
      httpRequest({ path: '/api/dashboard' }),
      invocationContext('dashboard'),
    );
    expect(anonymous.status).toBe(401);
    expect(anonymous.jsonBody).toMatchObject({ error: { code: 'Unauthorized', field: 'authorization' } });
    const noRole = await dashboardFunction.handler(
      httpRequest({ path: '/api/dashboard', headers: bearer('someone', []) }),
      invocationContext('dashboard'),
    );
    expect(noRole.status).toBe(403);
  });
});

describe('esc', () => {
  it('escapes every character that could open markup or close an attribute', () => {
    expect(esc(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});
