// Backup storage. Shared keys are off (identity only). The backup container has version-level immutability
// (WORM) with a default retention policy, so no blob kvguard wrote can be changed or deleted before it expires,
// whatever credentials an attacker holds; kvguard itself only ever creates blobs.
param location string
param tags object
param token string
param retentionDays int
param lockImmutabilityPolicy bool

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stkvguard${take(token, 15)}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    immutableStorageWithVersioning: { enabled: true }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: { enabled: true, days: 14 }
    containerDeleteRetentionPolicy: { enabled: true, days: 14 }
  }
}

resource backups 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'kvguard-backups'
  properties: {
    publicAccess: 'None'
    immutableStorageWithVersioning: { enabled: true }
  }
}

resource backupsPolicy 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: backups
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: retentionDays
    allowProtectedAppendWrites: false
  }
}

// Mutable state (watcher snapshots, event de-duplication, restore progress) lives apart from the WORM container.
resource state 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'kvguard-state'
  properties: { publicAccess: 'None' }
}

resource deployment 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'app-package'
  properties: { publicAccess: 'None' }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for name in ['kvguard-backup-jobs', 'kvguard-backup-jobs-poison', 'kvguard-restore-jobs', 'kvguard-restore-jobs-poison']: {
  parent: queueService
  name: name
}]

output accountName string = account.name
output deploymentContainerName string = deployment.name
output lockRequested bool = lockImmutabilityPolicy
