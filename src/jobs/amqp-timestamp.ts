/**
 * The AMQP `timestamp` property, as warren writes and reads it.
 *
 * AMQP defines it as seconds since the epoch, and every message warren writes
 * (jobs, republished jobs, job events) carries seconds. Warren's job-event
 * messages used to carry milliseconds, and other clients write either, so a
 * reader takes any value above {@link LEGACY_MS_THRESHOLD} as milliseconds:
 * 1e11 seconds is the year 5138, 1e11 milliseconds is March 1973.
 */

/** Values above this are read as milliseconds, not seconds. */
export const LEGACY_MS_THRESHOLD = 1e11;

/** An AMQP timestamp (whole seconds) for a time in ms since the epoch. @default now */
export function toAmqpTimestamp(ms: number = Date.now()): number {
  return Math.floor(ms / 1000);
}

/** A timestamp read from a message (seconds as AMQP defines it, or legacy milliseconds) in ms since the epoch. */
export function amqpTimestampToMs(value: number): number {
  return value > LEGACY_MS_THRESHOLD ? value : value * 1000;
}

/** A timestamp to write again (a republish keeps the message's time): seconds, whichever unit it was written in. */
export function normalizeAmqpTimestamp(value: number): number {
  return value > LEGACY_MS_THRESHOLD ? Math.floor(value / 1000) : value;
}
