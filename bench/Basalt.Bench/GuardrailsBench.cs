using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Guardrails;
using Basalt.Guardrails.Resources;
using Basalt.Server;
using Basalt.Server.Auth;
using Basalt.Server.Guardrails;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Bench;

/// <summary>ApplyGuardrail latency for 1 KB of text with every text policy except grounding (6 content filters, 2 denied
/// topics, custom words and the PROFANITY list, 15 PII types and a regex): in process through GuardrailEngine, and over
/// HTTP through POST /guardrail/{id}/version/{v}/apply on a real server, one request at a time. Target: p50 under 1 ms.</summary>
internal static class GuardrailsBench
{
    /// <summary>1,024 characters of ordinary support-chat text with one email address (anonymized) in it.</summary>
    internal static readonly string Text = string.Concat(
        "Hello, I ordered a pair of running shoes last week and the package still has not arrived. ",
        "The tracking page says it left the warehouse on Monday but nothing has changed since then. ",
        "Could you check what happened and tell me when I can expect it? I would also like to know ",
        "whether I can change the delivery address to my office, since I am rarely at home during the day. ",
        "If the shoes are lost, I would prefer a refund rather than a replacement, because I found a ",
        "similar pair in a local shop. You can reach me at jordan.miles@example.com or reply here. ",
        "Thanks for your help, and sorry for the long message; the last time I wrote, the answer took ",
        "three days and I had to explain everything again. My order was placed on the fourteenth and ",
        "paid by card. I also noticed the invoice shows the wrong size, a 42 instead of a 43, so please ",
        "correct that as well when you look into it. Have a good day and thank you in advance. ",
        "I am writing from the office of the shop, so replies may take a little while to reach me. ",
        "Please keep the case open until the parcel is found or the refund has been made.")[..1024];

