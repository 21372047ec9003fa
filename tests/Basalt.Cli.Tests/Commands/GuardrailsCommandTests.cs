using System.CommandLine;
using System.Text.Json;
using Basalt.Cli.Commands;
using Microsoft.Data.Sqlite;

namespace Basalt.Cli.Tests.Commands;

public sealed class GuardrailsCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "basalt-cli-" + Guid.NewGuid().ToString("N"));

    public GuardrailsCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    private async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var all = args.Concat(["--data-dir", _dir, "--config", Path.Combine(_dir, "absent.yaml")]).ToArray();
        var exit = await GuardrailsCommand.Create().Parse(all).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private const string Yaml = """
        name: cli-guard
        description: "from YAML"
        blockedInputMessaging: Input blocked.
        blockedOutputsMessaging: Output blocked.
        wordPolicyConfig:
          wordsConfig:
            - text: project nightingale
        sensitiveInformationPolicyConfig:
          piiEntitiesConfig:
            - { type: EMAIL, action: ANONYMIZE, outputEnabled: false }
        contextualGroundingPolicyConfig:
          filtersConfig:
            - type: GROUNDING
              threshold: 0.75
        """;

    [Fact]
    public async Task CreateVersionShowApplyDelete_YamlFile_WholeLifecycle()
    {
        var (exit, created, err) = await RunAsync("create", "--file", Write("g.yaml", Yaml));
        Assert.True(exit == 0, err);
        var id = created.Split(' ')[3];
        Assert.Matches("^[a-z0-9]{12}$", id);

        var (_, listed, _) = await RunAsync("list", "--json");
        using (var row = JsonDocument.Parse(listed.Split('\n')[0]))
            Assert.Equal("cli-guard", row.RootElement.GetProperty("name").GetString());

        Assert.Equal(0, (await RunAsync("version", id, "--description", "first")).Exit);
        var (_, shown, _) = await RunAsync("show", id, "--version", "1");
        using (var doc = JsonDocument.Parse(shown))
        {
            Assert.Equal("first", doc.RootElement.GetProperty("description").GetString());
            Assert.Equal(0.75, doc.RootElement.GetProperty("contextualGroundingPolicy").GetProperty("filters")[0].GetProperty("threshold").GetDouble());
            Assert.False(doc.RootElement.GetProperty("sensitiveInformationPolicy").GetProperty("piiEntities")[0].GetProperty("outputEnabled").GetBoolean());
        }

        var (applyExit, applied, _) = await RunAsync("apply", id, "--version", "1", "--text", "mail me at a.b@example.com");
        Assert.Equal(3, applyExit);
        using (var doc = JsonDocument.Parse(applied))
            Assert.Equal("mail me at {EMAIL}", doc.RootElement.GetProperty("outputs")[0].GetProperty("text").GetString());
        var (passExit, _, _) = await RunAsync("apply", id, "--source", "OUTPUT", "--text", "mail me at a.b@example.com");
        Assert.Equal(0, passExit);

        Assert.Equal(0, (await RunAsync("delete", id)).Exit);
        var (missing, _, error) = await RunAsync("show", id);
        Assert.Equal(1, missing);
        Assert.Contains(id, error);
    }

    [Fact]
    public async Task Create_InvalidDefinition_ErrorNamesFieldExit2()
    {
        var (exit, _, error) = await RunAsync("create", "--file", Write("bad.json",
            """{"name":"x","blockedInputMessaging":"a","blockedOutputsMessaging":"b","contentPolicyConfig":{"filtersConfig":[{"type":"GORE","inputStrength":"HIGH","outputStrength":"HIGH"}]}}"""));
        Assert.Equal(2, exit);
        Assert.Contains("contentPolicyConfig.filtersConfig[0].type", error);
    }

    [Fact]
    public void YamlToJson_PlainScalars_TypedQuotedStaysString()
    {
        var json = GuardrailsCommand.YamlToJson("a: 0.5\nb: true\nc: \"42\"\nd: text\ne: [1, x]\n");
        Assert.Equal(JsonValueKind.Number, json.GetProperty("a").ValueKind);
        Assert.True(json.GetProperty("b").GetBoolean());
        Assert.Equal("42", json.GetProperty("c").GetString());
        Assert.Equal("text", json.GetProperty("d").GetString());
        Assert.Equal(1, json.GetProperty("e")[0].GetInt32());
    }
}
