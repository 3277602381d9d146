// DlqError lives in src/errors/ (the API maps it without importing the DLQ tooling); this re-export keeps
// the DLQ files' relative imports working.
export { DlqError, type DlqErrorCode } from '../errors/dlq-error.ts';
