import { WarrenError, type WarrenErrorOptions } from './warren-error.ts';

/** The broker returned the message (mandatory flag): no queue is bound for this key. */
export class UnroutableError extends WarrenError {
  override readonly name = 'UnroutableError';
  readonly exchange: string;
  readonly routingKey: string;
  constructor(exchange: string, routingKey: string, options: WarrenErrorOptions = {}) {
    super('UNROUTABLE', `no queue is bound to exchange '${exchange}' for routing key '${routingKey}'`, {
      ...options,
      details: { exchange, routingKey },
    });
    this.exchange = exchange;
    this.routingKey = routingKey;
  }
}

/** The broker nacked the publish (e.g. a full queue with overflow reject-publish). */
export class PublishRejectedError extends WarrenError {
  override readonly name = 'PublishRejectedError';
  constructor(message: string, options: WarrenErrorOptions = {}) {
    super('PUBLISH_REJECTED', message, options);
  }
}

/** No confirm arrived in time, or the broker is disconnected. The job may not be stored. */
export class PublishTimeoutError extends WarrenError {
  override readonly name = 'PublishTimeoutError';
  constructor(message: string, options: WarrenErrorOptions = {}) {
    super('PUBLISH_TIMEOUT', message, options);
  }
}

/** The bounded publish buffer is full while disconnected. */
export class PublishBackpressureError extends WarrenError {
  override readonly name = 'PublishBackpressureError';
  constructor(message: string, options: WarrenErrorOptions = {}) {
    super('PUBLISH_BACKPRESSURE', message, options);
  }
}
