namespace Basalt.Engine.Templates;

/// <summary>A chat template that cannot be parsed or rendered: an unsupported construct, a type error,
/// or the template's own raise_exception. The message names the problem and the template line.</summary>
public sealed class TemplateException : Exception
{
    /// <summary>Creates the exception; <paramref name="line"/> is 1-based, 0 when unknown.</summary>
    public TemplateException(string message, int line = 0, bool raisedByTemplate = false)
        : base(line > 0 ? $"{message} (template line {line})" : message)
    {
        Line = line;
        RaisedByTemplate = raisedByTemplate;
        Reason = message;
    }

    /// <summary>The 1-based template line, 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>True when the template itself called raise_exception (the input broke the template's rules,
    /// for example roles that do not alternate), false for an error in the template or the interpreter.</summary>
    public bool RaisedByTemplate { get; }

    /// <summary>The message without the line suffix.</summary>
    public string Reason { get; }
}
