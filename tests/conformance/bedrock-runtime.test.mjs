// @aws-sdk/client-bedrock-runtime, signed with a Basalt-issued AWS key, against a real basalt serve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, CountTokensCommand,
  ResourceNotFoundException, ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { startBasalt, hasShared } from './lib/basalt.mjs';

let basalt;
let client;

const weatherTool = {
  toolSpec: {
    name: 'get_weather',
    description: 'Current weather of a city',
    inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
};

before(async () => {
  basalt = await startBasalt();
  client = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: basalt.url, credentials: basalt.awsCredentials, maxAttempts: 1 });
});

after(async () => {
  client?.destroy();
  await basalt?.stop();
});

test('Converse returns the upstream text with usage and latency', async () => {
  const r = await client.send(new ConverseCommand({
    modelId: 'upstream-chat',
    system: [{ text: 'You are terse.' }],
    messages: [{ role: 'user', content: [{ text: 'ping one two' }] }],
    inferenceConfig: { maxTokens: 50, temperature: 0.2 },
  }));
  assert.equal(r.output.message.role, 'assistant');
  assert.equal(r.output.message.content[0].text, 'Hello from upstream: ping one two');
  assert.equal(r.stopReason, 'end_turn');
  assert.ok(r.usage.inputTokens > 0);
  assert.equal(r.usage.totalTokens, r.usage.inputTokens + r.usage.outputTokens);
  assert.equal(typeof r.metrics.latencyMs, 'number');
  assert.equal(basalt.upstream.requests.at(-1).model, 'scripted-upstream-model');
});

test('Converse resolves a model alias', async () => {
  const r = await client.send(new ConverseCommand({ modelId: 'chat', messages: [{ role: 'user', content: [{ text: 'alias' }] }] }));
  assert.equal(r.output.message.content[0].text, 'Hello from upstream: alias');
});

test('ConverseStream streams text deltas in Bedrock event order', async () => {
  const r = await client.send(new ConverseStreamCommand({
    modelId: 'upstream-chat',
    messages: [{ role: 'user', content: [{ text: 'stream this please' }] }],
  }));
  const kinds = [];
  let text = '';
  let stopReason;
  let usage;
  for await (const e of r.stream) {
    const kind = Object.keys(e)[0];
    kinds.push(kind);
    if (e.contentBlockDelta) text += e.contentBlockDelta.delta.text ?? '';
    if (e.messageStop) stopReason = e.messageStop.stopReason;
    if (e.metadata) usage = e.metadata.usage;
  }
  assert.equal(text, 'Hello from upstream: stream this please');
  assert.equal(kinds[0], 'messageStart');
  assert.equal(kinds.at(-1), 'metadata');
  assert.ok(kinds.includes('contentBlockStop'));
  assert.equal(stopReason, 'end_turn');
  assert.ok(usage.outputTokens > 0);
});

test('ConverseStream with tools streams a toolUse block, and the tool result round-trips', async () => {
  const messages = [{ role: 'user', content: [{ text: 'What is the weather in Paris?' }] }];
  const r = await client.send(new ConverseStreamCommand({ modelId: 'upstream-chat', messages, toolConfig: { tools: [weatherTool] } }));
  let start;
  let input = '';
  let stopReason;
  for await (const e of r.stream) {
    if (e.contentBlockStart?.start?.toolUse) start = e.contentBlockStart.start.toolUse;
    if (e.contentBlockDelta?.delta?.toolUse) input += e.contentBlockDelta.delta.toolUse.input;
    if (e.messageStop) stopReason = e.messageStop.stopReason;
  }
  assert.equal(start.name, 'get_weather');
  assert.ok(start.toolUseId);
  assert.deepEqual(JSON.parse(input), { city: 'Paris' });
  assert.equal(stopReason, 'tool_use');

  messages.push({ role: 'assistant', content: [{ toolUse: { toolUseId: start.toolUseId, name: start.name, input: JSON.parse(input) } }] });
  messages.push({ role: 'user', content: [{ toolResult: { toolUseId: start.toolUseId, content: [{ json: { sky: 'sunny' } }], status: 'success' } }] });
  const second = await client.send(new ConverseCommand({ modelId: 'upstream-chat', messages, toolConfig: { tools: [weatherTool] } }));
  assert.equal(second.output.message.content[0].text, 'The weather in Paris is sunny.');
  const upstreamTurn = basalt.upstream.requests.at(-1).messages;
  assert.equal(upstreamTurn.at(-1).role, 'tool');
  assert.equal(upstreamTurn.at(-1).tool_call_id, start.toolUseId);
});

