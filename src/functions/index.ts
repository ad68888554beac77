import type { FunctionDefinition } from './definition';

/**
 * Every function kvguard defines. The Azure Functions entry point (`src/index.ts`) and the local dev host both
 * register exactly this list, so what runs locally is what runs in Azure.
 */
export const functionDefinitions: FunctionDefinition[] = [];
