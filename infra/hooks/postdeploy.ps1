# Windows variant of postdeploy.sh: once the functions exist, provision again with the Event Grid subscriptions.
$ErrorActionPreference = 'Stop'
if ($env:KVGUARD_EVENT_SUBSCRIPTIONS -eq 'true') { exit 0 }
azd env set KVGUARD_EVENT_SUBSCRIPTIONS true
azd provision --no-prompt
