// kvguard's Key Vault roles (RBAC permission model), split by what each job needs. Listing deleted objects is
// covered by keys/read, secrets/readMetadata/action and certificates/read; there are no deletedKeys/* data actions.
// - Backup (standing, on every protected vault): read metadata, back up, restore, recover. Never reads a secret
//   value (no secrets/getSecret/action), never uses a key, never deletes or purges.
// - Drill (on the scratch vault only): the backup role plus delete and purge, to clear its own drill objects.
// - Break-glass purge: defined, never assigned by the infra. An operator grants it for a restore that must purge
//   a soft-deleted name first (README, "Restore runbook").
// - Portable export (only with portable exports on, only on the vaults that opt in): read secret values, which the
//   standing role avoids; and on the KEK's vault only, read the KEK and wrap/unwrap with it.
targetScope = 'subscription'

param environmentName string
@description('Subscriptions whose vaults get these roles (role definitions are assignable only there).')
param assignableSubscriptionIds array
@description('Define the portable-export and KEK roles (portable exports are on).')
param enablePortable bool = false

var assignableScopes = [for id in assignableSubscriptionIds: '/subscriptions/${id}']
var backupDataActions = [
  'Microsoft.KeyVault/vaults/keys/read'
  'Microsoft.KeyVault/vaults/keys/backup/action'
  'Microsoft.KeyVault/vaults/keys/restore/action'
  'Microsoft.KeyVault/vaults/keys/recover/action'
  'Microsoft.KeyVault/vaults/secrets/readMetadata/action'
  'Microsoft.KeyVault/vaults/secrets/backup/action'
  'Microsoft.KeyVault/vaults/secrets/restore/action'
  'Microsoft.KeyVault/vaults/secrets/recover/action'
  'Microsoft.KeyVault/vaults/certificates/read'
  'Microsoft.KeyVault/vaults/certificates/backup/action'
  'Microsoft.KeyVault/vaults/certificates/restore/action'
  'Microsoft.KeyVault/vaults/certificates/recover/action'
]
var deleteDataActions = [
  'Microsoft.KeyVault/vaults/keys/delete'
  'Microsoft.KeyVault/vaults/secrets/delete'
  'Microsoft.KeyVault/vaults/certificates/delete'
]
var portableExportDataActions = ['Microsoft.KeyVault/vaults/secrets/getSecret/action']
var kekDataActions = [
  'Microsoft.KeyVault/vaults/keys/read'
  'Microsoft.KeyVault/vaults/keys/wrap/action'
  'Microsoft.KeyVault/vaults/keys/unwrap/action'
]
var purgeDataActions = [
  'Microsoft.KeyVault/vaults/keys/purge/action'
  'Microsoft.KeyVault/vaults/secrets/purge/action'
  'Microsoft.KeyVault/vaults/certificates/purge/action'
]

resource backupRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'kvguard-vault-backup', environmentName)
  properties: {
    roleName: 'kvguard Vault Backup (${environmentName}, ${subscription().subscriptionId})'
    description: 'Back up, restore and recover Key Vault keys, secrets and certificates; read metadata only. No secret values, no delete, no purge.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [{ actions: ['Microsoft.KeyVault/vaults/read'], dataActions: backupDataActions }]
  }
}

resource drillRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'kvguard-vault-drill', environmentName)
  properties: {
    roleName: 'kvguard Restore Drill (${environmentName}, ${subscription().subscriptionId})'
    description: 'Restore drills on a scratch vault: back up, restore, recover, delete and purge; no secret values.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [
      {
        actions: ['Microsoft.KeyVault/vaults/read']
        dataActions: union(backupDataActions, deleteDataActions, purgeDataActions)
      }
    ]
  }
}

// Discovery lists vaults in whole subscriptions: only the vaults' ARM metadata, not Reader on everything.
resource listerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'kvguard-vault-lister', environmentName)
  properties: {
    roleName: 'kvguard Vault Lister (${environmentName}, ${subscription().subscriptionId})'
    description: 'Lists Key Vaults and reads their ARM metadata (tags, URI, permission model), for discovery by tag.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [{ actions: ['Microsoft.KeyVault/vaults/read'], dataActions: [] }]
  }
}

resource purgeRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'kvguard-vault-purge', environmentName)
  properties: {
    roleName: 'kvguard Break-glass Purge (${environmentName}, ${subscription().subscriptionId})'
    description: 'Break-glass only: purge soft-deleted keys, secrets and certificates so a backup can be restored under their name.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [{ actions: [], dataActions: purgeDataActions }]
  }
}

resource portableExportRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (enablePortable) {
  name: guid(subscription().id, 'kvguard-portable-export', environmentName)
  properties: {
    roleName: 'kvguard Portable Export (${environmentName}, ${subscription().subscriptionId})'
    description: 'Portable exports: read secret values (a certificate exports through its secret) to envelope-encrypt them.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [{ actions: [], dataActions: portableExportDataActions }]
  }
}

resource kekRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (enablePortable) {
  name: guid(subscription().id, 'kvguard-portable-kek', environmentName)
  properties: {
    roleName: 'kvguard Portable KEK (${environmentName}, ${subscription().subscriptionId})'
    description: 'Wrap and unwrap portable exports\' data keys with the key-encryption key; read its public part.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [{ actions: [], dataActions: kekDataActions }]
  }
}

output backupRoleId string = backupRole.id
output portableExportRoleId string = enablePortable ? portableExportRole.id : ''
output kekRoleId string = enablePortable ? kekRole.id : ''
output drillRoleId string = drillRole.id
output breakGlassPurgeRoleId string = purgeRole.id
output listerRoleId string = listerRole.id
