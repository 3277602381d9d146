import { createTestApp, get } from '../src/api/api-test-kit.test-support.ts';
const t = createTestApp({ logger: { error: (...a: unknown[]) => console.log('LOG', a), warn() {}, info() {}, debug() {}, child() { return this; } } as never });
const res = await t.app.request('/openapi.json', get());
console.log(res.status, (await res.text()).slice(0, 300));
