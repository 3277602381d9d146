import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { JobEventsConfig } from '../config/topology-schema.ts';
import type { JobEvent } from './job-event.ts';

/** Publishes job lifecycle events to the job-events exchange (fanout into the stream). */
export interface JobEventPublisher {
  /** Resolves once the broker confirmed the event. */
  emit(event: Omit<JobEvent, 'at'> & { at?: string }): Promise<void>;
}

/** Creates the event publisher used by the API (queued), workers (running ... dead-lettered) and the DLQ tooling (requeued). */
export function createJobEventPublisher(publisher: ConfirmPublisher, config: Pick<JobEventsConfig, 'exchange'>, source: string): JobEventPublisher {
  return {
    emit(event) {
      const full: JobEvent = { source, ...event, at: event.at ?? new Date().toISOString() } as JobEvent;
      return publisher.publish({
        exchange: config.exchange,
        routingKey: '',
        content: Buffer.from(JSON.stringify(full)),
        properties: { contentType: 'application/json', type: `job.${full.status}`, correlationId: full.jobId, timestamp: Date.now() },
      });
    },
  };
}
