import { z } from 'zod';
import { chatCompletionPayloadSchema } from '../src/jobs/payload-schemas.ts';
try { console.log(JSON.stringify(z.toJSONSchema(chatCompletionPayloadSchema, { io: 'input' })).slice(0, 200)); } catch (e) { console.log('ERR', e); }
