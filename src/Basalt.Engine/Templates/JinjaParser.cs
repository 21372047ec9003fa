using System.Globalization;

namespace Basalt.Engine.Templates;

/// <summary>Recursive-descent parser from tokens to the template AST, with Jinja2's operator precedence:
/// ternary, or, and, not, comparisons, + -, ~, * / // %, unary, then postfix (attribute, index, call, filter, test).</summary>
internal sealed class JinjaParser
{
    /// <summary>Deepest nesting of blocks and expressions accepted; protects the stack from hostile templates.</summary>
    public const int MaxNestingDepth = 200;

    private readonly List<JinjaToken> _tokens;
    private int _pos;
    private int _depth;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    public static List<JinjaNode> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.ParseBody([], out _);
        return body;
    }

    private JinjaToken Current => _tokens[_pos];

    private JinjaToken Next() => _tokens[_pos++];

    private bool IsOp(string op) => Current.Kind == JinjaTokenKind.Operator && Current.Value == op;

    private bool IsName(string name) => Current.Kind == JinjaTokenKind.Name && Current.Value == name;

    private void ExpectOp(string op)
    {
        if (!IsOp(op))
            throw Error($"Expected '{op}' but found {Describe(Current)}");
        _pos++;
    }

    private string ExpectName()
    {
        if (Current.Kind != JinjaTokenKind.Name)
            throw Error($"Expected a name but found {Describe(Current)}");
        return Next().Value;
    }

    private void ExpectStatementEnd()
    {
        if (Current.Kind != JinjaTokenKind.StatementEnd)
            throw Error($"Expected '%}}' but found {Describe(Current)}");
        _pos++;
    }

    private TemplateException Error(string message) => new(message, Current.Line);

    private static string Describe(JinjaToken t) => t.Kind switch
    {
        JinjaTokenKind.End => "the end of the template",
        JinjaTokenKind.StatementEnd => "'%}'",
        JinjaTokenKind.OutputEnd => "'}}'",
        JinjaTokenKind.String => $"string '{t.Value}'",
        _ => $"'{t.Value}'",
    };

    private void Enter()
    {
        if (++_depth > MaxNestingDepth)
            throw Error($"The template nests deeper than {MaxNestingDepth} levels.");
    }

    private void Leave() => _depth--;

    /// <summary>Parses nodes until a statement whose keyword is one of <paramref name="endNames"/> (consumed, returned)
    /// or the end of input (only allowed when no end is expected).</summary>
    private List<JinjaNode> ParseBody(string[] endNames, out string? endName)
    {
        Enter();
        var nodes = new List<JinjaNode>();
        while (true)
        {
            var t = Current;
            switch (t.Kind)
            {
                case JinjaTokenKind.End:
                    if (endNames.Length > 0)
                        throw Error($"Missing '{{% {endNames[^1]} %}}': the template ended first");
                    endName = null;
                    Leave();
                    return nodes;
                case JinjaTokenKind.Text:
                    _pos++;
                    nodes.Add(new TextNode(t.Line, t.Value));
                    break;
                case JinjaTokenKind.OutputStart:
                    _pos++;
                    var expr = ParseExpression();
                    if (Current.Kind != JinjaTokenKind.OutputEnd)
                        throw Error($"Expected '}}}}' but found {Describe(Current)}");
                    _pos++;
                    nodes.Add(new OutputNode(t.Line, expr));
                    break;
                case JinjaTokenKind.StatementStart:
                    _pos++;
                    var keyword = Current;
                    if (keyword.Kind != JinjaTokenKind.Name)
                        throw Error($"Expected a statement keyword but found {Describe(keyword)}");
                    if (Array.IndexOf(endNames, keyword.Value) >= 0)
                    {
                        _pos++;
                        endName = keyword.Value;
                        Leave();
                        return nodes;
                    }
                    _pos++;
                    nodes.Add(ParseStatement(keyword));
                    break;
                default:
                    throw Error($"Unexpected {Describe(t)}");
            }
        }
    }

    private JinjaNode ParseStatement(JinjaToken keyword)
    {
        var line = keyword.Line;
        switch (keyword.Value)
        {
            case "if":
                return ParseIf(line);
            case "for":
                return ParseFor(line);
            case "set":
                return ParseSet(line);
            case "macro":
                return ParseMacro(line);
            case "call":
                return ParseCallBlock(line);
            case "filter":
                return ParseFilterBlock(line);
            case "break":
            case "continue":
                ExpectStatementEnd();
                return new LoopControlNode(line, keyword.Value == "break");
            case "generation":
                ExpectStatementEnd();
                return new BodyNode(line, ParseUntil("endgeneration"));
            case "endif" or "endfor" or "endset" or "endmacro" or "endcall" or "endfilter" or "endgeneration" or "elif" or "else":
                throw new TemplateException($"Unexpected '{{% {keyword.Value} %}}' with no matching opening statement", line);
            default:
                throw new TemplateException($"Unsupported statement '{{% {keyword.Value} %}}'", line);
        }
    }

    private List<JinjaNode> ParseUntil(string endName)
    {
        var body = ParseBody([endName], out _);
        ExpectStatementEnd();
        return body;
    }

    private JinjaNode ParseIf(int line)
    {
        var branches = new List<(JinjaExpr, List<JinjaNode>)>();
        var condition = ParseExpression();
        ExpectStatementEnd();
        List<JinjaNode>? elseBody = null;
        while (true)
        {
            var body = ParseBody(["elif", "else", "endif"], out var end);
            branches.Add((condition, body));
            if (end == "elif")
            {
                condition = ParseExpression();
                ExpectStatementEnd();
                continue;
            }
            ExpectStatementEnd();
            if (end == "else")
                elseBody = ParseUntil("endif");
            return new IfNode(line, branches, elseBody);
        }
    }

    private JinjaNode ParseFor(int line)
    {
        var targets = new List<string> { ExpectName() };
        while (IsOp(","))
        {
            _pos++;
            targets.Add(ExpectName());
        }
        if (!IsName("in"))
            throw Error($"Expected 'in' in the for statement but found {Describe(Current)}");
        _pos++;
        var iterable = ParseTernaryless();
        JinjaExpr? filter = null;
        if (IsName("if"))
        {
            _pos++;
            filter = ParseTernaryless();
        }
        if (IsName("recursive"))
            throw Error("Unsupported construct 'for ... recursive'");
        ExpectStatementEnd();
        var body = ParseBody(["else", "endfor"], out var end);
        ExpectStatementEnd();
        List<JinjaNode>? elseBody = end == "else" ? ParseUntil("endfor") : null;
        return new ForNode(line, targets, iterable, filter, body, elseBody);
    }

    private JinjaNode ParseSet(int line)
    {
        var first = ExpectName();
        string? attribute = null;
        var targets = new List<string> { first };
        if (IsOp("."))
        {
            _pos++;
            attribute = ExpectName();
        }
        else
        {
            while (IsOp(","))
            {
                _pos++;
                targets.Add(ExpectName());
            }
        }
        if (Current.Kind == JinjaTokenKind.StatementEnd && attribute is null && targets.Count == 1)
        {
            _pos++;
            return new SetBlockNode(line, first, ParseUntil("endset"));
        }
        ExpectOp("=");
        var value = ParseExpression();
        if (IsOp(","))
            value = ParseTupleRest(value);
        ExpectStatementEnd();
        return new SetNode(line, targets, attribute, value);
    }

    private JinjaExpr ParseTupleRest(JinjaExpr first)
    {
        var items = new List<JinjaExpr> { first };
        while (IsOp(","))
        {
            _pos++;
            items.Add(ParseExpression());
        }
        return new ListExpr(first.Line, items);
    }

    private List<(string, JinjaExpr?)> ParseParameters()
    {
        var parameters = new List<(string, JinjaExpr?)>();
        ExpectOp("(");
        while (!IsOp(")"))
        {
            var name = ExpectName();
            JinjaExpr? def = null;
            if (IsOp("="))
            {
                _pos++;
                def = ParseExpression();
            }
            parameters.Add((name, def));
            if (!IsOp(")"))
                ExpectOp(",");
        }
        _pos++;
        return parameters;
    }

    private JinjaNode ParseMacro(int line)
    {
        var name = ExpectName();
        var parameters = ParseParameters();
        ExpectStatementEnd();
        return new MacroNode(line, name, parameters, ParseUntil("endmacro"));
    }

    private JinjaNode ParseCallBlock(int line)
    {
        var callerParameters = IsOp("(") ? ParseParameters() : [];
        var expr = ParseExpression();
        if (expr is not CallExpr call)
            throw new TemplateException("'{% call %}' needs a macro call, for example {% call my_macro() %}", line);
        ExpectStatementEnd();
        return new CallBlockNode(line, call, callerParameters, ParseUntil("endcall"));
    }

    private JinjaNode ParseFilterBlock(int line)
    {
        var filter = ParseFilterCall(null, line);
        while (IsOp("|"))
        {
            _pos++;
            filter = ParseFilterCall(filter, line);
        }
        ExpectStatementEnd();
        return new FilterBlockNode(line, filter, ParseUntil("endfilter"));
    }

    // ---------------- expressions ----------------

    public JinjaExpr ParseExpression()
    {
        Enter();
        var expr = ParseTernaryless();
        if (IsName("if"))
        {
            var line = Current.Line;
            _pos++;
            var condition = ParseOr();
            JinjaExpr? otherwise = null;
            if (IsName("else"))
            {
                _pos++;
                otherwise = ParseExpression();
            }
            expr = new ConditionalExpr(line, condition, expr, otherwise);
        }
        Leave();
        return expr;
    }

    private JinjaExpr ParseTernaryless() => ParseOr();

    private JinjaExpr ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            var line = Next().Line;
            left = new BinaryExpr(line, "or", left, ParseAnd());
        }
        return left;
    }

    private JinjaExpr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            var line = Next().Line;
            left = new BinaryExpr(line, "and", left, ParseNot());
        }
        return left;
    }

    private JinjaExpr ParseNot()
    {
        if (IsName("not"))
        {
            var line = Next().Line;
            Enter();
            var operand = ParseNot();
            Leave();
            return new UnaryExpr(line, "not", operand);
        }
        return ParseCompare();
    }

    private JinjaExpr ParseCompare()
    {
        var left = ParseAdd();
        while (true)
        {
            var line = Current.Line;
            string op;
            if (Current.Kind == JinjaTokenKind.Operator && Current.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
                op = Next().Value;
            else if (IsName("in"))
            {
                _pos++;
                op = "in";
            }
            else if (IsName("not") && _tokens[_pos + 1].Kind == JinjaTokenKind.Name && _tokens[_pos + 1].Value == "in")
            {
                _pos += 2;
                op = "not in";
            }
            else
                return left;
            left = new BinaryExpr(line, op, left, ParseAdd());
        }
    }

    private JinjaExpr ParseAdd()
    {
        var left = ParseConcat();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Value is "+" or "-")
        {
            var t = Next();
            left = new BinaryExpr(t.Line, t.Value, left, ParseConcat());
        }
        return left;
    }

    private JinjaExpr ParseConcat()
    {
        var left = ParseMul();
        while (IsOp("~"))
        {
            var t = Next();
            left = new BinaryExpr(t.Line, "~", left, ParseMul());
        }
        return left;
    }

    private JinjaExpr ParseMul()
    {
        var left = ParsePow();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var t = Next();
            left = new BinaryExpr(t.Line, t.Value, left, ParsePow());
        }
        return left;
    }

    private JinjaExpr ParsePow()
    {
        var left = ParseUnary();
        while (IsOp("**"))
        {
            var t = Next();
            left = new BinaryExpr(t.Line, "**", left, ParseUnary());
        }
        return left;
    }

    private JinjaExpr ParseUnary()
    {
        if (Current.Kind == JinjaTokenKind.Operator && Current.Value is "-" or "+")
        {
            var t = Next();
            Enter();
            var operand = ParseUnary();
            Leave();
            return ParseFiltersAndTests(new UnaryExpr(t.Line, t.Value, operand));
        }
        return ParseFiltersAndTests(ParsePostfix(ParsePrimary()));
    }

    private JinjaExpr ParseFiltersAndTests(JinjaExpr expr)
    {
        while (true)
        {
            if (IsOp("|"))
            {
                var line = Next().Line;
                expr = ParseFilterCall(expr, line);
                expr = ParsePostfix(expr);
            }
            else if (IsName("is"))
            {
                var line = Next().Line;
                var negated = false;
                if (IsName("not"))
                {
                    _pos++;
                    negated = true;
                }
                var name = ExpectName();
                if (!JinjaBuiltins.IsKnownTest(name))
                    throw new TemplateException($"Unknown test '{name}'", line);
                var args = new List<JinjaExpr>();
                if (IsOp("("))
                {
                    var (a, _) = ParseCallArguments();
                    args = a;
                }
                else if (StartsTestArgument())
                    args.Add(ParsePostfix(ParsePrimary()));
                expr = new TestExpr(line, expr, name, args, negated);
            }
            else
                return expr;
        }
    }

    private bool StartsTestArgument()
    {
        var t = Current;
        return t.Kind switch
        {
            JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float => true,
            JinjaTokenKind.Name => t.Value is not ("and" or "or" or "else" or "if" or "in" or "is" or "not"),
            JinjaTokenKind.Operator => t.Value is "[" or "{",
            _ => false,
        };
    }

    private FilterExpr ParseFilterCall(JinjaExpr? input, int line)
    {
        var name = ExpectName();
        if (!JinjaBuiltins.IsKnownFilter(name))
            throw new TemplateException($"Unknown filter '{name}'", line);
        var args = new List<JinjaExpr>();
        var kwargs = new List<(string, JinjaExpr)>();
        if (IsOp("("))
            (args, kwargs) = ParseCallArguments();
        return new FilterExpr(line, input, name, args, kwargs);
    }

    private (List<JinjaExpr>, List<(string, JinjaExpr)>) ParseCallArguments()
    {
        ExpectOp("(");
        var args = new List<JinjaExpr>();
        var kwargs = new List<(string, JinjaExpr)>();
        while (!IsOp(")"))
        {
            if (Current.Kind == JinjaTokenKind.Name && _tokens[_pos + 1] is { Kind: JinjaTokenKind.Operator, Value: "=" })
            {
                var name = Next().Value;
                _pos++;
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                if (IsOp("*"))
                    throw Error("Unsupported construct '*args' in a call");
                args.Add(ParseExpression());
            }
            if (!IsOp(")"))
                ExpectOp(",");
        }
        _pos++;
        return (args, kwargs);
    }

    private JinjaExpr ParsePostfix(JinjaExpr expr)
    {
        while (true)
        {
            var line = Current.Line;
            if (IsOp("."))
            {
                _pos++;
                if (Current.Kind == JinjaTokenKind.Integer)
                    expr = new IndexExpr(line, expr, new LiteralExpr(line, long.Parse(Next().Value, CultureInfo.InvariantCulture)));
                else
                    expr = new AttributeExpr(line, expr, ExpectName());
            }
            else if (IsOp("["))
            {
                _pos++;
                expr = ParseSubscript(expr, line);
            }
            else if (IsOp("("))
            {
                var (args, kwargs) = ParseCallArguments();
                expr = new CallExpr(line, expr, args, kwargs);
            }
            else
                return expr;
        }
    }

    private JinjaExpr ParseSubscript(JinjaExpr target, int line)
    {
        JinjaExpr? start = null, stop = null, step = null;
        if (!IsOp(":"))
        {
            start = ParseExpression();
            if (IsOp("]"))
            {
                _pos++;
                return new IndexExpr(line, target, start);
            }
        }
        ExpectOp(":");
        if (!IsOp(":") && !IsOp("]"))
            stop = ParseExpression();
        if (IsOp(":"))
        {
            _pos++;
            if (!IsOp("]"))
                step = ParseExpression();
        }
        ExpectOp("]");
        return new SliceExpr(line, target, start, stop, step);
    }

    private JinjaExpr ParsePrimary()
    {
        var t = Current;
        switch (t.Kind)
        {
            case JinjaTokenKind.String:
            {
                _pos++;
                var s = t.Value;
                while (Current.Kind == JinjaTokenKind.String) // adjacent literals concatenate, as in Python
                    s += Next().Value;
                return new LiteralExpr(t.Line, s);
            }
            case JinjaTokenKind.Integer:
                _pos++;
                return new LiteralExpr(t.Line, long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var l)
                    ? l : throw new TemplateException($"Integer literal {t.Value} is too large", t.Line));
            case JinjaTokenKind.Float:
                _pos++;
                return new LiteralExpr(t.Line, double.Parse(t.Value, CultureInfo.InvariantCulture));
            case JinjaTokenKind.Name:
                _pos++;
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(t.Line, true),
                    "false" or "False" => new LiteralExpr(t.Line, false),
                    "none" or "None" => new LiteralExpr(t.Line, null),
                    _ => new NameExpr(t.Line, t.Value),
                };
            case JinjaTokenKind.Operator when t.Value == "(":
            {
                _pos++;
                if (IsOp(")"))
                {
                    _pos++;
                    return new ListExpr(t.Line, []);
                }
                var first = ParseExpression();
                if (IsOp(","))
                {
                    var items = new List<JinjaExpr> { first };
                    while (IsOp(","))
                    {
                        _pos++;
                        if (IsOp(")")) break;
                        items.Add(ParseExpression());
                    }
                    ExpectOp(")");
                    return new ListExpr(t.Line, items);
                }
                ExpectOp(")");
                return first;
            }
            case JinjaTokenKind.Operator when t.Value == "[":
            {
                _pos++;
                var items = new List<JinjaExpr>();
                while (!IsOp("]"))
                {
                    items.Add(ParseExpression());
                    if (!IsOp("]"))
                        ExpectOp(",");
                }
                _pos++;
                return new ListExpr(t.Line, items);
            }
            case JinjaTokenKind.Operator when t.Value == "{":
            {
                _pos++;
                var pairs = new List<(JinjaExpr, JinjaExpr)>();
                while (!IsOp("}"))
                {
                    var key = ParseExpression();
                    ExpectOp(":");
                    pairs.Add((key, ParseExpression()));
                    if (!IsOp("}"))
                        ExpectOp(",");
                }
                _pos++;
                return new DictExpr(t.Line, pairs);
            }
            default:
                throw Error($"Unexpected {Describe(t)} in an expression");
        }
    }
}
