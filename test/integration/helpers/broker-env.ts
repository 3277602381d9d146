/** Where integration tests find the real broker (override with env for another host). */
export const TEST_AMQP_BASE = process.env.WARREN_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const TEST_MANAGEMENT_URL = process.env.WARREN_TEST_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
