import type { ConsumeMessage } from 'amqplib';
import type { ConsumerConfig } from '../config/topology-schema.ts';
import { estimateChatTokens } from '../llm/estimate-tokens.ts';
import { budgetKeys, type RateLimiter } from '../llm/rate-limiter.ts';
import type { FlowControl } from './consumer-flow-control.ts';
import type { InFlight } from './consumer-in-flight.ts';
import type { ConsumerSettle } from './consumer-settle.ts';
import { createDelivery, type ChannelSession } from './delivery.ts';
import { readAttempt, readRoute, type AmqpHeaders } from '../jobs/job-headers.ts';
import type { PayloadValidator } from './payload-validator.ts';
import type { WorkerMetrics } from './worker-metrics.ts';
import { isReleaseEnd, type OrderedLanes } from './ordered-lanes.ts';

/** Collaborators of {@link createConsumerIntake}. */
export interface ConsumerIntakeDeps {
  /** Consumer name, for metrics. */
  consumer: string;
  /** The consumer's topology entry (provider and model name the rate-limit budget). */
  config: ConsumerConfig;
  /** Checks the payload against the route's schema. */
  validator: PayloadValidator;
  /** Says whether the budget keys are rate-limited at all. */
  limiter: RateLimiter;
  metrics: WorkerMetrics;
  inFlight: InFlight;
  /** Takes each valid delivery. */
  flow: FlowControl;
  /** Takes each invalid one. */
  settle: ConsumerSettle;
  /** True once the consumer is shutting down: deliveries still arriving go straight back. */
  stopping(): boolean;
  /** Ordered consumers: each delivery waits for the earlier ones of its key (ordered-lanes.ts). */
  lanes?: OrderedLanes | undefined;
}

/**
 * What happens to a message as it arrives: during shutdown it goes back to
 * the queue; otherwise its payload is validated (an invalid one is settled at
 * once, without a handler), its rate-limit budget estimated, and it is handed
 * to flow control.
 */
export type ConsumerIntake = (s: ChannelSession, msg: ConsumeMessage) => void;

/** Creates the intake of one consumer. */
export function createConsumerIntake(deps: ConsumerIntakeDeps): ConsumerIntake {
  const { consumer, config, validator, limiter, metrics, inFlight, flow, settle } = deps;
  return (s, msg) => {
    if (deps.stopping() || !s.open) {
      if (s.open) {
        try {
          s.channel.nack(msg, false, true);
          s.acks.settled(msg.fields.deliveryTag);
        } catch {
          // channel closing: the broker requeues it anyway
        }
      }
      return;
    }
    const headers = msg.properties.headers as AmqpHeaders | undefined;
    const d = createDelivery(s, msg, readAttempt(headers));
    inFlight.add(d);
    if (msg.fields.redelivered) metrics.redeliveries.inc({ consumer });
    // Ordered routes: a requeue's end marker is no job; its lane acks it in its turn (ordered-lanes.ts).
    if (deps.lanes && isReleaseEnd(d)) {
      deps.lanes.admit(d, () => undefined);
      return;
    }
    const routeHeader = readRoute(headers);
    const v = validator.validate(msg.content, routeHeader);
    if (!v.ok) {
      d.route = routeHeader ?? validator.defaultRoute;
      if (deps.lanes) deps.lanes.admit(d, () => settle.invalid(d, v.message));
      else settle.invalid(d, v.message);
      return;
    }
    d.payload = v.payload;
    d.route = v.route;
    if (config.provider !== undefined) {
      const model = config.model ?? (v.payload as { model?: unknown } | null)?.model;
      d.budgetKeys = budgetKeys(config.provider, typeof model === 'string' ? model : undefined);
      d.tokens = limiter.governs(d.budgetKeys) ? estimateChatTokens(v.payload) : 0;
    }
    if (deps.lanes) deps.lanes.admit(d, () => flow.admit(d));
    else flow.admit(d);
  };
}
