// Starts a real `basalt serve` process on a free loopback port, with a config that routes
// "upstream-chat" (alias "chat") to the scripted OpenAI-compatible upstream and, when ../shared is
// present, "stories" to the local engine serving stories260K.gguf. Keys are created with the CLI.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream } from './upstream.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const projectRoot = path.resolve(here, '..', '..', '..');
const cliDll = path.join(projectRoot, 'src', 'Basalt.Cli', 'bin', 'Release', 'net10.0', 'basalt.dll');
const sharedRoot = process.env.BASALT_SHARED || path.resolve(projectRoot, '..', 'shared');
export const storiesModel = path.join(sharedRoot, 'models', 'stories260K.gguf');
export const hasShared = fs.existsSync(storiesModel);
if (!hasShared && process.env.CI === 'true') throw new Error('CI=true but ../shared/models/stories260K.gguf is missing');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

export function basaltCli(args, dataDir) {
  return execFileSync('dotnet', [cliDll, ...args, '--data-dir', dataDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function waitHealthy(url, proc, log) {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error('basalt serve exited early:\n' + log());
    try {
      const r = await fetch(url + '/healthz');
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error('basalt serve did not become healthy:\n' + log());
}

export async function startBasalt() {
  const upstream = await startUpstream();
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'basalt-conf-'));
  const models = [
    `  - id: upstream-chat`,
    `    provider: upstream`,
    `    upstreamName: scripted-upstream-model`,
    `    displayName: Scripted upstream chat`,
    `    providerName: Basalt Tests`,
    `    contextWindow: 8192`,
    `    inputPricePerMillion: 1.5`,
    `    outputPricePerMillion: 2`,
    `    capabilities: { tools: true }`,
    `    aliases: [chat]`,
  ];
  if (hasShared) {
    models.push(`  - id: stories`, `    provider: local`, `    path: ${storiesModel}`, `    contextWindow: 512`, `    providerName: Basalt`);
  }
  const config = [
    'server:',
    `  listen: 127.0.0.1:${port}`,
    `  dataDir: ${dataDir}`,
    'providers:',
    '  upstream:',
    '    type: openai',
    `    baseUrl: ${upstream.url}`,
    '    apiKey: upstream-secret',
    ...(hasShared ? ['  local:', '    type: local'] : []),
    'models:',
    ...models,
    '',
  ].join('\n');
  const configPath = path.join(dataDir, 'basalt.yaml');
  fs.writeFileSync(configPath, config);

  const bearer = JSON.parse(basaltCli(['keys', 'create', '--name', 'conformance-bearer', '--json'], dataDir));
  const aws = JSON.parse(basaltCli(['keys', 'create', '--name', 'conformance-aws', '--aws', '--json'], dataDir));
  const revoked = JSON.parse(basaltCli(['keys', 'create', '--name', 'conformance-revoked', '--json'], dataDir));
  basaltCli(['keys', 'revoke', 'conformance-revoked'], dataDir);

  let output = '';
  const proc = spawn('dotnet', [cliDll, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', d => (output += d));
  proc.stderr.on('data', d => (output += d));
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, () => output);
  return {
    url,
    upstream,
    bearerKey: bearer.key,
    revokedKey: revoked.key,
    awsCredentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
    log: () => output,
    alive: () => proc.exitCode === null,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise(r => (proc.exitCode !== null ? r() : proc.on('exit', r)));
      await upstream.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
