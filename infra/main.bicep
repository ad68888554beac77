// kvguard: a Flex Consumption Function App with one user-assigned identity (and, only with `enablePruning`, a second
// one that may set blob index tags), a WORM backup account apart from the mutable runtime account, least-privilege
// Key Vault access on every protected vault (any resource group or subscription of the tenant), Event Grid
// subscriptions, and monitoring that tells someone when backups fail.
// `azd up` runs this twice on a new environment: once before the code exists, and once more from the postdeploy
// hook with `enableEventSubscriptions` (an Event Grid subscription to a function needs the deployed function).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names, tags and deployment names derive from it, so two environments never collide.')
param environmentName string

@minLength(1)
@description('Region of kvguard. Key Vault restores only within one subscription and geography: keep kvguard beside the vaults it protects.')
param location string

@minLength(1)
@description('Vaults to protect: objects { id: vault resource id, permissionModel?: "rbac" | "accessPolicy", existingSystemTopicId?: resource id of the Event Grid system topic the vault already has, portable?: true to export its secrets and certificates portably (needs portableKekId) }. Any resource group or subscription of the tenant.')
param protectedVaults array

@description('Key id (https://<vault>.vault.azure.net/keys/<name>) of the key-encryption key of portable exports, in a vault of another geography. Empty: portable exports off, and kvguard never reads a secret value.')
param portableKekId string = ''

@description('Resource id of the KEK\'s vault (RBAC), where kvguard gets wrap/unwrap on keys. Required with portableKekId.')
param portableKekVaultId string = ''

@description('Node.js version of the Flex Consumption runtime. Node 22 is supported until 2027-04-30; move on before then (README, "Upgrade path").')
param nodeVersion string = '22'

@description('Days each backup stays immutable (container-level time-based retention on the backup container).')
@minValue(1)
@maxValue(146000)
param retentionDays int = 90

@description('Let storage lifecycle management delete the backups kvguard\'s retention plan marks prunable: creates a second identity, the only one that may tag backups (README, "Pruning under WORM"). Off: nothing is ever deleted.')
param enablePruning bool = false

@description('Set by the preprovision hook from the live policy: true when the policy is already locked, so it is never PUT again (ARM refuses updates of a locked policy).')
param immutabilityPolicyLocked bool = false

@description('Create the Event Grid subscriptions. The postdeploy hook sets it once the functions exist.')
param enableEventSubscriptions bool = false

@description('Resource id of an existing Microsoft.Resources.Subscriptions system topic per subscription (object: subscription id -> topic id). Only one such topic may exist per subscription.')
param existingSubscriptionTopicIds object = {}

@description('Create a scratch vault for the weekly restore drill (ignored when scratchVaultId is set).')
param createScratchVault bool = true

@description('Resource id of an existing vault to use for restore drills instead of creating one.')
param scratchVaultId string = ''

@description('Subscriptions whose vaults tagged with discoveryTagName are protected too (re-discovered on each schedule).')
param discoverySubscriptionIds array = []

@minLength(1)
@description('Tag that marks a vault for discovery; value "protect".')
param discoveryTagName string = 'kvguard'

@description('Recovery point objective in hours: an alert fires when no backup run completed for this long.')
@minValue(1)
@maxValue(48)
param rpoHours int = 24

@description('E-mail addresses the action group notifies.')
param alertEmails array = []

@secure()
@description('Webhook of the Azure Monitor action group (common alert schema). Carries a token: kept secure.')
param actionGroupWebhookUrl string = ''

@secure()
@description('kvguard\'s own alert webhook (generic JSON, Teams or Slack). Carries a token: kept secure.')
param alertWebhookUrl string = ''

@description('Client id of the Entra ID app registration that fronts the HTTP API (App Service authentication). Empty: no authentication provider; restores over HTTP are then refused.')
param authClientId string = ''

