// One Event Grid system topic (created, or the one its source already has: only one system topic may exist per
// source) with kvguard's subscription to it: retries, dead letters to the runtime account, and an alert when
// deliveries fail. `vault` topics carry Key Vault object events; `subscription` topics ARM's vault deletions (Key
// Vault sends no event of its own when a vault is deleted).
@allowed(['vault', 'subscription'])
param topicKind string
@description('Resource id of the source: the vault, or /subscriptions/<id>.')
param sourceId string
@description('Name of the system topic the source already has, in this resource group; empty to create one.')
param existingTopicName string
param newTopicName string
param tags object
@description('Where events go: { functionId, identityId, deadLetterAccountId, deadLetterContainerName, actionGroupId }.')
param delivery object

var reuse = !empty(existingTopicName)
var vaultEventTypes = [
  'Microsoft.KeyVault.KeyNewVersionCreated'
  'Microsoft.KeyVault.KeyNearExpiry'
  'Microsoft.KeyVault.KeyExpired'
  'Microsoft.KeyVault.SecretNewVersionCreated'
  'Microsoft.KeyVault.SecretNearExpiry'
  'Microsoft.KeyVault.SecretExpired'
  'Microsoft.KeyVault.CertificateNewVersionCreated'
  'Microsoft.KeyVault.CertificateNearExpiry'
  'Microsoft.KeyVault.CertificateExpired'
  'Microsoft.KeyVault.VaultAccessPolicyChanged'
]

var subscription = {
  destination: {
    endpointType: 'AzureFunction'
    properties: { resourceId: '${delivery.functionId}/functions/vaultEvents', maxEventsPerBatch: 1 }
  }
  eventDeliverySchema: 'EventGridSchema'
  filter: topicKind == 'vault'
    ? { includedEventTypes: vaultEventTypes }
    : {
        includedEventTypes: ['Microsoft.Resources.ResourceDeleteSuccess']
        advancedFilters: [
          { operatorType: 'StringIn', key: 'data.operationName', values: ['Microsoft.KeyVault/vaults/delete'] }
        ]
      }
  // Event Grid retries with backoff for up to a day, then dead-letters: nothing is dropped silently.
  retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
}
var deadLetterDestination = {
  endpointType: 'StorageBlob'
  properties: { resourceId: delivery.deadLetterAccountId, blobContainerName: delivery.deadLetterContainerName }
}

resource vault 'Microsoft.KeyVault/vaults@2026-02-01' existing = if (topicKind == 'vault' && !reuse) {
  name: last(split(sourceId, '/'))
}

resource createdTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (!reuse) {
  name: newTopicName
  // A vault's system topic lives in the vault's region; the subscription topic is global.
  location: topicKind == 'vault' ? vault!.location : 'global'
  tags: tags
  identity: { type: 'UserAssigned', userAssignedIdentities: toObject([delivery.identityId], id => id, id => {}) }
  properties: {
    source: sourceId
    topicType: topicKind == 'vault' ? 'Microsoft.KeyVault.vaults' : 'Microsoft.Resources.Subscriptions'
  }
}

resource reusedTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = if (reuse) {
  name: existingTopicName
}

resource createdSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (!reuse) {
  parent: createdTopic
  name: 'kvguard'
  properties: union(subscription, {
    deadLetterWithResourceIdentity: {
      identity: { type: 'UserAssigned', userAssignedIdentity: delivery.identityId }
      deadLetterDestination: deadLetterDestination
    }
  })
}

// A reused topic keeps its owner's identity settings: dead letters go through its system-assigned identity
// (README: "Vaults that already have an Event Grid system topic").
resource reusedSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (reuse) {
  parent: reusedTopic
  name: 'kvguard'
  properties: union(subscription, {
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: deadLetterDestination
    }
  })
}

resource deliveryAlert 'Microsoft.Insights/metricAlerts@2026-01-01' = {
  name: 'kvguard-delivery-${reuse ? existingTopicName : newTopicName}'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Grid could not deliver events to kvguard (failed attempts or dead letters).'
    severity: 2
    enabled: true
    scopes: [reuse ? reusedTopic!.id : createdTopic!.id]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-lettered'
          metricName: 'DeadLetteredCount'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [{ actionGroupId: delivery.actionGroupId }]
  }
}

