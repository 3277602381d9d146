#!/usr/bin/env node
// The container's HEALTHCHECK: exit 0 when this container's warren answers GET /healthz, on the API
// port (`start api` / `start all`) or else on the worker's metrics port (`start worker`). Reads the
// same WARREN_API_PORT / WARREN_METRICS_PORT the process was started with (src/config/env-settings.ts).
const ports = [process.env.WARREN_API_PORT || '8080', process.env.WARREN_METRICS_PORT].filter(Boolean);
for (const port of ports) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
    if (res.ok) process.exit(0);
  } catch {
    // not listening on this one; try the next
  }
}
process.stderr.write(`warren: no /healthz answered on port(s) ${ports.join(', ')}\n`);
process.exit(1);