@description('Object id of an operator (user or group) who runs the CLI against this deployment; gets the same data rights as kvguard.')
param operatorPrincipalId string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
param operatorPrincipalType string = 'User'

@minValue(1)
@maxValue(100)
@description('Daily ingestion cap of the Log Analytics workspace, in GB.')
param logDailyCapGb int = 1

var tags = { 'azd-env-name': environmentName, application: 'kvguard' }
var resourceGroupName = 'rg-kvguard-${environmentName}'
var token = toLower(uniqueString(subscription().id, environmentName, location))
// Deployment names are unique per environment (and subscription/region, through the token) and stay under 64.
var deploymentPrefix = 'kvguard-${take(environmentName, 24)}-${take(token, 6)}'
var vaultSubscriptions = union(map(protectedVaults, v => split(v.id, '/')[2]), [subscription().subscriptionId])
var roleSubscriptions = union(vaultSubscriptions, discoverySubscriptionIds)
// The resource group the subscription-level system topic of each subscription lives in: kvguard's own group in its
// subscription, else the group of the first protected vault there, else the group of an existing topic.
var subscriptionTopicGroups = union(
  toObject(protectedVaults, v => split(v.id, '/')[2], v => split(v.id, '/')[4]),
  toObject([subscription().subscriptionId], id => id, id => resourceGroupName),
  toObject(items(existingSubscriptionTopicIds), t => t.key, t => split(t.value, '/')[4])
)
// kvguard's identity, plus the operator when one is named: both get the same data rights.
var dataPrincipals = union(
  [{ id: identity.outputs.principalId, type: 'ServicePrincipal' }],
  empty(operatorPrincipalId) ? [] : [{ id: operatorPrincipalId, type: operatorPrincipalType }]
)
var withPortable = !empty(portableKekId)
var portableVaults = withPortable ? filter(protectedVaults, v => contains(v, 'portable') && v.portable == true) : []
var scratchIsExisting = !empty(scratchVaultId)
var withScratchVault = createScratchVault || scratchIsExisting
// Known before deployment (a module's scope must be): the given vault, or the one scratch-vault.bicep creates.
var scratchName = scratchIsExisting ? last(split(scratchVaultId, '/')) : 'kv-kvgdrill-${take(token, 12)}'
var scratchSubscription = scratchIsExisting ? split(scratchVaultId, '/')[2] : subscription().subscriptionId
var scratchGroup = scratchIsExisting ? split(scratchVaultId, '/')[4] : resourceGroupName

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: '${deploymentPrefix}-identity'
  scope: rg
  params: { location: location, tags: tags, name: 'id-kvguard-${token}' }
}

// Tags backups prunable and nothing else; kvguard's own identity keeps its create-only rights.
module pruneIdentity 'app/identity.bicep' = if (enablePruning) {
  name: '${deploymentPrefix}-prune-identity'
  scope: rg
  params: { location: location, tags: tags, name: 'id-kvguard-prune-${token}' }
}

module monitoring 'app/monitoring.bicep' = {
  name: '${deploymentPrefix}-monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    token: token
    principalId: identity.outputs.principalId
    logDailyCapGb: logDailyCapGb
    rpoHours: rpoHours
    alertEmails: alertEmails
    actionGroupWebhookUrl: actionGroupWebhookUrl
  }
}

