// The official OpenAI Node SDK against a running `dsm serve --http-port`:
//   node sdk_check.mjs BASE_URL MODEL
// Exits non-zero (with the reason) on the first failed check.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });

// Completions, not streamed, n = 2 with a seed: two samples, usage counted.
const completion = await client.completions.create({
  model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0.8, seed: 7, n: 2,
});
assert.equal(completion.object, 'text_completion');
assert.equal(completion.choices.length, 2);
assert.equal(completion.usage.completion_tokens, 16);
for (const c of completion.choices) assert.equal(c.finish_reason, 'length');

// Completions, streamed: the deltas add up to the greedy answer.
const greedy = await client.completions.create({ model, prompt: 'The cat', max_tokens: 8, temperature: 0 });
let streamed = '';
for await (const chunk of await client.completions.create({
  model, prompt: 'The cat', max_tokens: 8, temperature: 0, stream: true,
})) {
  streamed += chunk.choices[0]?.text ?? '';
}
assert.equal(streamed, greedy.choices[0].text);

// Chat, not streamed and streamed with usage.
const chat = await client.chat.completions.create({
  model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
  max_tokens: 6, temperature: 0,
});
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices[0].message.role, 'assistant');
let content = '';
let usage = null;
const stream = await client.chat.completions.create({
  model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
  max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  content += chunk.choices[0]?.delta?.content ?? '';
}
assert.equal(content, chat.choices[0].message.content);
assert.equal(usage.completion_tokens, 6);

// A bad parameter: the SDK raises BadRequestError with the server's message.
await assert.rejects(
  client.completions.create({ model, prompt: 'x', max_tokens: 4, top_p: 5 }),
  (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /top_p/.test(e.message),
);
// An unknown model: 404.
await assert.rejects(
  client.completions.create({ model: 'no-such-model', prompt: 'x', max_tokens: 4 }),
  (e) => e instanceof OpenAI.NotFoundError,
);

// An abort mid-stream: the SDK stops cleanly and the server goes on serving.
const controller = new AbortController();
const long = await client.completions.create(
  { model, prompt: 'Long', max_tokens: 1500, temperature: 0, ignore_eos: true, stream: true },
  { signal: controller.signal },
);
let seen = 0;
try {
  for await (const chunk of long) {
    if (++seen === 3) controller.abort();
  }
} catch (e) {
  assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', String(e));
}
assert.ok(seen >= 3);
const after = await client.completions.create({ model, prompt: 'Again', max_tokens: 2, temperature: 0 });
assert.equal(after.choices.length, 1);

const models = await client.models.list();
assert.equal(models.data[0].id, model);
console.log('sdk checks passed');
