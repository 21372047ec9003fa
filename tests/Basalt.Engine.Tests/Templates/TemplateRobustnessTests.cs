using Basalt.Engine.Templates;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Templates;

/// <summary>Broken templates must fail with a TemplateException, never with another exception type.</summary>
public sealed class TemplateRobustnessTests
{
    private const int MutationsPerTemplate = 120;
    private const string Significant = "{}%#-+()[]'\"|.,:=~ \nabiflsetnordm0123";

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(SharedFiles.ProjectRoot, "tests", "Basalt.Engine.Tests", "Templates", "templates"), "*.jinja"))
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void ParseAndRender_RandomlyMutatedRealTemplate_FailsOnlyWithTemplateException(string file)
    {
        var source = RealTemplateTests.Load(file).Source;
        var random = new Random(file.Length * 7919);
        var input = new ChatTemplateInput
        {
            Messages = [new("system", "s"), new("user", "u"), new("assistant", "a") { ToolCalls = [new("abcdefghi", "f", "{\"x\": 1}")] }, new("tool", "r") { ToolCallId = "abcdefghi" }],
            Tools = ["{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {}}}"],
            Now = new DateTime(2025, 1, 1),
        };
        for (var i = 0; i < MutationsPerTemplate; i++)
        {
            var chars = source.ToCharArray().ToList();
            for (var m = 0; m < 3; m++)
            {
                var pos = random.Next(chars.Count);
                switch (random.Next(3))
                {
                    case 0: chars.RemoveAt(pos); break;
                    case 1: chars.Insert(pos, Significant[random.Next(Significant.Length)]); break;
                    default: chars[pos] = Significant[random.Next(Significant.Length)]; break;
                }
            }
            var mutated = new string([.. chars]);
            try
            {
                ChatTemplate.Parse(mutated).Render(input);
            }
            catch (TemplateException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"Mutation {i} of {file} threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}\n--- template ---\n{mutated}");
            }
        }
    }
}
