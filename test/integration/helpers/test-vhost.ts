import { randomUUID } from 'node:crypto';
import { createManagementClient, seg, type ManagementClient } from '../../../src/broker/management-client.ts';
import { eventKeyParameterName } from '../../../src/jobs/job-event-key.ts';
import { TEST_AMQP_BASE, TEST_MANAGEMENT_URL } from './broker-env.ts';
import { deleteVhostWithEventKey } from '../../../src/jobs/job-event-key.ts';

/** A freshly created vhost on the real broker, owned by one test file. */
export interface TestVhost {
  vhost: string;
  /** AMQP URL pointing at the vhost. */
  amqpUrl: string;
  managementUrl: string;
  management: ManagementClient;
  /** Deletes the vhost and everything in it. */
  cleanup(): Promise<void>;
}

/** Creates `warren-test-<prefix>-<uuid>` and grants guest full permissions on it. */
export async function createTestVhost(prefix: string): Promise<TestVhost> {
  // Creating a vhost starts its message stores: on a busy 2-core CI box that can take well over 10 s.
  const management = createManagementClient({ url: TEST_MANAGEMENT_URL, timeoutMs: 60_000 });
  const vhost = `warren-test-${prefix}-${randomUUID().slice(0, 8)}`;
  await management.put(`/vhosts/${seg(vhost)}`, {});
  await management.put(`/permissions/${seg(vhost)}/guest`, { configure: '.*', write: '.*', read: '.*' });
  return {
    vhost,
    amqpUrl: `${TEST_AMQP_BASE.replace(/\/$/, '')}/${seg(vhost)}`,
    managementUrl: TEST_MANAGEMENT_URL,
    management,
    cleanup: async () => {
      await deleteVhostWithEventKey(management, vhost);
      // The job-event key warren created for the vhost lives outside it (a global parameter).
      await management.delete(`/global-parameters/${seg(eventKeyParameterName(vhost))}`, { ignoreNotFound: true });
    },
  };
}
