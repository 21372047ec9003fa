// A loopback OpenAI-compatible upstream (the wire format of OpenAI, vLLM and llama.cpp's server),
// scripted so that conformance tests know what the model "says":
// - with tools offered and a user turn last: it calls the first tool with {"city":"Paris"};
// - with a tool result last: it answers "The weather in Paris is sunny.";
// - otherwise it echoes: "Hello from upstream: <last user text>".
import http from 'node:http';

function lastMessage(body) {
  return body.messages[body.messages.length - 1];
}

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.filter(p => p.type === 'text').map(p => p.text).join('');
  return '';
}

function reply(body) {
  const last = lastMessage(body);
  if (body.tools && body.tools.length > 0 && last.role === 'user') {
    return { toolCall: { id: 'call_up_1', name: body.tools[0].function.name, arguments: '{"city":"Paris"}' } };
  }
  if (last.role === 'tool') return { text: 'The weather in Paris is sunny.' };
  return { text: 'Hello from upstream: ' + textOf(last.content) };
}

function usage(body, r) {
  const prompt = body.messages.map(m => textOf(m.content)).join(' ').split(/\s+/).filter(Boolean).length;
  const completion = r.text ? r.text.split(/\s+/).length : 5;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function startUpstream() {
  const requests = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', c => (data += c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
        return;
      }
      const body = JSON.parse(data);
      requests.push(body);
      const r = reply(body);
      const u = usage(body, r);
      const id = 'chatcmpl-up' + requests.length;
      const created = Math.floor(Date.now() / 1000);
      if (!body.stream) {
        const message = r.text
          ? { role: 'assistant', content: r.text }
          : { role: 'assistant', content: null, tool_calls: [{ id: r.toolCall.id, type: 'function', function: { name: r.toolCall.name, arguments: r.toolCall.arguments } }] };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id, object: 'chat.completion', created, model: body.model, choices: [{ index: 0, message, finish_reason: r.text ? 'stop' : 'tool_calls' }], usage: u }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const send = obj => res.write('data: ' + JSON.stringify(obj) + '\n\n');
      const chunk = (delta, finish = null) => ({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] });
      send(chunk({ role: 'assistant', content: '' }));
      if (r.text) {
        for (const piece of r.text.match(/\S+\s*/g)) send(chunk({ content: piece }));
        send(chunk({}, 'stop'));
      } else {
        send(chunk({ tool_calls: [{ index: 0, id: r.toolCall.id, type: 'function', function: { name: r.toolCall.name, arguments: '' } }] }));
        const a = r.toolCall.arguments;
        send(chunk({ tool_calls: [{ index: 0, function: { arguments: a.slice(0, 5) } }] }));
        send(chunk({ tool_calls: [{ index: 0, function: { arguments: a.slice(5) } }] }));
        send(chunk({}, 'tool_calls'));
      }
      if (body.stream_options && body.stream_options.include_usage) send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage: u });
      res.write('data: [DONE]\n\n');
      res.end();
    });
  });
  return new Promise(resolve => {
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}/v1`, requests, close: () => new Promise(r => server.close(r)) }));
  });
}
