// @aws-sdk/client-bedrock (control plane) against a real basalt serve: the model catalog.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BedrockClient, ListFoundationModelsCommand, GetFoundationModelCommand, ResourceNotFoundException } from '@aws-sdk/client-bedrock';
import { startBasalt } from './lib/basalt.mjs';

let basalt;
let client;

before(async () => {
  basalt = await startBasalt();
  client = new BedrockClient({ region: 'us-east-1', endpoint: basalt.url, credentials: basalt.awsCredentials, maxAttempts: 1 });
});

after(async () => {
  client?.destroy();
  await basalt?.stop();
});

test('ListFoundationModels lists the catalog', async () => {
  const r = await client.send(new ListFoundationModelsCommand({}));
  const chat = r.modelSummaries.find(m => m.modelId === 'upstream-chat');
  assert.ok(chat, JSON.stringify(r.modelSummaries));
  assert.equal(chat.providerName, 'Basalt Tests');
  assert.equal(chat.modelName, 'Scripted upstream chat');
  assert.ok(chat.modelArn.endsWith('foundation-model/upstream-chat'));
  assert.ok(chat.outputModalities.includes('TEXT'));
  assert.equal(chat.responseStreamingSupported, true);
});

test('ListFoundationModels filters by provider', async () => {
  const r = await client.send(new ListFoundationModelsCommand({ byProvider: 'Basalt Tests' }));
  assert.ok(r.modelSummaries.length >= 1);
  assert.ok(r.modelSummaries.every(m => m.providerName === 'Basalt Tests'));
  const none = await client.send(new ListFoundationModelsCommand({ byProvider: 'Nobody' }));
  assert.equal(none.modelSummaries.length, 0);
});

test('GetFoundationModel returns one model and 404s on an unknown one', async () => {
  const r = await client.send(new GetFoundationModelCommand({ modelIdentifier: 'upstream-chat' }));
  assert.equal(r.modelDetails.modelId, 'upstream-chat');
  await assert.rejects(client.send(new GetFoundationModelCommand({ modelIdentifier: 'nope' })), e => e instanceof ResourceNotFoundException);
});
