import { WarrenError } from '../errors/index.ts';

/** The provider answered, but its content filter withheld the completion (`finish_reason: content_filter`). */
export class ContentFilterError extends WarrenError {
  override readonly name = 'ContentFilterError';
  constructor(message = 'the provider withheld the completion: finish_reason content_filter') {
    super('CONTENT_FILTER', message);
  }
}
