import { WarrenError, type WarrenErrorOptions } from './warren-error.ts';

/** The broker (AMQP or management API) could not be reached or refused us. */
export class BrokerUnavailableError extends WarrenError {
  override readonly name = 'BrokerUnavailableError';
  constructor(message: string, options: WarrenErrorOptions = {}) {
    super('BROKER_UNAVAILABLE', message, options);
  }
}

/** The management HTTP API answered with an error status. */
export class ManagementApiError extends WarrenError {
  override readonly name = 'ManagementApiError';
  readonly status: number;
  constructor(status: number, message: string, options: WarrenErrorOptions = {}) {
    super(status === 401 ? 'BROKER_AUTH_FAILED' : 'MANAGEMENT_API_ERROR', message, options);
    this.status = status;
  }
}
