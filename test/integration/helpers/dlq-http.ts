import { createTestApp } from '../../../src/api/api-test-kit.test-support.ts';
import { createDlqRequests } from '../../../src/dlq/dlq-requests.ts';
import type { DlqService } from '../../../src/dlq/dlq-service.ts';

/** Key of the test kit that holds the `admin` scope. */
const ADMIN_KEY = 'admin-key-0123456789';

/**
 * The API's /v1/dlq endpoints over a real DLQ service, wired the way `warren start` wires them
 * (src/dlq's request handling behind the API's routes and its one error handler), answered in
 * process with `app.request`. `path` is relative to /v1/dlq, e.g. `/dead?pageSize=5`.
 */
export function dlqHttp(service: DlqService, maxRequeues = 5): (path: string, init?: RequestInit) => Promise<Response> {
  const { app } = createTestApp({ dlq: createDlqRequests(service, { maxRequeues }) });
  return async (path, init = {}) => app.request(`/v1/dlq${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(init.headers as Record<string, string> | undefined) } });
}
