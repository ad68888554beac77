// The Function App on Flex Consumption (Node 20), system-assigned identity, identity-based connections only.
param location string
param tags object
param token string
param storageAccountName string
param deploymentContainerName string
@secure()
param appInsightsConnectionString string
param vaultUrls array
param retentionDays int
@secure()
param alertWebhookUrl string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-kvguard-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-kvguard-${token}'
  location: location
  tags: union(tags, { 'azd-service-name': 'kvguard' })
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: '20' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' }
        { name: 'KVGUARD_VAULTS', value: join(vaultUrls, ',') }
        { name: 'KVGUARD_STORAGE__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
        { name: 'KVGUARD_STORAGE__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
        { name: 'KVGUARD_STORAGE__credential', value: 'managedidentity' }
        { name: 'KVGUARD_IMMUTABILITY', value: 'version' }
        { name: 'KVGUARD_RETENTION_DAYS', value: string(retentionDays) }
        { name: 'KVGUARD_REQUIRE_PRINCIPAL', value: 'true' }
        { name: 'KVGUARD_ALERT_WEBHOOK_URL', value: alertWebhookUrl }
      ]
    }
  }
}

output name string = app.name
output id string = app.id
output principalId string = app.identity.principalId
