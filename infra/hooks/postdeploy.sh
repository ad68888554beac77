#!/bin/sh
# After the first deployment of the code: an Event Grid subscription to a function can only be created once the
# function exists, so provision once more with the subscriptions on. Later `azd up` runs include them directly.
set -eu
[ "${KVGUARD_EVENT_SUBSCRIPTIONS:-false}" = "true" ] && exit 0
azd env set KVGUARD_EVENT_SUBSCRIPTIONS true
azd provision --no-prompt
