import { describe, expect, it } from 'vitest';
import { BrokerUnavailableError, JobPublishError, PublishBackpressureError, PublishRejectedError, PublishTimeoutError, UnroutableError, WarrenError } from '../../errors/index.ts';
import { ApiError } from '../api-error.ts';
import { toApiError } from '../http/to-api-error.ts';
import { apiErrorData, apiErrorFromData, errorData, errorFromData } from './batch-thread-protocol.ts';

const target = { route: 'chat', exchange: 'llm.jobs', routingKey: 'llm.standard.chat' };

describe('batch thread protocol', () => {
  it.each([
    ['unroutable', new UnroutableError('llm.jobs', 'llm.batch.chat')],
    ['nack', new PublishRejectedError('the broker refused the message')],
    ['timeout', new PublishTimeoutError('no confirm within 5000ms')],
    ['backpressure', new PublishBackpressureError('too many waiting')],
    ['disconnected', new BrokerUnavailableError('not connected')],
    ['missing exchange', new WarrenError('EXCHANGE_NOT_FOUND', "exchange 'x' does not exist")],
    ['anything else', new Error('boom')],
  ])('a publish error (%s) crossing threads gets the same HTTP answer as in the request thread', (_name, err) => {
    const here = toApiError(new JobPublishError(target, err));
    const there = toApiError(new JobPublishError(target, errorFromData(structuredClone(errorData(err)))));
    expect({ status: there.status, code: there.code, message: there.message, details: there.details, headers: there.headers }).toEqual({
      status: here.status,
      code: here.code,
      message: here.message,
      details: here.details,
      headers: here.headers,
    });
  });

  it('an ApiError crosses with its status, code, message, details and headers', () => {
    const err = new ApiError(400, 'VALIDATION_FAILED', '1 of 2 jobs are invalid', { details: [{ index: 1, path: 'jobs.1.model' }], headers: { 'x-a': 'b' } });
    const back = apiErrorFromData(structuredClone(apiErrorData(err)));
    expect(back).toBeInstanceOf(ApiError);
    expect([back.status, back.code, back.message, back.details, back.headers]).toEqual([400, 'VALIDATION_FAILED', '1 of 2 jobs are invalid', [{ index: 1, path: 'jobs.1.model' }], { 'x-a': 'b' }]);
  });
});
