using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.OpenAi;

namespace Basalt.Bench;

/// <summary>CPU cost of the OpenAI face alone, without HTTP: parse a chat request into the native contract and write
/// the chat.completion answer, on one thread. Prints time and allocation per request.</summary>
internal static class OpenAiTranslateBench
{
    public static int Run(string[] args)
    {
        var iterations = args.Length > 0 && int.TryParse(args[0], out var n) ? n : 200_000;
        var small = Encoding.UTF8.GetBytes("""{"model":"bench-model","max_tokens":64,"temperature":0.2,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France?"}]}""");
        var tools = Encoding.UTF8.GetBytes("""
            {"model":"bench-model","messages":[{"role":"system","content":"You answer with tools."},{"role":"user","content":"Weather in Paris?"},
             {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
             {"role":"tool","tool_call_id":"call_1","content":"{\"sky\":\"sunny\",\"temp\":21}"}],
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
             "tool_choice":"auto","stream":false}
            """);
        var response = new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, [new TextBlock("The capital of France is Paris.")]),
            StopReason = StopReason.EndTurn,
            Usage = new TokenUsage(14, 8),
        };
        Console.WriteLine($"openai-translate: parse request + write chat.completion, {iterations} iterations, one thread");
        Measure("small chat", small, response, iterations);
        Measure("tool round trip", tools, response, iterations);
        return 0;
    }

    private static void Measure(string name, byte[] body, ConverseResponse response, int iterations)
    {
        var output = new ArrayBufferWriter<byte>(4096);
        using var json = new Utf8JsonWriter(output, OpenAiErrorFormat.WriterOptions);
        void Once()
        {
            var request = ChatRequestParser.Parse(new ReadOnlySequence<byte>(body));
            output.ResetWrittenCount();
            json.Reset(output);
            ChatResponseWriter.WriteCompletion(json, ChatResponseWriter.NewId(), 1_700_000_000, request.Model, response);
            json.Flush();
        }
        for (var i = 0; i < Math.Min(iterations, 20_000); i++)
            Once();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < iterations; i++)
            Once();
        var elapsed = Stopwatch.GetElapsedTime(start);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Console.WriteLine($"  {name,-16} {body.Length,5} B body: {elapsed.TotalMicroseconds / iterations,6:F2} us/request, {iterations / elapsed.TotalSeconds,9:F0} requests/s, {allocated / iterations,6} B allocated/request");
    }
}
