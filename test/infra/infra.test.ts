import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYOUT_ROOTS } from '../../src/adapters/blob-layout';
import { SETTINGS } from '../../src/config';
import { PRUNABLE_TAG } from '../../src/core/retention/marks';

const root = join(__dirname, '..', '..');
const bicep = (file: string) => readFileSync(join(root, 'infra', file), 'utf8');

/** The string items of the Bicep array `name: [ … ]` or `var name = [ … ]` (one level, quoted items only). */
function arrayItems(text: string, name: string): string[] {
  const match = new RegExp(`(?:var\\s+${name}\\s*=|\\b${name}:)\\s*\\[([^\\]]*)\\]`).exec(text);
  if (!match) throw new Error(`no array ${name} in the Bicep text`);
  return [...match[1]!.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
}

/** The body of the resource declared with `resource <symbol> '…' = …{ … }` (up to the next top-level `}`). */
function resourceBody(text: string, symbol: string): string {
  const start = text.search(new RegExp(`^resource ${symbol} '`, 'm'));
  if (start < 0) throw new Error(`no resource ${symbol}`);
  const end = text.indexOf('\n}\n', start);
  return text.slice(start, end + 2);
}

/** `{ name: 'X', value: … }` entries of the Function App's settings, with the value's source text. */
function appSettings(): { name: string; value: string }[] {
  return [...bicep('app/function.bicep').matchAll(/\{ name: '([^']+)', value: (.+) \}$/gm)].map((m) => ({
    name: m[1]!,
    value: m[2]!,
  }));
}

