using Basalt.Guardrails;

namespace Basalt.Guardrails.Tests;

public sealed class TextSpanTests
{
    [Fact]
    public void End_StartAndLength_IsOnePastTheLastUnit()
    {
        Assert.Equal(7, new TextSpan(3, 4).End);
    }
}
