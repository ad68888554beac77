import type { AlertSink, Telemetry } from '../../core/ports';

/** Custom event name under which every alert lands in Application Insights (`customEvents`). */
export const ALERT_EVENT_NAME = 'kvguard.Alert';

/**
 * Sends alerts to Application Insights as custom events through the {@link Telemetry} port, so one Kusto query
 * (`customEvents | where name == "kvguard.Alert"`) finds them; the alert type is a property.
 */
export function appInsightsSink(telemetry: Telemetry): AlertSink {
  return {
    name: 'appInsights',
    async send(alert) {
      telemetry.event(ALERT_EVENT_NAME, {
        type: alert.type,
        severity: alert.severity,
        subject: alert.subject,
        summary: alert.summary,
        dedupeKey: alert.dedupeKey,
        occurredAt: alert.occurredAt,
        data: JSON.stringify(alert.data),
      });
    },
  };
}