describe('the backup storage is WORM and the Function can only add to it', () => {
  const storage = bicep('app/backup-storage.bicep');

  it('puts a container-level time-based retention policy on the backup container, never PUT once locked', () => {
    const policy = resourceBody(storage, 'retention');
    expect(policy).toMatch(/immutabilityPolicies@[\d-]+' = if \(!immutabilityPolicyLocked\)/);
    expect(policy).toMatch(/parent: backups\b/);
    expect(policy).toMatch(/immutabilityPeriodSinceCreationInDays: retentionDays/);
    expect(policy).toMatch(/allowProtectedAppendWrites: false/);
    expect(bicep('main.bicep')).toMatch(/@minValue\(1\)\s*\n@maxValue\(146000\)\s*\nparam retentionDays int/);
    expect(bicep('main.parameters.json')).toContain('"immutabilityPolicyLocked"');
  });

  it('locks the backup account against deletion', () => {
    const lock = resourceBody(storage, 'accountLock');
    expect(lock).toMatch(/scope: account\b/);
    expect(lock).toMatch(/level: 'CanNotDelete'/);
  });

  it('grants, on the backup container only, read and create — no overwrite, delete or immutability rights', () => {
    const dataActions = arrayItems(resourceBody(storage, 'writerRole'), 'dataActions');
    expect(dataActions.sort()).toEqual([
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action',
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
    ]);
    const actions = arrayItems(resourceBody(storage, 'writerRole'), 'actions');
    for (const action of [...actions, ...dataActions]) {
      expect(action).not.toMatch(/\*|delete|\/write|immutab|runAsSuperUser|permanentDelete|deleteBlobVersion/i);
    }
    expect(resourceBody(storage, 'writerAssignments')).toMatch(/scope: backups\b/);
    // No built-in role (Blob Data Owner/Contributor …) on anything in the backup account.
    expect(storage).not.toMatch(/subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions'/);
  });

  it('keeps mutable state, queues and the package out of the backup account', () => {
    expect(storage).not.toMatch(/queueServices|kvguard-state|app-package/);
    const runtime = bicep('app/runtime-storage.bicep');
    expect(runtime).toMatch(/name: 'kvguard-state'/);
    const settings = new Map(appSettings().map((s) => [s.name, s.value]));
    expect(settings.get('KVGUARD_STORAGE__blobServiceUri')).toContain('backupAccount.');
    expect(settings.get('KVGUARD_STATE_BLOB_SERVICE_URI')).toContain('runtimeAccount.');
    expect(settings.get('KVGUARD_STORAGE__queueServiceUri')).toContain('runtimeAccount.');
    expect(settings.get('KVGUARD_CREATE_CONTAINERS')).toBe("'false'");
    expect(settings.get('KVGUARD_IMMUTABILITY')).toBe("'container'");
  });
});

describe('Key Vault access is least privilege', () => {
  const roles = bicep('app/vault-roles.bicep');
  const backup = arrayItems(roles, 'backupDataActions');

  it('lets the standing backup role back up, restore and recover but never read a secret value, delete or purge', () => {
    for (const type of ['keys', 'secrets', 'certificates']) {
      for (const verb of ['backup/action', 'restore/action', 'recover/action']) {
        expect(backup).toContain(`Microsoft.KeyVault/vaults/${type}/${verb}`);
      }
    }
    for (const action of backup) {
      expect(action).toMatch(/^Microsoft\.KeyVault\/vaults\/(keys|secrets|certificates)\//);
      expect(action).not.toMatch(/\*|getSecret|\/delete$|purge|\/write$|deleted(Keys|Secrets|Certificates)/);
    }
  });

  it('gives delete and purge only to the drill role on the scratch vault; purge otherwise only as break-glass', () => {
    expect(arrayItems(roles, 'deleteDataActions').every((a) => a.endsWith('/delete'))).toBe(true);
    expect(arrayItems(roles, 'purgeDataActions').every((a) => a.endsWith('/purge/action'))).toBe(true);
    const main = bicep('main.bicep');
    expect(main).toMatch(/module scratchAccess[\s\S]*?roleDefinitionId: vaultRoles\.outputs\.drillRoleId/);
    expect(main).toMatch(/module vaultAccess[\s\S]*?roleDefinitionId: vaultRoles\.outputs\.backupRoleId/);
    expect(main).not.toMatch(/breakGlassPurgeRoleId\s*\n?\s*(workspaceId|principals)/);
    expect([...main.matchAll(/breakGlassPurgeRoleId/g)]).toHaveLength(1); // an output for the runbook, never assigned
  });

  it('gives access-policy vaults the same rights: secrets without get, nothing deletes or purges', () => {
    const access = resourceBody(bicep('app/vault-access.bicep'), 'accessPolicy');
    const secrets = arrayItems(access, 'secrets');
    expect(secrets.sort()).toEqual(['backup', 'list', 'recover', 'restore']);
    for (const type of ['keys', 'secrets', 'certificates']) {
      expect(arrayItems(access, type)).not.toEqual(expect.arrayContaining(['delete']));
      expect(arrayItems(access, type).some((p) => /purge|delete|set|import|all/i.test(p))).toBe(false);
    }
  });
});

describe('portable exports widen access only when turned on', () => {
  const roles = bicep('app/vault-roles.bicep');
  const main = bicep('main.bicep');

  it('reads secret values only through the portable-export role, defined and assigned only with a KEK', () => {
    expect(arrayItems(roles, 'portableExportDataActions')).toEqual([
      'Microsoft.KeyVault/vaults/secrets/getSecret/action',
    ]);
    expect(roles).toMatch(/resource portableExportRole '[^']+' = if \(enablePortable\)/);
    expect(roles).toMatch(/resource kekRole '[^']+' = if \(enablePortable\)/);
    expect(main).toMatch(/var withPortable = !empty\(portableKekId\)/);
    expect(main).toMatch(
      /var portableVaults = withPortable \? filter\(protectedVaults, v => contains\(v, 'portable'\) && v\.portable == true\) : \[\]/,
    );
    expect(main).toMatch(/module portableAccess[\s\S]*?for \(vault, i\) in portableVaults[\s\S]*?portableExportRoleId/);
    expect(main).toMatch(/module kekAccess 'app\/kek-access\.bicep' = if \(withPortable/);
    expect(arrayItems(resourceBody(bicep('app/portable-access.bicep'), 'accessPolicy'), 'secrets')).toEqual(['get']);
  });

  it('lets the KEK role read the key and wrap/unwrap with it, nothing more', () => {
    expect(arrayItems(roles, 'kekDataActions').sort()).toEqual([
      'Microsoft.KeyVault/vaults/keys/read',
      'Microsoft.KeyVault/vaults/keys/unwrap/action',
      'Microsoft.KeyVault/vaults/keys/wrap/action',
    ]);
  });
});

describe("the Function App's settings match kvguard's settings schema", () => {
  const known = new Map(Object.values(SETTINGS).map((spec) => [spec.name, spec]));
  // Read by the Functions host, not by kvguard's code: identity-based connections and telemetry authentication.
  const hostSettings = [
    /^AzureWebJobsStorage__(accountName|credential|clientId)$/,
    /^KVGUARD_STORAGE__(credential|clientId)$/,
    /^APPLICATIONINSIGHTS_AUTHENTICATION_STRING$/,
  ];

  it('names only settings kvguard or the Functions host reads', () => {
    const settings = appSettings();
    expect(settings.length).toBeGreaterThan(10);
    const unknown = settings.map((s) => s.name).filter((n) => !known.has(n) && !hostSettings.some((p) => p.test(n)));
    expect(unknown).toEqual([]);
  });

  it('gives every literal value one the schema accepts', () => {
    for (const { name, value } of appSettings()) {
      const literal = /^'([^'$]*)'$/.exec(value);
      const spec = known.get(name);
      if (!literal || !spec) continue;
      const parsed = spec.schema.safeParse(literal[1]);
      expect(parsed.success, `${name}=${value}`).toBe(true);
    }
  });

  it('runs as the user-assigned identity everywhere', () => {
    const settings = new Map(appSettings().map((s) => [s.name, s.value]));
    expect(settings.get('AZURE_CLIENT_ID')).toBe('identityClientId');
    expect(settings.get('AzureWebJobsStorage__clientId')).toBe('identityClientId');
    expect(settings.get('KVGUARD_STORAGE__clientId')).toBe('identityClientId');
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toContain('Authorization=AAD');
    const fn = bicep('app/function.bicep');
    expect(fn).toMatch(/type: 'UserAssigned'/);
    expect(fn).toMatch(/authentication: \{ type: 'UserAssignedIdentity'/);
    expect(fn).not.toMatch(/SystemAssigned/);
    expect(bicep('main.bicep')).toMatch(/param nodeVersion string = '22'/);
  });
});

describe('Event Grid, alerting and redeploys', () => {
  it('delivers events with retries and dead-lettering, on created and on reused system topics alike', () => {
    const events = bicep('app/event-subscription.bicep');
    expect(events).toMatch(/retryPolicy: \{ maxDeliveryAttempts: \d+, eventTimeToLiveInMinutes: \d+ \}/);
    for (const symbol of ['createdSubscription', 'reusedSubscription']) {
      const body = resourceBody(events, symbol);
      expect(body).toMatch(/union\(subscription, \{\s*deadLetterWithResourceIdentity:/);
    }
    expect(resourceBody(events, 'reusedSubscription')).toMatch(/parent: reusedTopic\b/);
    expect(resourceBody(events, 'deliveryAlert')).toMatch(/metricName: 'DeadLetteredCount'/);
    expect(bicep('main.bicep')).not.toMatch(/deploymentScripts/);
  });

  it('tells someone: action group, log alerts on kvguard alerts, failures and the RPO, a capped workspace, audit logs', () => {
    const monitoring = bicep('app/monitoring.bicep');
    for (const rule of ['kvguard-alert-raised', 'kvguard-function-failures', 'kvguard-rpo-breached']) {
      expect(monitoring).toContain(`name: '${rule}'`);
    }
    expect(monitoring).toMatch(/workspaceCapping: \{ dailyQuotaGb: logDailyCapGb \}/);
    expect(monitoring).toMatch(/actions: \{ actionGroups: \[actionGroup\.id\] \}/);
    expect(monitoring).toMatch(/DisableLocalAuth: true/);
    expect(monitoring).toMatch(/3913510d-42f4-4e42-8a64-420c390055eb/); // Monitoring Metrics Publisher
    expect(resourceBody(bicep('app/vault-access.bicep'), 'auditLogs')).toMatch(/category: 'AuditEvent'/);
    expect(resourceBody(bicep('app/backup-storage.bicep'), 'blobLogs')).toMatch(/category: 'StorageDelete'/);
  });

  it('keeps tokens out of deployment history and names every deployment after its environment', () => {
    const main = bicep('main.bicep');
    for (const param of ['actionGroupWebhookUrl', 'alertWebhookUrl']) {
      expect(main).toMatch(new RegExp(`@secure\\(\\)\\s*\\n(@description\\([^\\n]*\\)\\s*\\n)?param ${param} string`));
    }
    expect(main).toMatch(/@minLength\(1\)\s*\n@description\([^\n]*\)\s*\nparam protectedVaults array/);
    const names = [...main.matchAll(/^module \w+ '[^']+' = [^\n]*\n(?:[^\n]*\n)?\s*name: ([^\n]+)/gm)].map(
      (m) => m[1]!,
    );
    expect(names.length).toBeGreaterThanOrEqual(10);
    for (const name of names) expect(name).toContain('${deploymentPrefix}');
  });
});

describe('pruning is off by default; when on, a second identity may only tag, and lifecycle deletes only past WORM', () => {
  const main = bicep('main.bicep');
  const storage = bicep('app/backup-storage.bicep');

  it('is switched by one parameter, false by default and exposed through the azd environment', () => {
    expect(main).toMatch(/@description\([^\n]*\)\s*\nparam enablePruning bool = false/);
    expect(JSON.parse(bicep('main.parameters.json')).parameters.enablePruning).toEqual({
      value: '${KVGUARD_ENABLE_PRUNING=false}',
    });
    expect(main).toMatch(/module pruneIdentity 'app\/identity\.bicep' = if \(enablePruning\)/);
    // Everything that needs the prune identity gets an empty value without it.
    for (const use of ['prunePrincipalId', 'pruneIdentityId', 'pruneIdentityClientId']) {
      expect(main).toMatch(new RegExp(`${use}: enablePruning \\? pruneIdentity!\\.outputs\\.\\w+ : ''`));
    }
    expect(main).toMatch(/name: 'id-kvguard-prune-\$\{token\}'/);
    expect(main).toMatch(/name: 'id-kvguard-\$\{token\}'/);
  });

  it('creates the tagger role, its assignment and the lifecycle rule only with a prune identity', () => {
    expect(storage).toMatch(/param prunePrincipalId string = ''/);
    expect(storage).toMatch(/var pruning = !empty\(prunePrincipalId\)/);
    for (const symbol of ['prunerRole', 'prunerAssignment', 'pruneRule']) {
      expect(resourceBody(storage, symbol)).toMatch(/' = if \(pruning\) \{/);
    }
  });

  it('lets the prune identity read and tag blobs on the backup container, and nothing more', () => {
    const role = resourceBody(storage, 'prunerRole');
    expect(arrayItems(role, 'dataActions').sort()).toEqual([
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/read',
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/write',
    ]);
    expect(arrayItems(role, 'actions')).toEqual(['Microsoft.Storage/storageAccounts/blobServices/containers/read']);
    const assignment = resourceBody(storage, 'prunerAssignment');
    expect(assignment).toMatch(/scope: backups\b/);
    expect(assignment).toMatch(/principalId: prunePrincipalId/);
    expect(assignment).toMatch(/roleDefinitionId: prunerRole\.id/);
    expect(assignment).toMatch(/condition: pruneTagCondition/);
    expect(assignment).toMatch(/conditionVersion: '2\.0'/);
  });

  it("limits the tag keys it may write to kvguard's two, by a role-assignment condition on the request", () => {
    expect(arrayItems(storage, 'pruneTagKeys')).toEqual([PRUNABLE_TAG.name, PRUNABLE_TAG.since]);
    const condition = /var pruneTagCondition = '(.*)'$/m.exec(storage)?.[1];
    expect(condition).toBeDefined();
    // Any action but tags/write passes; tags/write only when every key in the request is one of kvguard's.
    expect(condition).toContain(
      "(!(ActionMatches{\\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/write\\'}))",
    );
    expect(condition).toContain(
      ' OR (@Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags&$keys$&] ForAllOfAnyValues:StringEquals {',
    );
    expect(condition).toContain("${join(map(pruneTagKeys, k => '\\'${k}\\''), ', ')}");
  });

  it('deletes only blobs tagged prunable under the backup and inventory prefixes, once older than the WORM window', () => {
    const rule = resourceBody(storage, 'pruneRule');
    expect(rule).toMatch(/managementPolicies@[\d-]+' = if \(pruning\)/);
    expect(rule).toMatch(/parent: account\b/);
    expect(rule).toMatch(/name: 'default'/);
    expect([...rule.matchAll(/name: 'kvguard-[\w-]+'/g)]).toHaveLength(1); // one rule
    expect(rule).toMatch(/blobIndexMatch: \[\{ name: pruneTagKeys\[0\], op: '==', value: '(\w+)' \}\]/);
    expect(/op: '==', value: '(\w+)'/.exec(rule)?.[1]).toBe(PRUNABLE_TAG.value);
    expect(rule).toMatch(/prefixMatch: \[for prefix in prunablePrefixes: '\$\{backups\.name\}\/\$\{prefix\}'\]/);
    expect(arrayItems(storage, 'prunablePrefixes')).toEqual([LAYOUT_ROOTS.backups, LAYOUT_ROOTS.inventory]);
    // Base blobs only (no versions, no snapshots), by creation age = the container's immutability period.
    expect(rule).toMatch(/actions: \{ baseBlob: \{ delete: \{ daysAfterCreationGreaterThan: retentionDays \} \} \}/);
    expect(rule).not.toMatch(/version:|snapshot:|tierTo|daysAfterModification|enableAutoTierToHotFromCool/);
    expect(resourceBody(storage, 'retention')).toMatch(/immutabilityPeriodSinceCreationInDays: retentionDays/);
  });

  it('attaches the prune identity to the Function App and names it in the settings only when pruning is on', () => {
    const fn = bicep('app/function.bicep');
    expect(fn).toMatch(
      /var appIdentities = empty\(pruneIdentityId\) \? \[identityId\] : \[identityId, pruneIdentityId\]/,
    );
    expect(fn).toMatch(/userAssignedIdentities: toObject\(appIdentities,/);
    const settings = new Map(appSettings().map((s) => [s.name, s.value]));
    expect(settings.get('KVGUARD_PRUNE_CLIENT_ID')).toBe('pruneIdentityClientId');
    expect(settings.get('KVGUARD_PRUNING')).toBe("empty(pruneIdentityClientId) ? 'false' : 'true'");
    // kvguard's own clients stay on its own identity.
    expect(settings.get('AZURE_CLIENT_ID')).toBe('identityClientId');
    expect(main).toMatch(
      /output KVGUARD_PRUNE_CLIENT_ID string = enablePruning \? pruneIdentity!\.outputs\.clientId : ''/,
    );
  });
});

describe('bicep-lite', () => {
  // CI and the main checkout have ../shared beside the project; worktrees one level deeper have it two up.
  const candidates = [join(root, '..', 'shared'), join(root, '..', '..', 'shared')].map((dir) =>
    join(dir, 'tools', 'bicep-lite', 'run'),
  );
  const checker = candidates.find((path) => existsSync(path));

  it('reports no error and no warning on infra/ and azure.yaml', { timeout: 120_000 }, () => {
    if (!checker) throw new Error(`bicep-lite not found; looked for ${candidates.join(' and ')}`);
    const out = execFileSync(checker, [root, '--json'], { encoding: 'utf8', timeout: 110_000 });
    const findings = (JSON.parse(out) as { level: string; code: string; message: string; file?: string }[]).filter(
      (f) => f.level === 'error' || f.level === 'warning',
    );
    expect(findings).toEqual([]);
  });
});