test('Converse with tools returns toolUse with stopReason tool_use', async () => {
  const r = await client.send(new ConverseCommand({
    modelId: 'upstream-chat',
    messages: [{ role: 'user', content: [{ text: 'weather?' }] }],
    toolConfig: { tools: [weatherTool], toolChoice: { auto: {} } },
  }));
  assert.equal(r.stopReason, 'tool_use');
  const use = r.output.message.content.find(b => b.toolUse).toolUse;
  assert.equal(use.name, 'get_weather');
  assert.deepEqual(use.input, { city: 'Paris' });
});

test('CountTokens counts the input of a Converse request', async () => {
  const r = await client.send(new CountTokensCommand({
    modelId: 'upstream-chat',
    input: { converse: { messages: [{ role: 'user', content: [{ text: 'count these tokens please' }] }] } },
  }));
  assert.ok(r.inputTokens > 0);
});

test('an unknown model surfaces as the SDK\'s ResourceNotFoundException', async () => {
  await assert.rejects(
    client.send(new ConverseCommand({ modelId: 'no-such-model', messages: [{ role: 'user', content: [{ text: 'x' }] }] })),
    e => e instanceof ResourceNotFoundException && e.$metadata.httpStatusCode === 404 && /no-such-model/.test(e.message));
});

test('an out-of-range maxTokens surfaces as the SDK\'s ValidationException naming the field', async () => {
  await assert.rejects(
    client.send(new ConverseCommand({ modelId: 'upstream-chat', messages: [{ role: 'user', content: [{ text: 'x' }] }], inferenceConfig: { maxTokens: 0 } })),
    e => e instanceof ValidationException && e.$metadata.httpStatusCode === 400 && /maxTokens/.test(e.message));
});

test('a request signed with the wrong secret is refused with 403', async () => {
  const bad = new BedrockRuntimeClient({
    region: 'us-east-1', endpoint: basalt.url, maxAttempts: 1,
    credentials: { accessKeyId: basalt.awsCredentials.accessKeyId, secretAccessKey: 'wrong' + basalt.awsCredentials.secretAccessKey.slice(5) },
  });
  await assert.rejects(
    bad.send(new ConverseCommand({ modelId: 'upstream-chat', messages: [{ role: 'user', content: [{ text: 'x' }] }] })),
    e => e.$metadata.httpStatusCode === 403);
  bad.destroy();
});

test('the local engine serves stories260K through Converse and ConverseStream alike', { skip: hasShared ? false : 'no ../shared outside CI' }, async () => {
  const request = { modelId: 'stories', messages: [{ role: 'user', content: [{ text: 'Once upon a time' }] }], inferenceConfig: { maxTokens: 30, temperature: 0 } };
  const r = await client.send(new ConverseCommand(request));
  const text = r.output.message.content[0].text;
  assert.ok(text.length > 0);
  assert.ok(['end_turn', 'max_tokens'].includes(r.stopReason));
  const s = await client.send(new ConverseStreamCommand(request));
  let streamed = '';
  for await (const e of s.stream) if (e.contentBlockDelta) streamed += e.contentBlockDelta.delta.text ?? '';
  assert.equal(streamed, text);
});

test('the server is still up after every bad request', () => {
  assert.ok(basalt.alive(), basalt.log());
});
