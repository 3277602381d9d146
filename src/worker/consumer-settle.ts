import type { Logger } from '../observability/logger.ts';
import { requeueDelivery, type Delivery } from './delivery.ts';
import type { LlmUsage } from './handler-contract.ts';
import type { InFlight } from './consumer-in-flight.ts';
import { jobIdOf } from './job-context.ts';
import type { JobSettler } from './job-settler.ts';

/** Collaborators of {@link createConsumerSettle}. */
export interface ConsumerSettleDeps {
  /** The dispositions themselves (publishes, events, ack). */
  settler: JobSettler;
  /** Each delivery leaves it once settled. */
  inFlight: InFlight;
  logger: Logger;
  /** The consumer's job timeout, reported with a job that ran out of it. */
  timeoutMs: number;
}

/**
 * The consumer's last step for each delivery: hand it to the job settler
 * (ack, retry, dead letter; see job-settler.ts), never leave it unacked if
 * settling itself fails, and take it out of the in-flight set.
 */
export interface ConsumerSettle {
  /** The handler returned `result`. */
  succeeded(d: Delivery, result: unknown, usage: LlmUsage | undefined, seconds: number): Promise<void>;
  /** The handler threw `error` (or was aborted by the job timeout: `timedOut`). */
  failed(d: Delivery, error: unknown, seconds: number, timedOut: boolean): Promise<void>;
  /** The payload failed validation before any handler ran. */
  invalid(d: Delivery, message: string): void;
  /** Ordered consumers: a job of a blocked key, moved aside unrun. */
  diverted(d: Delivery, blockedBy: string): Promise<void>;
}

/** Creates the settle step of one consumer. */
export function createConsumerSettle(deps: ConsumerSettleDeps): ConsumerSettle {
  const { settler, inFlight, logger, timeoutMs } = deps;

  async function settle(d: Delivery, how: () => Promise<void>): Promise<void> {
    try {
      // Lost with its channel or to the shutdown: the broker redelivers it, nothing may be sent for it.
      if (d.settled || d.lost) return;
      await how();
    } catch (err) {
      // A bug in settling must not leave the job hanging unacked forever: hand it back.
      logger.error({ jobId: jobIdOf(d), err: (err as Error).message }, 'settling a job failed; requeueing it');
      requeueDelivery(d);
    } finally {
      inFlight.finish(d);
    }
  }

  return {
    succeeded: (d, result, usage, seconds) => settle(d, () => settler.succeed(d, result, usage, seconds)),
    failed: (d, error, seconds, timedOut) => settle(d, () => settler.fail(d, error, seconds, timedOut ? timeoutMs : undefined)),
    diverted(d, blockedBy) {
      d.state = 'settling';
      return settle(d, () => settler.divert(d, blockedBy));
    },
    invalid(d, message) {
      d.state = 'settling';
      settler
        .invalid(d, message)
        .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'settling an invalid payload failed'))
        .finally(() => inFlight.finish(d));
    },
  };
}
