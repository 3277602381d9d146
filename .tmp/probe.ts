import OpenAI from 'openai';
import { startFrontDoorRig } from '../test/integration/helpers/front-door.ts';
const rig = await startFrontDoorRig('probe');
const sdk = rig.client();
const direct = new OpenAI({ baseURL: rig.llm.url, apiKey: 'x', maxRetries: 0 });
for (const [name, c] of [['direct', direct], ['warren', sdk]] as const) {
  const ms: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi ' + i }] });
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  console.log(name, 'p50', ms[15]?.toFixed(1), 'max', ms[29]?.toFixed(1));
}
await rig.close();
