/** Key Vault and ARM events as kvguard reads them, and the use case that acts on them. */
export { parseEnvelope, type EventEnvelope, type Parsed } from './envelope';
export { classifyEvent, parseObjectId, type ClassifiedEvent, type VaultEvent, type ObjectEvent } from './vault-event';
export { handleVaultEvent, type VaultEventDependencies, type VaultEventResult } from './handle-vault-event';
