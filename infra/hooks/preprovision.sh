#!/bin/sh
# Before every provisioning: read whether the backup container's retention policy is already locked. ARM refuses
# any PUT of a locked policy, so main.bicep then leaves the policy out (immutabilityPolicyLocked=true).
# Runs against the azd environment's subscription, whatever `az account show` says.
set -eu
[ -n "${KVGUARD_BACKUP_ACCOUNT:-}" ] || exit 0 # first provisioning: nothing exists yet
state=$(az storage container immutability-policy show --subscription "$AZURE_SUBSCRIPTION_ID" \
  -g "$AZURE_RESOURCE_GROUP" --account-name "$KVGUARD_BACKUP_ACCOUNT" -c "${KVGUARD_BACKUP_CONTAINER:-kvguard-backups}" \
  --query state -o tsv 2>/dev/null || echo none)
if [ "$state" = "Locked" ]; then locked=true; else locked=false; fi
azd env set KVGUARD_IMMUTABILITY_POLICY_LOCKED "$locked"
echo "kvguard: backup retention policy state: $state"