    internal const string Definition = """
        {"name":"bench","blockedInputMessaging":"Blocked.","blockedOutputsMessaging":"Blocked.",
         "contentPolicyConfig":{"filtersConfig":[
           {"type":"HATE","inputStrength":"HIGH","outputStrength":"HIGH"},{"type":"INSULTS","inputStrength":"HIGH","outputStrength":"HIGH"},
           {"type":"SEXUAL","inputStrength":"HIGH","outputStrength":"HIGH"},{"type":"VIOLENCE","inputStrength":"HIGH","outputStrength":"HIGH"},
           {"type":"MISCONDUCT","inputStrength":"HIGH","outputStrength":"HIGH"},{"type":"PROMPT_ATTACK","inputStrength":"HIGH","outputStrength":"NONE"}]},
         "topicPolicyConfig":{"topicsConfig":[
           {"name":"investment advice","definition":"Recommendations about which stocks, funds or cryptocurrencies to buy or sell.","examples":["Should I buy Tesla shares?","Which crypto will go up next month?"],"type":"DENY"},
           {"name":"medical diagnosis","definition":"Telling someone which illness they have or which medicine to take.","examples":["Do I have diabetes?","What pills should I take for my chest pain?"],"type":"DENY"}]},
         "wordPolicyConfig":{"wordsConfig":[{"text":"project nightingale"},{"text":"competitor pricing"}],"managedWordListsConfig":[{"type":"PROFANITY"}]},
         "sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[
           {"type":"EMAIL","action":"ANONYMIZE"},{"type":"PHONE","action":"ANONYMIZE"},{"type":"NAME","action":"ANONYMIZE"},{"type":"ADDRESS","action":"ANONYMIZE"},
           {"type":"US_SOCIAL_SECURITY_NUMBER","action":"BLOCK"},{"type":"CREDIT_DEBIT_CARD_NUMBER","action":"BLOCK"},{"type":"IP_ADDRESS","action":"ANONYMIZE"},
           {"type":"URL","action":"ANONYMIZE"},{"type":"AWS_ACCESS_KEY","action":"BLOCK"},{"type":"AWS_SECRET_KEY","action":"BLOCK"},
           {"type":"US_BANK_ACCOUNT_NUMBER","action":"BLOCK"},{"type":"PASSWORD","action":"BLOCK"},{"type":"USERNAME","action":"ANONYMIZE"},
           {"type":"DRIVER_ID","action":"ANONYMIZE"},{"type":"US_PASSPORT_NUMBER","action":"BLOCK"}],
           "regexesConfig":[{"name":"order","pattern":"ORD-[0-9]{6}","action":"ANONYMIZE"}]}}
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = Options.Int(args, "--iterations", 2000);
        var seconds = Options.Int(args, "--seconds", 3);
        using var doc = JsonDocument.Parse(Definition);
        var spec = GuardrailSpecJson.Read(doc.RootElement);
        GuardrailPolicies policies;
        try
        {
            policies = GuardrailPolicies.Build(spec);
        }
        catch (InvalidOperationException e)
        {
            // A policy whose trained model is not embedded in this build (see docs/guardrails.md): measure without it.
            Console.WriteLine($"note: denied topics left out, their model is unavailable: {e.Message}");
            spec = spec with { TopicPolicy = null };
            policies = GuardrailPolicies.Build(spec);
        }
        var units = new[] { new GuardrailTextUnit(Text) };
        var first = GuardrailEngine.Apply(policies, GuardrailSource.Input, units);
        Console.WriteLine($"guardrails: {Text.Length} characters, policies: 6 content filters, {(spec.TopicPolicy is null ? "no" : "2")} topics, 2 words + PROFANITY, 15 PII types + 1 regex; {Environment.ProcessorCount} cores");
        Console.WriteLine($"first call (cold: models loaded by Build, JIT): action {(first.Intervened ? "GUARDRAIL_INTERVENED" : "NONE")}, outputs {first.Outputs.Count}");

        // In process: warm up, then time each call; CPU time is the process's, so load from other work shows as a gap between the two.
        for (var i = 0; i < 200; i++)
            GuardrailEngine.Apply(policies, GuardrailSource.Input, units);
        var samples = new double[iterations];
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
        {
            var t = Stopwatch.GetTimestamp();
            GuardrailEngine.Apply(policies, GuardrailSource.Input, units);
            samples[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
        wall.Stop();
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / iterations;
        Print("in-process engine", samples, $"cpu {cpu:0.000} ms/call");

        // Over HTTP: a real server, a Bearer key, one request at a time.
        var port = FastUpstream.FreePort();
        var dataDir = Path.Combine(Path.GetTempPath(), "basalt-bench-" + Guid.NewGuid().ToString("N"));
        var config = new BasaltConfig { Server = new ServerConfig { Listen = $"127.0.0.1:{port}", DataDir = dataDir } };
        await using var app = BasaltServer.Build(config);
        await app.StartAsync();
        var key = await app.Services.GetRequiredService<ApiKeys>().CreateAsync("bench", aws: false);
        var row = await app.Services.GetRequiredService<GuardrailRegistry>().CreateAsync(spec);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Secret);
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { source = "INPUT", content = new[] { new { text = new { text = Text } } } }));
        var path = $"guardrail/{row.Id}/version/DRAFT/apply";
        async Task<double> OnceAsync()
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            var t = Stopwatch.GetTimestamp();
            using var response = await client.PostAsync(path, content);
            await response.Content.ReadAsByteArrayAsync();
            var ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"apply answered {(int)response.StatusCode}");
            return ms;
        }
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed < TimeSpan.FromSeconds(1))
            await OnceAsync();
        var http = new List<double>();
        var run = Stopwatch.StartNew();
        while (run.Elapsed < TimeSpan.FromSeconds(seconds))
            http.Add(await OnceAsync());
        Print("http apply (1 client)", [.. http], $"{http.Count / run.Elapsed.TotalSeconds:0} req/s");
        await app.StopAsync();
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
        return 0;
    }

    private static void Print(string name, double[] samples, string extra)
    {
        Array.Sort(samples);
        double P(double q) => samples[Math.Min(samples.Length - 1, (int)(q * samples.Length))];
        Console.WriteLine($"{name,-24} n={samples.Length,6}  p50 {P(0.50),7:0.000} ms  p99 {P(0.99),7:0.000} ms  max {samples[^1],7:0.000} ms  {extra}");
    }
}
