// The Function App on Flex Consumption, running as kvguard's user-assigned identity with identity-based
// connections only (`__credential` + `__clientId`; AZURE_CLIENT_ID for kvguard's own SDK clients), Entra-only
// telemetry ingestion, and App Service authentication (Entra ID) in front of the HTTP API when an app
// registration is given: it validates bearer tokens and passes the caller's principal (with its app roles, e.g.
// kvguard.Restore) to the functions, which also require the function key. With pruning on, the prune identity is
// attached too; kvguard uses it for blob index tags only (KVGUARD_PRUNE_CLIENT_ID), everything else stays on
// AZURE_CLIENT_ID.
param location string
param tags object
param token string
param nodeVersion string
param identityId string
param identityClientId string
@description('Resource id of the prune identity, attached beside kvguard\'s own; empty: pruning off.')
param pruneIdentityId string
@description('Client id of the prune identity (KVGUARD_PRUNE_CLIENT_ID); empty: pruning off.')
param pruneIdentityClientId string
param runtimeAccountName string
param deploymentContainerName string
param stateContainerName string
param backupAccountName string
param backupContainerName string
@secure()
param appInsightsConnectionString string
param vaultUrls array
@description('The vaults of vaultUrls with portable exports on (empty: off).')
param portableVaultUrls array = []
@description('KVGUARD_PORTABLE_KEK: the key-encryption key id (empty: portable exports off).')
param portableKekId string = ''
param scratchVaultUrl string
param rpoHours int
@secure()
param alertWebhookUrl string
param discoverySubscriptionIds array
param discoveryTagName string
param authClientId string

resource runtimeAccount 'Microsoft.Storage/storageAccounts@2026-04-01' existing = {
  name: runtimeAccountName
}

resource backupAccount 'Microsoft.Storage/storageAccounts@2026-04-01' existing = {
  name: backupAccountName
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: 'plan-kvguard-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

var identitySettings = [
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
  { name: 'AzureWebJobsStorage__accountName', value: runtimeAccount.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
]
// With portable exports on, the vaults are a JSON array so the opted-in ones can say `"portable": true`.
var vaultsSetting = empty(portableKekId)
  ? join(vaultUrls, ',')
  : string(map(vaultUrls, url => contains(portableVaultUrls, url) ? { url: url, portable: true } : { url: url }))
var kvguardSettings = [
  { name: 'KVGUARD_VAULTS', value: vaultsSetting }
  { name: 'KVGUARD_PORTABLE_KEK', value: portableKekId }
  { name: 'KVGUARD_CREDENTIAL', value: 'default' }
  // Backups go to the WORM account; the queues (and the host's KVGUARD_STORAGE connection) to the runtime account.
  { name: 'KVGUARD_STORAGE__blobServiceUri', value: backupAccount.properties.primaryEndpoints.blob }
  { name: 'KVGUARD_STORAGE__queueServiceUri', value: runtimeAccount.properties.primaryEndpoints.queue }
  { name: 'KVGUARD_STORAGE__credential', value: 'managedidentity' }
  { name: 'KVGUARD_STORAGE__clientId', value: identityClientId }
  { name: 'KVGUARD_STATE_BLOB_SERVICE_URI', value: runtimeAccount.properties.primaryEndpoints.blob }
  { name: 'KVGUARD_CONTAINER', value: backupContainerName }
  { name: 'KVGUARD_STATE_CONTAINER', value: stateContainerName }
  // The infra creates the containers; kvguard has no containers/write on the backup account.
  { name: 'KVGUARD_CREATE_CONTAINERS', value: 'false' }
  // Container-level WORM is set by the infra; a per-blob policy would need immutability rights kvguard must not hold.
  { name: 'KVGUARD_IMMUTABILITY', value: 'container' }
  { name: 'KVGUARD_RPO_HOURS', value: string(rpoHours) }
  { name: 'KVGUARD_REQUIRE_PRINCIPAL', value: 'true' }
  // kvguard verifies Entra ID bearer tokens itself (issuer, audience, signature); without an app registration every
  // HTTP route refuses callers (fail closed) while timers, queues and Event Grid work as usual.
  { name: 'KVGUARD_AUTH_TENANT_ID', value: empty(authClientId) ? '' : tenant().tenantId }
  { name: 'KVGUARD_AUTH_AUDIENCE', value: empty(authClientId) ? '' : 'api://${authClientId},${authClientId}' }
  { name: 'KVGUARD_SCRATCH_VAULT', value: scratchVaultUrl }
  { name: 'KVGUARD_ALERT_WEBHOOK_URL', value: alertWebhookUrl }
  { name: 'KVGUARD_DISCOVERY_SUBSCRIPTIONS', value: join(discoverySubscriptionIds, ',') }
  { name: 'KVGUARD_DISCOVERY_TAG', value: discoveryTagName }
  // Only the prune identity may tag backups prunable; without it the retention pass plans and reports only.
  { name: 'KVGUARD_PRUNING', value: empty(pruneIdentityClientId) ? 'false' : 'true' }
  { name: 'KVGUARD_PRUNE_CLIENT_ID', value: pruneIdentityClientId }
]
var appIdentities = empty(pruneIdentityId) ? [identityId] : [identityId, pruneIdentityId]

resource app 'Microsoft.Web/sites@2025-03-01' = {
  name: 'func-kvguard-${token}'
  location: location
  tags: union(tags, { 'azd-service-name': 'kvguard' })
  kind: 'functionapp,linux'
  identity: { type: 'UserAssigned', userAssignedIdentities: toObject(appIdentities, id => id, id => {}) }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${runtimeAccount.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: nodeVersion }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: union(identitySettings, kvguardSettings)
    }
  }
}

// Tokens are validated when present; anonymous callers still reach the functions (Event Grid's webhook, function
// key callers), which then refuse what needs a principal.
resource auth 'Microsoft.Web/sites/config@2025-03-01' = if (!empty(authClientId)) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: { requireAuthentication: false, unauthenticatedClientAction: 'AllowAnonymous' }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: { allowedAudiences: ['api://${authClientId}', authClientId] }
      }
    }
    login: { tokenStore: { enabled: false } }
  }
}

output name string = app.name
output id string = app.id
output url string = 'https://${app.properties.defaultHostName}'
