import type { InvocationContext } from '@azure/functions';
import type { Logger } from '../core/ports';

/** A core {@link Logger} that writes through the invocation's context, so logs carry the invocation id. */
export function invocationLogger(context: InvocationContext): Logger {
  const line = (message: string, properties?: Record<string, unknown>) =>
    properties ? `${message} ${JSON.stringify(properties)}` : message;
  return {
    info: (message, properties) => context.log(line(message, properties)),
    warn: (message, properties) => context.warn(line(message, properties)),
    error: (message, properties) => context.error(line(message, properties)),
  };
}
