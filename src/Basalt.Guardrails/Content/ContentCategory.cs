namespace Basalt.Guardrails.Content;

/// <summary>The content filter categories, in the order of the model's outputs.</summary>
internal static class ContentCategory
{
    public const int Hate = 0;
    public const int Insults = 1;
    public const int Sexual = 2;
    public const int Violence = 3;
    public const int Misconduct = 4;
    public const int PromptAttack = 5;
    public const int Count = 6;

    /// <summary>Bedrock's wire names, indexed by category.</summary>
    public static readonly string[] Names = ["HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK"];

    /// <summary>The index of a wire name, or -1.</summary>
    public static int IndexOf(string name)
    {
        for (var i = 0; i < Names.Length; i++)
        {
            if (string.Equals(Names[i], name, StringComparison.OrdinalIgnoreCase)) return i;
        }
        return -1;
    }
}
