#!/usr/bin/env bash
# After the code is deployed (the functions exist only then): subscribe vaultEvents to each protected vault's
# Key Vault events and to the subscription's ARM ResourceDeleteSuccess events for vaults; optionally lock the
# backup container's immutability policy (irreversible).
set -euo pipefail
: "${AZURE_RESOURCE_GROUP:?}" "${KVGUARD_FUNCTION_APP_ID:?}" "${KVGUARD_STORAGE_ACCOUNT:?}"
function_id="${KVGUARD_FUNCTION_APP_ID}/functions/vaultEvents"
location="${AZURE_LOCATION:?}"
vault_ids=$(echo "${KVGUARD_PROTECTED_VAULT_IDS:-[]}" | tr -d '[]" ' | tr ',' ' ')

for vault_id in $vault_ids; do
  name="evgt-kvguard-$(basename "$vault_id")"
  az eventgrid system-topic create -g "$AZURE_RESOURCE_GROUP" -n "$name" --location "$location" \
    --topic-type Microsoft.KeyVault.vaults --source "$vault_id" --only-show-errors >/dev/null
  az eventgrid system-topic event-subscription create -g "$AZURE_RESOURCE_GROUP" --system-topic-name "$name" \
    -n kvguard --endpoint-type azurefunction --endpoint "$function_id" --event-delivery-schema eventgridschema \
    --included-event-types Microsoft.KeyVault.KeyNewVersionCreated Microsoft.KeyVault.KeyNearExpiry Microsoft.KeyVault.KeyExpired \
      Microsoft.KeyVault.SecretNewVersionCreated Microsoft.KeyVault.SecretNearExpiry Microsoft.KeyVault.SecretExpired \
      Microsoft.KeyVault.CertificateNewVersionCreated Microsoft.KeyVault.CertificateNearExpiry Microsoft.KeyVault.CertificateExpired \
      Microsoft.KeyVault.VaultAccessPolicyChanged --only-show-errors >/dev/null
done

# Key Vault sends no event when a vault is deleted: listen to ARM on the subscription instead.
subscription_topic="evgt-kvguard-subscription"
az eventgrid system-topic create -g "$AZURE_RESOURCE_GROUP" -n "$subscription_topic" --location global \
  --topic-type Microsoft.Resources.Subscriptions --source "/subscriptions/$(az account show --query id -o tsv)" --only-show-errors >/dev/null
az eventgrid system-topic event-subscription create -g "$AZURE_RESOURCE_GROUP" --system-topic-name "$subscription_topic" \
  -n kvguard-vault-deleted --endpoint-type azurefunction --endpoint "$function_id" \
  --included-event-types Microsoft.Resources.ResourceDeleteSuccess \
  --advanced-filter data.operationName StringIn Microsoft.KeyVault/vaults/delete --only-show-errors >/dev/null

if [ "${KVGUARD_LOCK_IMMUTABILITY:-false}" = "true" ]; then
  etag=$(az storage container immutability-policy show --account-name "$KVGUARD_STORAGE_ACCOUNT" -c kvguard-backups --query etag -o tsv)
  az storage container immutability-policy lock --account-name "$KVGUARD_STORAGE_ACCOUNT" -c kvguard-backups --if-match "$etag" --only-show-errors >/dev/null
fi
echo "kvguard: event subscriptions in place for $(echo "$vault_ids" | wc -w) vault(s)"
