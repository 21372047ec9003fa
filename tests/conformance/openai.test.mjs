// The official `openai` npm package with a Basalt Bearer key, against a real basalt serve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startBasalt, hasShared } from './lib/basalt.mjs';

let basalt;
let client;

const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

before(async () => {
  basalt = await startBasalt();
  client = new OpenAI({ apiKey: basalt.bearerKey, baseURL: basalt.url + '/v1', maxRetries: 0 });
});

after(async () => {
  await basalt?.stop();
});

test('chat.completions.create returns the upstream text and usage', async () => {
  const r = await client.chat.completions.create({
    model: 'upstream-chat',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi there' }],
    max_tokens: 20,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'upstream-chat');
  assert.equal(r.choices[0].message.content, 'Hello from upstream: hi there');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('streaming yields the same text and a final usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model: 'upstream-chat', messages: [{ role: 'user', content: 'stream me' }], stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish;
  let usage;
  for await (const chunk of stream) {
    if (chunk.choices.length > 0) {
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'Hello from upstream: stream me');
  assert.equal(finish, 'stop');
  assert.ok(usage.completion_tokens > 0);
});

test('tools: a tool call, then the tool result answered', async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const first = await client.chat.completions.create({ model: 'upstream-chat', messages, tools, tool_choice: 'auto' });
  assert.equal(first.choices[0].finish_reason, 'tool_calls');
  const call = first.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  messages.push(first.choices[0].message);
  messages.push({ role: 'tool', tool_call_id: call.id, content: '{"sky":"sunny"}' });
  const second = await client.chat.completions.create({ model: 'upstream-chat', messages, tools });
  assert.equal(second.choices[0].message.content, 'The weather in Paris is sunny.');
});

test('tools while streaming: tool_calls deltas assemble into the call', async () => {
  const stream = await client.chat.completions.create({ model: 'upstream-chat', messages: [{ role: 'user', content: 'Weather?' }], tools, stream: true });
  let name = '';
  let args = '';
  let finish;
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta;
    for (const tc of d?.tool_calls ?? []) {
      name += tc.function?.name ?? '';
      args += tc.function?.arguments ?? '';
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(name, 'get_weather');
  assert.deepEqual(JSON.parse(args), { city: 'Paris' });
  assert.equal(finish, 'tool_calls');
});

test('models.list and models.retrieve show the catalog', async () => {
  const list = await client.models.list();
  const ids = list.data.map(m => m.id);
  assert.ok(ids.includes('upstream-chat'));
  const one = await client.models.retrieve('upstream-chat');
  assert.equal(one.id, 'upstream-chat');
});

test('an unknown model is the SDK\'s NotFoundError', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }), e => e instanceof OpenAI.NotFoundError);
});

test('n > 1 is a BadRequestError', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'upstream-chat', n: 2, messages: [{ role: 'user', content: 'x' }] }), e => e instanceof OpenAI.BadRequestError);
});

test('a wrong key and a revoked key are AuthenticationError', async () => {
  for (const apiKey of ['bsk-not-a-real-key', basalt.revokedKey]) {
    const bad = new OpenAI({ apiKey, baseURL: basalt.url + '/v1', maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'upstream-chat', messages: [{ role: 'user', content: 'x' }] }), e => e instanceof OpenAI.AuthenticationError);
  }
});

test('the local engine serves stories260K, streamed and not alike', { skip: hasShared ? false : 'no ../shared outside CI' }, async () => {
  const req = { model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 30, temperature: 0 };
  const r = await client.chat.completions.create(req);
  const text = r.choices[0].message.content;
  assert.ok(text.length > 0);
  const stream = await client.chat.completions.create({ ...req, stream: true });
  let streamed = '';
  for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(streamed, text);
});

test('the server is still up', () => {
  assert.ok(basalt.alive(), basalt.log());
});
