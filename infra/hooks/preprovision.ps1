# Windows variant of preprovision.sh: read whether the backup retention policy is locked (ARM refuses PUTs of a
# locked policy), so main.bicep leaves it out.
$ErrorActionPreference = 'Stop'
if (-not $env:KVGUARD_BACKUP_ACCOUNT) { exit 0 }
$container = if ($env:KVGUARD_BACKUP_CONTAINER) { $env:KVGUARD_BACKUP_CONTAINER } else { 'kvguard-backups' }
$state = az storage container immutability-policy show --subscription $env:AZURE_SUBSCRIPTION_ID `
  -g $env:AZURE_RESOURCE_GROUP --account-name $env:KVGUARD_BACKUP_ACCOUNT -c $container --query state -o tsv 2>$null
azd env set KVGUARD_IMMUTABILITY_POLICY_LOCKED $(if ($state -eq 'Locked') { 'true' } else { 'false' })
Write-Output "kvguard: backup retention policy state: $state"
