import { app } from '@azure/functions';
import { resolveSettingReferences } from './config';
import type { FunctionDefinition } from './functions/definition';
import { functionDefinitions } from './functions';

/** Registers one definition with the Azure Functions Node.js v4 programming model. */
export function registerFunction(definition: FunctionDefinition): void {
  switch (definition.trigger) {
    case 'http':
      app.http(definition.name, {
        route: definition.route,
        methods: definition.methods,
        authLevel: definition.authLevel,
        handler: definition.handler,
      });
      return;
    case 'timer':
      app.timer(definition.name, {
        schedule: resolveSettingReferences(definition.schedule),
        runOnStartup: definition.runOnStartup ?? false,
        handler: definition.handler,
      });
      return;
    case 'queue':
      app.storageQueue(definition.name, {
        queueName: resolveSettingReferences(definition.queueName),
        connection: definition.connection,
        handler: definition.handler,
      });
      return;
    case 'eventGrid':
      app.eventGrid(definition.name, { handler: definition.handler });
      return;
  }
}

app.setup({ enableHttpStream: false });
for (const definition of functionDefinitions) registerFunction(definition);
