// kvguard's access to one vault, in the vault's own resource group and subscription, and its audit trail.
// RBAC vaults get a role assignment; access-policy vaults get the equivalent access policy (Key Vault ignores role
// assignments for data access there, which used to leave such vaults silently unprotected).
param vaultName string
@allowed(['rbac', 'accessPolicy'])
param permissionModel string
@description('Principals (objects { id, type }) that get the access.')
param principals array
param roleDefinitionId string
param workspaceId string

resource vault 'Microsoft.KeyVault/vaults@2026-02-01' existing = {
  name: vaultName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principal in principals: if (permissionModel == 'rbac') {
    scope: vault
    name: guid(vault.id, principal.id, roleDefinitionId)
    properties: { principalId: principal.id, principalType: principal.type, roleDefinitionId: roleDefinitionId }
  }
]

// The backup role's rights as access-policy permissions: list and read metadata, backup, restore, recover.
// Secrets get no `get` (that would read values); nothing gets delete or purge.
resource accessPolicy 'Microsoft.KeyVault/vaults/accessPolicies@2026-02-01' = if (permissionModel == 'accessPolicy') {
  parent: vault
  name: 'add'
  properties: {
    accessPolicies: [
      for principal in principals: {
        tenantId: tenant().tenantId
        objectId: principal.id
        permissions: {
          keys: ['list', 'get', 'backup', 'restore', 'recover']
          secrets: ['list', 'backup', 'restore', 'recover']
          certificates: ['list', 'get', 'backup', 'restore', 'recover']
        }
      }
    ]
  }
}

// Who read, backed up, deleted or purged what: Key Vault's AuditEvent log, next to kvguard's own telemetry.
resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: vault
  name: 'kvguard-audit'
  properties: {
    workspaceId: workspaceId
    logs: [{ category: 'AuditEvent', enabled: true }]
  }
}
