# Windows variant of postprovision.sh: lock the backup retention policy once, when asked and still unlocked.
$ErrorActionPreference = 'Stop'
if ($env:KVGUARD_LOCK_IMMUTABILITY -ne 'true') { exit 0 }
$container = if ($env:KVGUARD_BACKUP_CONTAINER) { $env:KVGUARD_BACKUP_CONTAINER } else { 'kvguard-backups' }
$target = @('--subscription', $env:AZURE_SUBSCRIPTION_ID, '-g', $env:AZURE_RESOURCE_GROUP,
  '--account-name', $env:KVGUARD_BACKUP_ACCOUNT, '-c', $container)
$policy = az storage container immutability-policy show @target | ConvertFrom-Json
if ($policy.state -eq 'Unlocked') {
  az storage container immutability-policy lock @target --if-match $policy.etag --only-show-errors | Out-Null
  Write-Output 'kvguard: backup retention policy locked'
}
azd env set KVGUARD_IMMUTABILITY_POLICY_LOCKED true
