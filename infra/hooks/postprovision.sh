#!/bin/sh
# After provisioning: lock the backup container's retention policy when KVGUARD_LOCK_IMMUTABILITY=true and it is
# still unlocked (never twice: locking is irreversible and a locked policy accepts no update).
set -eu
[ "${KVGUARD_LOCK_IMMUTABILITY:-false}" = "true" ] || exit 0
container="${KVGUARD_BACKUP_CONTAINER:-kvguard-backups}"
set -- --subscription "$AZURE_SUBSCRIPTION_ID" -g "$AZURE_RESOURCE_GROUP" --account-name "$KVGUARD_BACKUP_ACCOUNT" -c "$container"
state=$(az storage container immutability-policy show "$@" --query state -o tsv)
if [ "$state" = "Unlocked" ]; then
  etag=$(az storage container immutability-policy show "$@" --query etag -o tsv)
  az storage container immutability-policy lock "$@" --if-match "$etag" --only-show-errors >/dev/null
  echo "kvguard: backup retention policy locked"
fi
azd env set KVGUARD_IMMUTABILITY_POLICY_LOCKED true
