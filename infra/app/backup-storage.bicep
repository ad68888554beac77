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
// - Pruning (only with a prune identity, `enablePruning` in main.bicep): that identity may set the blob index tags
//   `kvguard-prunable` / `kvguard-prunable-since` (a role-assignment condition refuses any other tag key) and do
//   nothing else; a lifecycle rule deletes backups tagged `kvguard-prunable=true` once they are older than the WORM
//   window, so it never asks to delete a blob that is still immutable. Neither the CanNotDelete lock (ARM only: it
//   guards the account, not the data in it) nor the container policy (expired blobs may be deleted) stands in its
//   way; blob soft delete keeps what it deletes for 14 more days.
param location string
param tags object
param token string
param environmentName string
param retentionDays int
param immutabilityPolicyLocked bool
@description('Principals (objects { id, type }) that get the create-only writer role on the backup container.')
param principals array
param workspaceId string
@description('Principal id of the prune identity; empty: pruning off (no tag rights, no lifecycle rule).')
param prunePrincipalId string = ''

var pruning = !empty(prunePrincipalId)
// The tag keys kvguard writes (src/core/retention/marks.ts, PRUNABLE_TAG) and the prefixes its plan marks.
var pruneTagKeys = ['kvguard-prunable', 'kvguard-prunable-since']
var prunablePrefixes = ['backups/', 'inventory/']

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

// Tagger: list and read blobs, read and write their index tags. Deliberately absent: every write of content,
// delete, immutability and container right. What it can do is narrowed further by the assignment's condition.
resource prunerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (pruning) {
  name: guid(resourceGroup().id, 'kvguard-backup-pruner', environmentName)
  properties: {
    roleName: 'kvguard Backup Pruner (${environmentName}, ${resourceGroup().name})'
    description: 'Marks kvguard backups prunable with blob index tags for the lifecycle rule; no content write, delete or immutability changes.'
    type: 'CustomRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: ['Microsoft.Storage/storageAccounts/blobServices/containers/read']
        notActions: []
        dataActions: [
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/read'
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/write'
        ]
        notDataActions: []
      }
    ]
  }
}

// Set Blob Tags replaces a blob's whole tag set: the condition lets the request carry kvguard's two keys only
// (an empty set, which unmarks, passes too), so the identity cannot tag for any other lifecycle rule or reader.
var pruneTagCondition = '((!(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags/write\'})) OR (@Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags&$keys$&] ForAllOfAnyValues:StringEquals {${join(map(pruneTagKeys, k => '\'${k}\''), ', ')}}))'

resource prunerAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (pruning) {
  scope: backups
  name: guid(backups.id, 'kvguard-backup-pruner', environmentName)
  properties: {
    principalId: prunePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: prunerRole.id
    description: 'kvguard prune identity: may set only the kvguard-prunable tags on the backup container.'
    condition: pruneTagCondition
    conditionVersion: '2.0'
  }
}

// Deletes only what kvguard marked, and only past the WORM window: a blob still immutable is never asked for.
resource pruneRule 'Microsoft.Storage/storageAccounts/managementPolicies@2026-04-01' = if (pruning) {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'kvguard-prune'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: [for prefix in prunablePrefixes: '${backups.name}/${prefix}']
              blobIndexMatch: [{ name: pruneTagKeys[0], op: '==', value: 'true' }]
            }
            actions: { baseBlob: { delete: { daysAfterCreationGreaterThan: retentionDays } } }
          }
        }
      ]
    }
  }
}

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
