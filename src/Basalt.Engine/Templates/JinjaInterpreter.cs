using System.Text;

namespace Basalt.Engine.Templates;

/// <summary>Renders a parsed template: a tree walk over statements with Jinja2's scoping
/// (a for body is its own scope, if is not, macros close over where they were defined).</summary>
internal sealed class JinjaInterpreter
{
    /// <summary>Largest rendered output, in characters; a chat prompt is far smaller, a runaway template is not.</summary>
    public const int MaxOutputChars = 16 * 1024 * 1024;

    /// <summary>Deepest macro recursion allowed before the render fails instead of overflowing the stack.</summary>
    public const int MaxCallDepth = 64;

    /// <summary>Deepest nesting of lists and dicts printed or serialized.</summary>
    public const int MaxValueDepth = 128;

    /// <summary>Most items range() may produce.</summary>
    public const int MaxRangeItems = 100_000;

    private sealed class Scope(Scope? parent)
    {
        public readonly Dictionary<string, object?> Vars = new(StringComparer.Ordinal);
        public readonly Scope? Parent = parent;

        public bool TryGet(string name, out object? value)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s.Vars.TryGetValue(name, out value))
                    return true;
            value = null;
            return false;
        }
    }

    private enum Flow { Normal, Break, Continue }

    private sealed class Macro(JinjaInterpreter owner, string name, List<(string Name, JinjaExpr? Default)> parameters, List<JinjaNode> body, Scope closure) : IJinjaCallable
    {
        public object? Call(JinjaInterpreter interpreter, List<object?> args, Dictionary<string, object?> kwargs, int line)
        {
            if (args.Count > parameters.Count)
                throw new TemplateException($"Macro '{name}' takes {parameters.Count} arguments but got {args.Count}", line);
            var scope = new Scope(closure);
            for (var i = 0; i < parameters.Count; i++)
            {
                var p = parameters[i];
                object? value;
                if (i < args.Count)
                    value = args[i];
                else if (kwargs.TryGetValue(p.Name, out var kw))
                    value = kw;
                else if (p.Default is not null)
                    value = owner.Eval(p.Default, closure);
                else
                    value = new JinjaUndefined(p.Name);
                scope.Vars[p.Name] = value;
            }
            foreach (var (k, v) in kwargs)
            {
                if (k == "caller")
                    scope.Vars["caller"] = v;
                else if (!parameters.Exists(p => p.Name == k))
                    throw new TemplateException($"Macro '{name}' has no parameter '{k}'", line);
            }
            if (++owner._callDepth > MaxCallDepth)
                throw new TemplateException($"Macro calls nest deeper than {MaxCallDepth} (runaway recursion in '{name}'?)", line);
            try
            {
                return owner.Capture(body, scope);
            }
            finally
            {
                owner._callDepth--;
            }
        }
    }

    private StringBuilder _out = new();
    private int _callDepth;
    private readonly Scope _globals;

    private JinjaInterpreter(Dictionary<string, object?> variables, DateTime now)
    {
        _globals = new Scope(null);
        foreach (var (k, v) in JinjaBuiltins.CreateGlobals(now))
            _globals.Vars[k] = v;
        foreach (var (k, v) in variables)
            _globals.Vars[k] = v;
    }

    public static string Render(List<JinjaNode> template, Dictionary<string, object?> variables, DateTime now)
    {
        var interpreter = new JinjaInterpreter(variables, now);
        var root = new Scope(interpreter._globals);
        interpreter.Exec(template, root);
        return interpreter._out.ToString();
    }

    private string Capture(List<JinjaNode> body, Scope scope)
    {
        var saved = _out;
        _out = new StringBuilder();
        try
        {
            Exec(body, scope);
            return _out.ToString();
        }
        finally
        {
            _out = saved;
        }
    }

    private void Write(string s, int line)
    {
        if (_out.Length + s.Length > MaxOutputChars)
            throw new TemplateException($"The rendered template exceeds {MaxOutputChars} characters", line);
        _out.Append(s);
    }

    private Flow Exec(List<JinjaNode> nodes, Scope scope)
    {
        foreach (var node in nodes)
        {
            var flow = Exec(node, scope);
            if (flow != Flow.Normal)
                return flow;
        }
        return Flow.Normal;
    }

    private Flow Exec(JinjaNode node, Scope scope)
    {
        switch (node)
        {
            case TextNode t:
                Write(t.Text, t.Line);
                return Flow.Normal;
            case OutputNode o:
                Write(JinjaValue.ToStr(Eval(o.Expr, scope)), o.Line);
                return Flow.Normal;
            case IfNode i:
                foreach (var (condition, body) in i.Branches)
                    if (JinjaValue.Truthy(Eval(condition, scope)))
                        return Exec(body, scope);
                return i.Else is null ? Flow.Normal : Exec(i.Else, scope);
            case ForNode f:
                return ExecFor(f, scope);
            case SetNode s:
                ExecSet(s, scope);
                return Flow.Normal;
            case SetBlockNode sb:
                scope.Vars[sb.Target] = Capture(sb.Body, scope);
                return Flow.Normal;
            case MacroNode m:
                scope.Vars[m.Name] = new Macro(this, m.Name, m.Parameters, m.Body, scope);
                return Flow.Normal;
            case CallBlockNode c:
            {
                var caller = new Macro(this, "caller", c.CallerParameters, c.Body, scope);
                var result = EvalCall(c.Call, scope, caller);
                Write(JinjaValue.ToStr(result), c.Line);
                return Flow.Normal;
            }
            case FilterBlockNode fb:
            {
                var text = Capture(fb.Body, scope);
                Write(JinjaValue.ToStr(EvalFilterChain(fb.Filter, text, scope)), fb.Line);
                return Flow.Normal;
            }
            case LoopControlNode lc:
                return lc.IsBreak ? Flow.Break : Flow.Continue;
            case BodyNode b:
                return Exec(b.Body, scope);
            default:
                throw new TemplateException($"Unsupported node {node.GetType().Name}", node.Line);
        }
    }

    private Flow ExecFor(ForNode f, Scope scope)
    {
        var source = Iterate(Eval(f.Iterable, scope), f.Line);
        List<object?> items;
        if (f.Filter is null)
            items = source;
        else
        {
            items = [];
            foreach (var item in source)
            {
                var probe = new Scope(scope);
                Bind(probe, f.Targets, item, f.Line);
                if (JinjaValue.Truthy(Eval(f.Filter, probe)))
                    items.Add(item);
            }
        }
        if (items.Count == 0)
            return f.Else is null ? Flow.Normal : Exec(f.Else, scope);
        for (var i = 0; i < items.Count; i++)
        {
            var body = new Scope(scope);
            Bind(body, f.Targets, items[i], f.Line);
            body.Vars["loop"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["index"] = (long)(i + 1),
                ["index0"] = (long)i,
                ["revindex"] = (long)(items.Count - i),
                ["revindex0"] = (long)(items.Count - i - 1),
                ["first"] = i == 0,
                ["last"] = i == items.Count - 1,
                ["length"] = (long)items.Count,
                ["previtem"] = i > 0 ? items[i - 1] : new JinjaUndefined("loop.previtem"),
                ["nextitem"] = i + 1 < items.Count ? items[i + 1] : new JinjaUndefined("loop.nextitem"),
                ["depth"] = 1L,
                ["depth0"] = 0L,
            };
            if (Exec(f.Body, body) == Flow.Break)
                break;
        }
        return Flow.Normal;
    }

    private static void Bind(Scope scope, List<string> targets, object? value, int line)
    {
        if (targets.Count == 1)
        {
            scope.Vars[targets[0]] = value;
            return;
        }
        if (value is not List<object?> parts || parts.Count != targets.Count)
            throw new TemplateException($"Cannot unpack {JinjaValue.TypeName(value)} into {targets.Count} names", line);
        for (var i = 0; i < targets.Count; i++)
            scope.Vars[targets[i]] = parts[i];
    }

    private void ExecSet(SetNode s, Scope scope)
    {
        var value = Eval(s.Value, scope);
        if (s.Attribute is not null)
        {
            scope.TryGet(s.Targets[0], out var target);
            if (target is not JinjaNamespace ns)
                throw new TemplateException($"Cannot set attribute '{s.Attribute}' on '{s.Targets[0]}': only namespace() objects accept attribute assignment", s.Line);
            ns.Values[s.Attribute] = value;
            return;
        }
        Bind(scope, s.Targets, value, s.Line);
    }

    /// <summary>The items a for loop visits: a snapshot of a list, a dict's keys, a string's characters.</summary>
    public static List<object?> Iterate(object? value, int line) => value switch
    {
        List<object?> list => [.. list],
        Dictionary<string, object?> dict => [.. dict.Keys],
        string s => ToChars(s),
        JinjaUndefined => [],
        _ => throw new TemplateException($"'{JinjaValue.TypeName(value)}' object is not iterable", line),
    };

    private static List<object?> ToChars(string s)
    {
        var list = new List<object?>(s.Length);
        foreach (var c in s)
            list.Add(c.ToString());
        return list;
    }

    // ---------------- expressions ----------------

    internal object? Eval(JinjaExpr expr, object scopeObject) => Eval(expr, (Scope)scopeObject);

    private object? Eval(JinjaExpr expr, Scope scope)
    {
        switch (expr)
        {
            case LiteralExpr l:
                return l.Value;
            case NameExpr n:
                return scope.TryGet(n.Name, out var v) ? v : new JinjaUndefined(n.Name);
            case ListExpr list:
            {
                var items = new List<object?>(list.Items.Count);
                foreach (var item in list.Items)
                    items.Add(Eval(item, scope));
                return items;
            }
            case DictExpr dict:
            {
                var d = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, val) in dict.Pairs)
                    d[JinjaValue.ToStr(Eval(k, scope))] = Eval(val, scope);
                return d;
            }
            case AttributeExpr a:
                return JinjaBuiltins.GetAttribute(Eval(a.Target, scope), a.Name, a.Line);
            case IndexExpr ix:
                return JinjaBuiltins.GetItem(Eval(ix.Target, scope), Eval(ix.Index, scope), ix.Line);
            case SliceExpr sl:
                return JinjaBuiltins.Slice(Eval(sl.Target, scope),
                    sl.Start is null ? null : Eval(sl.Start, scope),
                    sl.Stop is null ? null : Eval(sl.Stop, scope),
                    sl.Step is null ? null : Eval(sl.Step, scope), sl.Line);
            case CallExpr c:
                return EvalCall(c, scope, null);
            case FilterExpr f:
                return EvalFilterChain(f, null, scope);
            case TestExpr t:
            {
                var value = Eval(t.Input, scope);
                var args = EvalArgs(t.Args, scope);
                return JinjaBuiltins.ApplyTest(t.Name, value, args, t.Line) != t.Negated;
            }
            case UnaryExpr u:
            {
                var operand = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !JinjaValue.Truthy(operand),
                    "-" => operand switch
                    {
                        long l => (object)(-l),
                        double d => -d,
                        bool b => b ? -1L : 0L,
                        _ => throw new TemplateException($"Bad operand type for unary -: '{JinjaValue.TypeName(operand)}'", u.Line),
                    },
                    _ => JinjaValue.IsNumber(operand) ? operand
                        : throw new TemplateException($"Bad operand type for unary +: '{JinjaValue.TypeName(operand)}'", u.Line),
                };
            }
            case BinaryExpr b:
                return EvalBinary(b, scope);
            case ConditionalExpr c:
                return JinjaValue.Truthy(Eval(c.Condition, scope))
                    ? Eval(c.Then, scope)
                    : c.Else is null ? new JinjaUndefined(null) : Eval(c.Else, scope);
            default:
                throw new TemplateException($"Unsupported expression {expr.GetType().Name}", expr.Line);
        }
    }

    private List<object?> EvalArgs(List<JinjaExpr> args, Scope scope)
    {
        var values = new List<object?>(args.Count);
        foreach (var a in args)
            values.Add(Eval(a, scope));
        return values;
    }

    private Dictionary<string, object?> EvalKwargs(List<(string Name, JinjaExpr Value)> kwargs, Scope scope)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in kwargs)
            values[name] = Eval(value, scope);
        return values;
    }

    private object? EvalCall(CallExpr c, Scope scope, IJinjaCallable? caller)
    {
        var args = EvalArgs(c.Args, scope);
        var kwargs = EvalKwargs(c.Kwargs, scope);
        if (caller is not null)
            kwargs["caller"] = caller;
        if (c.Callee is AttributeExpr method)
        {
            var target = Eval(method.Target, scope);
            if (JinjaBuiltins.TryCallMethod(target, method.Name, args, kwargs, method.Line, out var result))
                return result;
            var attribute = JinjaBuiltins.GetAttribute(target, method.Name, method.Line);
            return Invoke(attribute, $"{method.Name}", args, kwargs, c.Line, target);
        }
        var callee = Eval(c.Callee, scope);
        return Invoke(callee, c.Callee is NameExpr n ? n.Name : "expression", args, kwargs, c.Line, null);
    }

    private object? Invoke(object? callee, string name, List<object?> args, Dictionary<string, object?> kwargs, int line, object? target)
    {
        if (callee is IJinjaCallable callable)
            return callable.Call(this, args, kwargs, line);
        if (callee is JinjaUndefined)
            throw new TemplateException(target is null
                ? $"'{name}' is undefined and cannot be called"
                : $"'{JinjaValue.TypeName(target)}' object has no method '{name}'", line);
        throw new TemplateException($"'{name}' ({JinjaValue.TypeName(callee)}) is not callable", line);
    }

    private object? EvalFilterChain(FilterExpr f, object? blockInput, Scope scope)
    {
        var input = f.Input switch
        {
            null => blockInput,
            FilterExpr inner when blockInput is not null => EvalFilterChain(inner, blockInput, scope),
            var e => Eval(e, scope),
        };
        return JinjaBuiltins.ApplyFilter(this, f.Name, input, EvalArgs(f.Args, scope), EvalKwargs(f.Kwargs, scope), f.Line);
    }

    private object? EvalBinary(BinaryExpr b, Scope scope)
    {
        if (b.Op == "and")
        {
            var left = Eval(b.Left, scope);
            return JinjaValue.Truthy(left) ? Eval(b.Right, scope) : left;
        }
        if (b.Op == "or")
        {
            var left = Eval(b.Left, scope);
            return JinjaValue.Truthy(left) ? left : Eval(b.Right, scope);
        }
        var l = Eval(b.Left, scope);
        var r = Eval(b.Right, scope);
        return JinjaBuiltins.BinaryOperation(b.Op, l, r, b.Line);
    }

    /// <summary>Calls a callable value (used by filters such as map over macros).</summary>
    internal object? CallValue(object? callee, List<object?> args, int line)
        => Invoke(callee, "value", args, new Dictionary<string, object?>(StringComparer.Ordinal), line, null);
}
