import { z } from 'zod';

/** `all-or-nothing`: any invalid job rejects the batch. `best-effort`: valid jobs go, each gets a result. */
export const batchModeSchema = z.enum(['all-or-nothing', 'best-effort']);
export type BatchMode = z.infer<typeof batchModeSchema>;
