// A least-privilege custom role for kvguard on Key Vault (RBAC permission model): list and read metadata, back up,
// restore, recover and purge — never read a secret value or use a key. Built-in roles either cannot back up or
// grant far more (Key Vault Administrator).
targetScope = 'subscription'
param environmentName string

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'kvguard-backup-operator', environmentName)
  properties: {
    roleName: 'kvguard Backup Operator (${environmentName})'
    description: 'Back up, restore, recover and purge Key Vault keys, secrets and certificates without reading values.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: ['Microsoft.KeyVault/vaults/read']
        dataActions: [
          'Microsoft.KeyVault/vaults/keys/read'
          'Microsoft.KeyVault/vaults/keys/backup/action'
          'Microsoft.KeyVault/vaults/keys/restore/action'
          'Microsoft.KeyVault/vaults/keys/delete'
          'Microsoft.KeyVault/vaults/deletedKeys/read'
          'Microsoft.KeyVault/vaults/deletedKeys/recover/action'
          'Microsoft.KeyVault/vaults/deletedKeys/delete'
          'Microsoft.KeyVault/vaults/secrets/readMetadata/action'
          'Microsoft.KeyVault/vaults/secrets/backup/action'
          'Microsoft.KeyVault/vaults/secrets/restore/action'
          'Microsoft.KeyVault/vaults/secrets/delete'
          'Microsoft.KeyVault/vaults/deletedSecrets/read'
          'Microsoft.KeyVault/vaults/deletedSecrets/recover/action'
          'Microsoft.KeyVault/vaults/deletedSecrets/delete'
          'Microsoft.KeyVault/vaults/certificates/read'
          'Microsoft.KeyVault/vaults/certificates/backup/action'
          'Microsoft.KeyVault/vaults/certificates/restore/action'
          'Microsoft.KeyVault/vaults/certificates/delete'
          'Microsoft.KeyVault/vaults/deletedCertificates/read'
          'Microsoft.KeyVault/vaults/deletedCertificates/recover/action'
          'Microsoft.KeyVault/vaults/deletedCertificates/delete'
        ]
      }
    ]
  }
}

output roleDefinitionId string = role.id
