/**
 * The package's public surface: what a project that installs warren imports
 * (`import { defineHandler, PermanentJobError, type JobHandler } from 'warren'`).
 * Kept small on purpose: the handler contract, the errors a handler throws, and
 * zod for payload schemas (the same copy warren validates with). Everything else
 * in src/ is internal and may change without notice; the `warren` CLI is the
 * other public interface.
 */
export { defineHandler, defineSchema } from './worker/define-handler.ts';
export { abortableSleep } from './worker/abortable-sleep.ts';
export type { Job, JobContext, JobHandler, LlmContext, LlmUsage } from './worker/handler-contract.ts';
export { PermanentJobError, TransientJobError } from './errors/job-errors.ts';
export { WarrenError, isWarrenError } from './errors/warren-error.ts';
export type { ChatCompletionPayload, TaskPayload } from './jobs/payload-schemas.ts';
export { z } from 'zod';
// For handlers that answer OpenAI front-door jobs (consumers/chat-completion.ts): the job header that says a client
// waits for a chat.completion as the provider returned it, and its value.
export { HEADERS } from './jobs/headers.ts';
export { OPENAI_REPLY_FORMAT } from './jobs/reply-messages.ts';