module runtimeStorage 'app/runtime-storage.bicep' = {
  name: '${deploymentPrefix}-runtime-storage'
  scope: rg
  params: {
    location: location
    tags: tags
    token: token
    principalId: identity.outputs.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

module backupStorage 'app/backup-storage.bicep' = {
  name: '${deploymentPrefix}-backup-storage'
  scope: rg
  params: {
    location: location
    tags: tags
    token: token
    environmentName: environmentName
    retentionDays: retentionDays
    immutabilityPolicyLocked: immutabilityPolicyLocked
    principals: dataPrincipals
    workspaceId: monitoring.outputs.workspaceId
    prunePrincipalId: enablePruning ? pruneIdentity!.outputs.principalId : ''
  }
}

module vaultRoles 'app/vault-roles.bicep' = {
  name: '${deploymentPrefix}-vault-roles'
  params: {
    environmentName: environmentName
    assignableSubscriptionIds: union(
      roleSubscriptions,
      withPortable && !empty(portableKekVaultId) ? [split(portableKekVaultId, '/')[2]] : []
    )
    enablePortable: withPortable
  }
}

module portableAccess 'app/portable-access.bicep' = [
  for (vault, i) in portableVaults: {
    name: take('${deploymentPrefix}-portable-${i}-${last(split(vault.id, '/'))}', 64)
    scope: resourceGroup(split(vault.id, '/')[2], split(vault.id, '/')[4])
    params: {
      vaultName: last(split(vault.id, '/'))
      permissionModel: contains(vault, 'permissionModel') ? vault.permissionModel : 'rbac'
      principals: dataPrincipals
      roleDefinitionId: vaultRoles.outputs.portableExportRoleId
    }
  }
]

module kekAccess 'app/kek-access.bicep' = if (withPortable && !empty(portableKekVaultId)) {
  name: '${deploymentPrefix}-portable-kek'
  scope: resourceGroup(split(portableKekVaultId, '/')[2], split(portableKekVaultId, '/')[4])
  params: {
    vaultName: last(split(portableKekVaultId, '/'))
    principals: dataPrincipals
    roleDefinitionId: vaultRoles.outputs.kekRoleId
  }
}

module discoveryAccess 'app/discovery-access.bicep' = [
  for (id, i) in discoverySubscriptionIds: {
    name: '${deploymentPrefix}-discovery-${i}'
    scope: subscription(id)
    params: { principalId: identity.outputs.principalId, roleDefinitionId: vaultRoles.outputs.listerRoleId }
  }
]

module scratchVault 'app/scratch-vault.bicep' = if (createScratchVault && !scratchIsExisting) {
  name: '${deploymentPrefix}-scratch-vault'
  scope: rg
  params: { location: location, tags: tags, name: scratchName }
}

module scratchAccess 'app/vault-access.bicep' = if (withScratchVault) {
  name: '${deploymentPrefix}-scratch-access'
  scope: resourceGroup(scratchSubscription, scratchGroup)
  dependsOn: [scratchVault, rg]
  params: {
    vaultName: scratchName
    permissionModel: 'rbac'
    principals: dataPrincipals
    roleDefinitionId: vaultRoles.outputs.drillRoleId
    workspaceId: monitoring.outputs.workspaceId
  }
}

module vaultAccess 'app/vault-access.bicep' = [
  for (vault, i) in protectedVaults: {
    name: take('${deploymentPrefix}-vault-${i}-${last(split(vault.id, '/'))}', 64)
    scope: resourceGroup(split(vault.id, '/')[2], split(vault.id, '/')[4])
    params: {
      vaultName: last(split(vault.id, '/'))
      permissionModel: contains(vault, 'permissionModel') ? vault.permissionModel : 'rbac'
      principals: dataPrincipals
      roleDefinitionId: vaultRoles.outputs.backupRoleId
      workspaceId: monitoring.outputs.workspaceId
    }
  }
]

module function 'app/function.bicep' = {
  name: '${deploymentPrefix}-function'
  scope: rg
  params: {
    location: location
    tags: tags
    token: token
    nodeVersion: nodeVersion
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    pruneIdentityId: enablePruning ? pruneIdentity!.outputs.id : ''
    pruneIdentityClientId: enablePruning ? pruneIdentity!.outputs.clientId : ''
    runtimeAccountName: runtimeStorage.outputs.accountName
    deploymentContainerName: runtimeStorage.outputs.deploymentContainerName
    stateContainerName: runtimeStorage.outputs.stateContainerName
    backupAccountName: backupStorage.outputs.accountName
    backupContainerName: backupStorage.outputs.containerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    vaultUrls: [for vault in protectedVaults: 'https://${last(split(vault.id, '/'))}${environment().suffixes.keyvaultDns}/']
    portableVaultUrls: [
      for vault in portableVaults: 'https://${last(split(vault.id, '/'))}${environment().suffixes.keyvaultDns}/'
    ]
    portableKekId: portableKekId
    scratchVaultUrl: withScratchVault ? 'https://${scratchName}${environment().suffixes.keyvaultDns}/' : ''
    rpoHours: rpoHours
    alertWebhookUrl: alertWebhookUrl
    discoverySubscriptionIds: discoverySubscriptionIds
    discoveryTagName: discoveryTagName
    authClientId: authClientId
  }
}

// Where each vault's system topic is: the one it already has, or a new one beside the vault.
var vaultTopics = [
  for vault in protectedVaults: {
    name: last(split(vault.id, '/'))
    sourceId: vault.id
    existingName: contains(vault, 'existingSystemTopicId') ? last(split(vault.existingSystemTopicId, '/')) : ''
    subscriptionId: split(contains(vault, 'existingSystemTopicId') ? vault.existingSystemTopicId : vault.id, '/')[2]
    resourceGroup: split(contains(vault, 'existingSystemTopicId') ? vault.existingSystemTopicId : vault.id, '/')[4]
  }
]
var eventDelivery = {
  functionId: function.outputs.id
  identityId: identity.outputs.id
  deadLetterAccountId: runtimeStorage.outputs.accountId
  deadLetterContainerName: runtimeStorage.outputs.deadLetterContainerName
  actionGroupId: monitoring.outputs.actionGroupId
}

module vaultEvents 'app/event-subscription.bicep' = [
  for (topic, i) in (enableEventSubscriptions ? vaultTopics : []): {
    name: take('${deploymentPrefix}-events-${i}-${topic.name}', 64)
    scope: resourceGroup(topic.subscriptionId, topic.resourceGroup)
    params: {
      topicKind: 'vault'
      sourceId: topic.sourceId
      existingTopicName: topic.existingName
      newTopicName: 'evgt-kvguard-${environmentName}-${topic.name}'
      tags: tags
      delivery: eventDelivery
    }
  }
]

module subscriptionEvents 'app/event-subscription.bicep' = [
  for (sub, i) in (enableEventSubscriptions ? vaultSubscriptions : []): {
    name: take('${deploymentPrefix}-sub-events-${i}', 64)
    scope: resourceGroup(sub, subscriptionTopicGroups[sub])
    params: {
      topicKind: 'subscription'
      sourceId: '/subscriptions/${sub}'
      existingTopicName: contains(existingSubscriptionTopicIds, sub) ? last(split(existingSubscriptionTopicIds[sub], '/')) : ''
      newTopicName: 'evgt-kvguard-${environmentName}-subscription'
      tags: tags
      delivery: eventDelivery
    }
  }
]

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CLIENT_ID string = identity.outputs.clientId
output KVGUARD_FUNCTION_APP string = function.outputs.name
output KVGUARD_FUNCTION_APP_ID string = function.outputs.id
output KVGUARD_FUNCTION_URL string = function.outputs.url
output KVGUARD_PRINCIPAL_ID string = identity.outputs.principalId
output KVGUARD_PRUNE_CLIENT_ID string = enablePruning ? pruneIdentity!.outputs.clientId : ''
output KVGUARD_BACKUP_ACCOUNT string = backupStorage.outputs.accountName
output KVGUARD_BACKUP_CONTAINER string = backupStorage.outputs.containerName
output KVGUARD_RUNTIME_ACCOUNT string = runtimeStorage.outputs.accountName
output KVGUARD_BACKUP_ROLE_ID string = vaultRoles.outputs.backupRoleId
output KVGUARD_PURGE_ROLE_ID string = vaultRoles.outputs.breakGlassPurgeRoleId
