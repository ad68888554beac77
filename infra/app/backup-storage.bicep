// The backup account: only backups, run manifests and the restore audit, all written create-only.
// - Container-level time-based retention (WORM) on the backup container: no blob can be overwritten or deleted
//   before it is `retentionDays` old, whoever asks. Once locked (postprovision hook, on request) nobody can shorten
//   or remove the policy either. A locked policy is never PUT again: ARM refuses updates of a locked policy, so the
//   preprovision hook reads the live state into `immutabilityPolicyLocked` before every provisioning.
// - A CanNotDelete lock on the account, so the account (and with it the container) cannot be deleted through ARM.
// - kvguard's identity gets, on the backup container only, a custom role with `blobs/read` and `blobs/add/action`:
//   it can list, read and create blobs, but not overwrite, delete, set immutability or act as immutability
//   super-user. The container exists before kvguard runs; kvguard never needs `containers/write` here.
// - Blob read/write/delete logs go to Log Analytics, so tampering attempts leave a trail.
param location string
param tags object
param token string
param environmentName string
param retentionDays int
param immutabilityPolicyLocked bool
@description('Principals (objects { id, type }) that get the create-only writer role on the backup container.')
param principals array
param workspaceId string

resource account 'Microsoft.Storage/storageAccounts@2026-04-01' = {
  name: 'stkvgb${take(token, 18)}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    accessTier: 'Cool'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-04-01' = {
  parent: account
  name: 'default'
  properties: {
    // Soft delete is a second net should the retention policy ever be unlocked and removed.
    deleteRetentionPolicy: { enabled: true, days: 14 }
    containerDeleteRetentionPolicy: { enabled: true, days: 14 }
  }
}

resource backups 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = {
  parent: blobService
  name: 'kvguard-backups'
  properties: { publicAccess: 'None' }
}

resource retention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2026-04-01' = if (!immutabilityPolicyLocked) {
  parent: backups
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: retentionDays
    allowProtectedAppendWrites: false
    allowProtectedAppendWritesAll: false
  }
}

resource accountLock 'Microsoft.Authorization/locks@2020-05-01' = {
  scope: account
  name: 'kvguard-backups-cannot-delete'
  properties: {
    level: 'CanNotDelete'
    notes: 'kvguard backups: the account holds immutable Key Vault backups. Remove only when retiring kvguard.'
  }
}

// Create-only writer: list/read blobs, create new ones. Deliberately absent: blobs/write (overwrite),
// blobs/delete, deleteBlobVersion, permanentDelete, immutableStorage/runAsSuperUser, containers/write.
resource writerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'kvguard-backup-writer', environmentName)
  properties: {
    roleName: 'kvguard Backup Writer (${environmentName}, ${resourceGroup().name})'
    description: 'Create-only access to kvguard\'s backup container: list, read and add blobs; no overwrite, delete or immutability changes.'
    type: 'CustomRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: ['Microsoft.Storage/storageAccounts/blobServices/containers/read']
        notActions: []
        dataActions: [
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'
        ]
        notDataActions: []
      }
    ]
  }
}

resource writerAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principal in principals: {
    scope: backups
    name: guid(backups.id, principal.id, writerRole.id)
    properties: {
      principalId: principal.id
      principalType: principal.type
      roleDefinitionId: writerRole.id
    }
  }
]

resource blobLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: blobService
  name: 'kvguard-audit'
  properties: {
    workspaceId: workspaceId
    logs: [
      { category: 'StorageRead', enabled: true }
      { category: 'StorageWrite', enabled: true }
      { category: 'StorageDelete', enabled: true }
    ]
  }
}

output accountName string = account.name
output accountId string = account.id
output containerName string = backups.name
