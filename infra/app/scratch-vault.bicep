// The scratch vault the weekly restore drill restores into (and clears again). RBAC model; no purge protection,
// since the drill purges what it restored.
param location string
param tags object
param name string

resource scratch 'Microsoft.KeyVault/vaults@2026-02-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

output id string = scratch.id
