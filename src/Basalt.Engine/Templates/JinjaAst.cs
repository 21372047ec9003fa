namespace Basalt.Engine.Templates;

/// <summary>A node of a parsed template; <see cref="Line"/> is where it starts, for error messages.</summary>
internal abstract record JinjaNode(int Line);

internal sealed record TextNode(int Line, string Text) : JinjaNode(Line);
internal sealed record OutputNode(int Line, JinjaExpr Expr) : JinjaNode(Line);
internal sealed record IfNode(int Line, List<(JinjaExpr Condition, List<JinjaNode> Body)> Branches, List<JinjaNode>? Else) : JinjaNode(Line);
internal sealed record ForNode(int Line, List<string> Targets, JinjaExpr Iterable, JinjaExpr? Filter, List<JinjaNode> Body, List<JinjaNode>? Else) : JinjaNode(Line);
internal sealed record SetNode(int Line, List<string> Targets, string? Attribute, JinjaExpr Value) : JinjaNode(Line);
internal sealed record SetBlockNode(int Line, string Target, List<JinjaNode> Body) : JinjaNode(Line);
internal sealed record MacroNode(int Line, string Name, List<(string Name, JinjaExpr? Default)> Parameters, List<JinjaNode> Body) : JinjaNode(Line);
internal sealed record CallBlockNode(int Line, CallExpr Call, List<(string Name, JinjaExpr? Default)> CallerParameters, List<JinjaNode> Body) : JinjaNode(Line);
internal sealed record FilterBlockNode(int Line, FilterExpr Filter, List<JinjaNode> Body) : JinjaNode(Line);
internal sealed record LoopControlNode(int Line, bool IsBreak) : JinjaNode(Line);
internal sealed record BodyNode(int Line, List<JinjaNode> Body) : JinjaNode(Line);

internal abstract record JinjaExpr(int Line);

internal sealed record LiteralExpr(int Line, object? Value) : JinjaExpr(Line);
internal sealed record NameExpr(int Line, string Name) : JinjaExpr(Line);
internal sealed record ListExpr(int Line, List<JinjaExpr> Items) : JinjaExpr(Line);
internal sealed record DictExpr(int Line, List<(JinjaExpr Key, JinjaExpr Value)> Pairs) : JinjaExpr(Line);
internal sealed record AttributeExpr(int Line, JinjaExpr Target, string Name) : JinjaExpr(Line);
internal sealed record IndexExpr(int Line, JinjaExpr Target, JinjaExpr Index) : JinjaExpr(Line);
internal sealed record SliceExpr(int Line, JinjaExpr Target, JinjaExpr? Start, JinjaExpr? Stop, JinjaExpr? Step) : JinjaExpr(Line);
internal sealed record CallExpr(int Line, JinjaExpr Callee, List<JinjaExpr> Args, List<(string Name, JinjaExpr Value)> Kwargs) : JinjaExpr(Line);
internal sealed record FilterExpr(int Line, JinjaExpr? Input, string Name, List<JinjaExpr> Args, List<(string Name, JinjaExpr Value)> Kwargs) : JinjaExpr(Line);
internal sealed record TestExpr(int Line, JinjaExpr Input, string Name, List<JinjaExpr> Args, bool Negated) : JinjaExpr(Line);
internal sealed record UnaryExpr(int Line, string Op, JinjaExpr Operand) : JinjaExpr(Line);
internal sealed record BinaryExpr(int Line, string Op, JinjaExpr Left, JinjaExpr Right) : JinjaExpr(Line);
internal sealed record ConditionalExpr(int Line, JinjaExpr Condition, JinjaExpr Then, JinjaExpr? Else) : JinjaExpr(Line);
