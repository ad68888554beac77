// The runtime account: everything mutable kvguard and the Functions host need (deployment package,
// AzureWebJobsStorage, kvguard's job queues, its small state documents, Event Grid dead letters). The backups
// themselves live in a separate, locked account (backup-storage.bicep), which the identity can only add to.
param location string
param tags object
param token string
@description('Principal id of kvguard\'s user-assigned identity.')
param principalId string
param operatorPrincipalId string
param operatorPrincipalType string

var queueNames = ['kvguard-backup-jobs', 'kvguard-backup-jobs-poison', 'kvguard-restore-jobs', 'kvguard-restore-jobs-poison']
var builtInRoles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}
// The Functions host needs blob (package, locks), queue and table data access on AzureWebJobsStorage.
var hostRoles = [builtInRoles.blobDataOwner, builtInRoles.queueDataContributor, builtInRoles.tableDataContributor]

resource account 'Microsoft.Storage/storageAccounts@2026-04-01' = {
  name: 'stkvgr${take(token, 18)}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-04-01' = {
  parent: account
  name: 'default'
}

resource deployment 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = {
  parent: blobService
  name: 'app-package'
  properties: { publicAccess: 'None' }
}

// Mutable state (watcher snapshots, event de-duplication, restore progress): overwritten by design, so never in
// the WORM account.
resource state 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = {
  parent: blobService
  name: 'kvguard-state'
  properties: { publicAccess: 'None' }
}

resource deadLetters 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = {
  parent: blobService
  name: 'kvguard-deadletter'
  properties: { publicAccess: 'None' }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-04-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-04-01' = [
  for name in queueNames: {
    parent: queueService
    name: name
  }
]

// State documents nobody touched for 90 days (a vault no longer protected) and dead letters older than 30 days go.
// Backups are not here; nothing in this policy can reach them.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2026-04-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'stale-state'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['${state.name}/'] }
            actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: 90 } } }
          }
        }
        {
          name: 'old-dead-letters'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['${deadLetters.name}/'] }
            actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: 30 } } }
          }
        }
      ]
    }
  }
}

resource hostAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in hostRoles: {
    scope: account
    name: guid(account.id, principalId, role)
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

// The operator's CLI reads and writes state and sends jobs; it never needs the host's rights.
resource operatorState 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  scope: state
  name: guid(state.id, operatorPrincipalId, builtInRoles.blobDataContributor)
  properties: {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.blobDataContributor)
  }
}

resource operatorQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  scope: account
  name: guid(account.id, operatorPrincipalId, builtInRoles.queueDataContributor)
  properties: {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.queueDataContributor)
  }
}

output accountName string = account.name
output accountId string = account.id
output deploymentContainerName string = deployment.name
output stateContainerName string = state.name
output deadLetterContainerName string = deadLetters.name
