// A user-assigned identity kvguard runs as. kvguard's own identity exists, with its role assignments, before the
// Function App, so the app's first start can already read its deployment package and its storage (the azd Flex
// templates' way); the prune identity (only with `enablePruning`) is a second one, used for blob index tags only.
param location string
param tags object
@minLength(3)
@maxLength(128)
@description('Name of the identity: id-kvguard-<token> for kvguard itself, id-kvguard-prune-<token> for tagging.')
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
