// Log Analytics (with a daily cap) + workspace-based Application Insights with local auth off (ingestion only
// with Entra ID, hence Monitoring Metrics Publisher for kvguard's identity), an action group, alert rules and a
// workbook: someone is told when backups fail, runs stop, functions fail or kvguard raises an alert.
param location string
param tags object
param token string
param principalId string
param logDailyCapGb int
param rpoHours int
param alertEmails array
@secure()
param actionGroupWebhookUrl string

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' = {
  name: 'log-kvguard-${token}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 90
    workspaceCapping: { dailyQuotaGb: logDailyCapGb }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-kvguard-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: workspace.id, DisableLocalAuth: true }
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, principalId, monitoringMetricsPublisher)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-kvguard-${token}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'kvguard'
    enabled: true
    emailReceivers: [
      for (address, i) in alertEmails: { name: 'email-${i}', emailAddress: address, useCommonAlertSchema: true }
    ]
    webhookReceivers: empty(actionGroupWebhookUrl)
      ? []
      : [{ name: 'webhook', serviceUri: actionGroupWebhookUrl, useCommonAlertSchema: true }]
  }
}

// Each rule: a log query over Application Insights that returns rows when something is wrong.
var rules = [
  {
    name: 'kvguard-alert-raised'
    description: 'kvguard raised an alert (kvguard.* : object deleted or purged, backup failed, drill failed, ...).'
    severity: 1
    frequency: 'PT5M'
    window: 'PT5M'
    query: 'customMetrics | where name == "kvguard.alert.raised" | extend type = tostring(customDimensions.type) | summarize count() by type'
  }
  {
    name: 'kvguard-function-failures'
    description: 'A kvguard function invocation failed.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    query: 'requests | where success == false | summarize failures = count() by operation_Name'
  }
  {
    name: 'kvguard-rpo-breached'
    description: 'No backup job completed within the recovery point objective (${rpoHours} h).'
    severity: 1
    frequency: 'PT1H'
    window: 'PT${rpoHours}H'
    query: 'customEvents | where name == "kvguard.BackupJob" and tostring(customDimensions.outcome) == "completed" | summarize completed = count() | where completed == 0'
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = [
  for rule in rules: {
    name: '${rule.name}-${token}'
    location: location
    tags: tags
    properties: {
      displayName: rule.name
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [appInsights.id]
      evaluationFrequency: rule.frequency
      windowSize: rule.window
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: { actionGroups: [actionGroup.id] }
    }
  }
]

var workbookQueries = [
  {
    title: 'Backup runs per vault'
    query: 'customEvents | where name == "kvguard.BackupJob" | extend vault = tostring(customDimensions.vault), outcome = tostring(customDimensions.outcome) | summarize runs = count() by vault, outcome, bin(timestamp, 1h) | render timechart'
  }
  {
    title: 'Failures'
    query: 'requests | where success == false | summarize failures = count() by operation_Name, bin(timestamp, 1h) | render timechart'
  }
  {
    title: 'Key Vault throttling (429s kvguard absorbed)'
    query: 'customMetrics | where name == "kvguard.backup.throttled" | extend vault = tostring(customDimensions.vault) | summarize throttled = sum(value) by vault, bin(timestamp, 1h) | render timechart'
  }
  {
    title: 'Alerts raised'
    query: 'customMetrics | where name == "kvguard.alert.raised" | extend type = tostring(customDimensions.type), severity = tostring(customDimensions.severity) | summarize count() by type, severity, bin(timestamp, 1d)'
  }
]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'kvguard-workbook', token)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'kvguard: runs, failures, throttling, alerts'
    category: 'workbook'
    sourceId: appInsights.id
    serializedData: string({
      version: 'Notebook/1.0'
      items: [
        for (item, i) in workbookQueries: {
          type: 3
          name: 'query-${i}'
          content: {
            version: 'KqlItem/1.0'
            title: item.title
            query: item.query
            queryType: 0
            resourceType: 'microsoft.insights/components'
          }
        }
      ]
    })
  }
}

output workspaceId string = workspace.id
output appInsightsId string = appInsights.id
output actionGroupId string = actionGroup.id
@secure()
output connectionString string = appInsights.properties.ConnectionString
