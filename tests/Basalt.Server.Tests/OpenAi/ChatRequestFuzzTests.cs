using System.Net;
using System.Text;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.OpenAi;

/// <summary>Seeded random damage to valid requests: every answer is a success, an OpenAI 400, or a 404 for a damaged
/// model name; never a 500.</summary>
public sealed class ChatRequestFuzzTests
{
    private const int Mutations = 400;

    private static readonly string[] Seeds =
    [
        """{"model":"scripted-model","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello"}],"max_tokens":20,"temperature":0.5,"stop":["x"]}""",
        """{"model":"scripted-tools","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}},"metadata":{"k":"v"}}""",
    ];

    private static readonly string[] Fragments = ["{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "1e999", "\\u0000", "\\ud800", "\"\"", "{}", "[]"];

    [Fact]
    public async Task ChatCompletions_RandomlyDamagedBodies_AreNeverAServerError()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var random = new Random(20251123);
        var statuses = new Dictionary<HttpStatusCode, int>();

        for (var i = 0; i < Mutations; i++)
        {
            var body = Mutate(Encoding.UTF8.GetBytes(Seeds[i % Seeds.Length]), random);
            var (status, json) = await OpenAiHttp.PostChatAsync(client, body);
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.True(status is HttpStatusCode.OK or HttpStatusCode.BadRequest or HttpStatusCode.NotFound,
                $"mutation {i} gave {(int)status}: {Encoding.UTF8.GetString(body)} -> {json}");
            if (status == HttpStatusCode.NotFound)
                Assert.Equal("model_not_found", OpenAiHttp.Error(json, "invalid_request_error").GetProperty("code").GetString());
            else if (status == HttpStatusCode.BadRequest)
                OpenAiHttp.Error(json, "invalid_request_error");
        }

        // The damage must actually reach both outcomes, or the test proves nothing.
        Assert.True(statuses.GetValueOrDefault(HttpStatusCode.BadRequest) > Mutations / 4, string.Join(", ", statuses));
        Assert.True(statuses.GetValueOrDefault(HttpStatusCode.OK) > 0, string.Join(", ", statuses));
    }

    private static byte[] Mutate(byte[] body, Random random)
    {
        var bytes = new List<byte>(body);
        var edits = random.Next(1, 4);
        for (var e = 0; e < edits && bytes.Count > 0; e++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 1:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes.RemoveAt(at);
                    break;
                case 3:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(Fragments[random.Next(Fragments.Length)]));
                    break;
                default:
                    // Swap a value for another kind of value: find the next ':' and replace what follows up to ',' or '}'.
                    var colon = bytes.IndexOf((byte)':', at);
                    if (colon < 0)
                        break;
                    var end = colon + 1;
                    while (end < bytes.Count && bytes[end] is not (byte)',' and not (byte)'}')
                        end++;
                    bytes.RemoveRange(colon + 1, end - colon - 1);
                    bytes.InsertRange(colon + 1, Encoding.UTF8.GetBytes(Fragments[random.Next(Fragments.Length)]));
                    break;
            }
        }
        return [.. bytes];
    }
}
