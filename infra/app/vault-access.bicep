// Grants kvguard's identity the backup operator role on one protected vault (RBAC permission model).
param vaultName string
param principalId string
param roleDefinitionId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: roleDefinitionId }
}
