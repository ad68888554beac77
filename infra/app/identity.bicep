// The one user-assigned identity kvguard runs as. It exists, with its role assignments, before the Function App,
// so the app's first start can already read its deployment package and its storage (the azd Flex templates' way).
param location string
param tags object
param token string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-kvguard-${token}'
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
