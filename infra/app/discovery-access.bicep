// Lets kvguard list the vaults of one subscription (discovery by tag): the Vault Lister role at subscription scope.
targetScope = 'subscription'

param principalId string
param roleDefinitionId string

resource lister 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionId)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: roleDefinitionId }
}
