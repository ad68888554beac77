// Portable exports of one vault (only vaults with `portable: true`, only when a KEK is configured): kvguard may read
// secret values there, which the standing backup role never allows. RBAC vaults get the portable-export role;
// access-policy vaults get `get` on secrets (an access policy adds to what the vault already grants).
param vaultName string
@allowed(['rbac', 'accessPolicy'])
param permissionModel string
@description('Principals (objects { id, type }) that get the access.')
param principals array
param roleDefinitionId string

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

resource accessPolicy 'Microsoft.KeyVault/vaults/accessPolicies@2026-02-01' = if (permissionModel == 'accessPolicy') {
  parent: vault
  name: 'add'
  properties: {
    accessPolicies: [
      for principal in principals: {
        tenantId: tenant().tenantId
        objectId: principal.id
        permissions: { secrets: ['get'] }
      }
    ]
  }
}
