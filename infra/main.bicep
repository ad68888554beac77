// kvguard: Function App (Flex Consumption, managed identity), immutable backup storage, monitoring, and the
// Key Vault access the identity needs. `azd up` provisions this, deploys the code, then the postdeploy hook
// subscribes the functions to Key Vault and ARM events (the subscriptions need the deployed function to exist).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; used to name and tag every resource.')
param environmentName string

@minLength(1)
@description('Region for every resource. Key Vault restores only within one subscription and geography: keep kvguard beside the vaults it protects.')
param location string

@description('Resource ids of the vaults to protect (same subscription). kvguard gets a least-privilege role on each.')
param protectedVaultIds array = []

@description('Days each backup stays immutable (container-level default policy for version-level WORM).')
@minValue(1)
param retentionDays int = 90

@description('Lock the immutability policy. A locked policy cannot be shortened or removed — irreversible.')
param lockImmutabilityPolicy bool = false

@description('Optional alert webhook (generic JSON).')
param alertWebhookUrl string = ''

var tags = { 'azd-env-name': environmentName, application: 'kvguard' }
var token = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: 'rg-kvguard-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: { location: location, tags: tags, token: token }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    token: token
    retentionDays: retentionDays
    lockImmutabilityPolicy: lockImmutabilityPolicy
  }
}

module function 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    location: location
    tags: tags
    token: token
    storageAccountName: storage.outputs.accountName
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    vaultUrls: [for id in protectedVaultIds: 'https://${last(split(id, '/'))}${environment().suffixes.keyvaultDns}/']
    retentionDays: retentionDays
    alertWebhookUrl: alertWebhookUrl
  }
}

module storageAccess 'app/storage-access.bicep' = {
  name: 'storage-access'
  scope: rg
  params: { storageAccountName: storage.outputs.accountName, principalId: function.outputs.principalId }
}

module backupRole 'app/backup-role.bicep' = {
  name: 'kvguard-backup-role'
  params: { environmentName: environmentName }
}

module vaultAccess 'app/vault-access.bicep' = [for (id, i) in protectedVaultIds: {
  name: 'vault-access-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: { vaultName: last(split(id, '/')), principalId: function.outputs.principalId, roleDefinitionId: backupRole.outputs.roleDefinitionId }
}]

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output KVGUARD_FUNCTION_APP string = function.outputs.name
output KVGUARD_FUNCTION_APP_ID string = function.outputs.id
output KVGUARD_STORAGE_ACCOUNT string = storage.outputs.accountName
output KVGUARD_PROTECTED_VAULT_IDS array = protectedVaultIds
