// The key-encryption key of portable exports, in a vault of another geography (RBAC): kvguard (and the operator, who
// restores from the CLI) may read it and wrap/unwrap data keys with it; nothing else in that vault.
param vaultName string
@description('Principals (objects { id, type }) that get the access.')
param principals array
param roleDefinitionId string

resource vault 'Microsoft.KeyVault/vaults@2026-02-01' existing = {
  name: vaultName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principal in principals: {
    scope: vault
    name: guid(vault.id, principal.id, roleDefinitionId)
    properties: { principalId: principal.id, principalType: principal.type, roleDefinitionId: roleDefinitionId }
  }
]
