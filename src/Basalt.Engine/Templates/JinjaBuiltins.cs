using System.Globalization;
using System.Text;

namespace Basalt.Engine.Templates;

/// <summary>The filters, tests, global functions, methods and operators the interpreter supports
/// (the subset real chat templates use, with Python semantics).</summary>
internal static class JinjaBuiltins
{
    private static readonly HashSet<string> Filters = new(StringComparer.Ordinal)
    {
        "trim", "tojson", "length", "count", "default", "d", "items", "upper", "lower", "capitalize", "title",
        "replace", "join", "first", "last", "list", "string", "int", "float", "safe", "selectattr", "rejectattr",
        "select", "reject", "map", "e", "escape", "indent", "unique", "sort", "abs", "reverse", "sum", "min", "max",
        "round", "wordcount", "dictsort", "batch",
    };

    private static readonly HashSet<string> Tests = new(StringComparer.Ordinal)
    {
        "defined", "undefined", "none", "string", "mapping", "iterable", "sequence", "number", "integer", "float",
        "boolean", "true", "false", "equalto", "eq", "==", "ne", "!=", "lt", "<", "le", "<=", "gt", ">", "ge", ">=",
        "in", "odd", "even", "divisibleby", "sameas", "callable", "lower", "upper",
    };

    public static bool IsKnownFilter(string name) => Filters.Contains(name);

    public static bool IsKnownTest(string name) => Tests.Contains(name);

    public static Dictionary<string, object?> CreateGlobals(DateTime now) => new(StringComparer.Ordinal)
    {
        ["range"] = new JinjaFunction("range", Range),
        ["namespace"] = new JinjaFunction("namespace", (args, kwargs, line) =>
        {
            var ns = new JinjaNamespace();
            foreach (var a in args)
                if (a is Dictionary<string, object?> d)
                    foreach (var (k, v) in d) ns.Values[k] = v;
            foreach (var (k, v) in kwargs) ns.Values[k] = v;
            return ns;
        }),
        ["dict"] = new JinjaFunction("dict", (args, kwargs, line) =>
        {
            var d = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (k, v) in kwargs) d[k] = v;
            return d;
        }),
        ["raise_exception"] = new JinjaFunction("raise_exception", (args, kwargs, line) =>
            throw new TemplateException(args.Count > 0 ? JinjaValue.ToStr(args[0]) : "raise_exception was called", line, raisedByTemplate: true)),
        ["strftime_now"] = new JinjaFunction("strftime_now", (args, kwargs, line) =>
            Strftime(now, args.Count > 0 ? JinjaValue.ToStr(args[0]) : "%Y-%m-%d", line)),
    };

    private static object? Range(List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        long start = 0, stop, step = 1;
        if (args.Count == 1) stop = ToInt(args[0], line);
        else if (args.Count is 2 or 3)
        {
            start = ToInt(args[0], line);
            stop = ToInt(args[1], line);
            if (args.Count == 3) step = ToInt(args[2], line);
        }
        else throw new TemplateException("range() takes 1 to 3 arguments", line);
        if (step == 0) throw new TemplateException("range() step must not be zero", line);
        var list = new List<object?>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (list.Count >= JinjaInterpreter.MaxRangeItems)
                throw new TemplateException($"range() would produce more than {JinjaInterpreter.MaxRangeItems} items", line);
            list.Add(i);
        }
        return list;
    }

    private static long ToInt(object? v, int line) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new TemplateException($"Expected an integer but got {JinjaValue.TypeName(v)}", line),
    };

    /// <summary>Python's strftime for the codes chat templates use.</summary>
    public static string Strftime(DateTime t, string format, int line)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c != '%' || i + 1 >= format.Length)
            {
                sb.Append(c);
                continue;
            }
            var code = format[++i];
            var inv = CultureInfo.InvariantCulture;
            sb.Append(code switch
            {
                'd' => t.Day.ToString("00", inv),
                'm' => t.Month.ToString("00", inv),
                'Y' => t.Year.ToString("0000", inv),
                'y' => (t.Year % 100).ToString("00", inv),
                'b' => t.ToString("MMM", inv),
                'B' => t.ToString("MMMM", inv),
                'a' => t.ToString("ddd", inv),
                'A' => t.ToString("dddd", inv),
                'H' => t.Hour.ToString("00", inv),
                'I' => ((t.Hour + 11) % 12 + 1).ToString("00", inv),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'M' => t.Minute.ToString("00", inv),
                'S' => t.Second.ToString("00", inv),
                'j' => t.DayOfYear.ToString("000", inv),
                '%' => "%",
                _ => throw new TemplateException($"Unsupported strftime code '%{code}'", line),
            });
        }
        return sb.ToString();
    }

    // ---------------- attribute and item access ----------------

    public static object? GetAttribute(object? target, string name, int line) => target switch
    {
        Dictionary<string, object?> d => d.TryGetValue(name, out var v) ? v : new JinjaUndefined(name),
        JinjaNamespace ns => ns.Values.TryGetValue(name, out var v) ? v : new JinjaUndefined(name),
        _ => new JinjaUndefined(name),
    };

    public static object? GetItem(object? target, object? index, int line)
    {
        switch (target)
        {
            case Dictionary<string, object?> d:
                return index is not null && d.TryGetValue(KeyOf(index), out var v) ? v : new JinjaUndefined(JinjaValue.ToStr(index));
            case JinjaNamespace ns:
                return ns.Values.TryGetValue(JinjaValue.ToStr(index), out var nv) ? nv : new JinjaUndefined(JinjaValue.ToStr(index));
            case List<object?> list when index is long or bool:
            {
                var i = ToInt(index, line);
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new JinjaUndefined($"[{index}]");
            }
            case string s when index is long or bool:
            {
                var i = ToInt(index, line);
                if (i < 0) i += s.Length;
                return i >= 0 && i < s.Length ? s[(int)i].ToString() : new JinjaUndefined($"[{index}]");
            }
            case List<object?> or string:
                if (index is string attr)
                    return new JinjaUndefined(attr);
                throw new TemplateException($"{JinjaValue.TypeName(target)} indices must be integers, not {JinjaValue.TypeName(index)}", line);
            case JinjaUndefined:
                return new JinjaUndefined(JinjaValue.ToStr(index));
            case null:
                throw new TemplateException($"Cannot index None with {JinjaValue.Repr(index)}", line);
            default:
                return new JinjaUndefined(JinjaValue.ToStr(index));
        }
    }

    private static string KeyOf(object? index) => index is string s ? s : JinjaValue.ToStr(index);

    public static object? Slice(object? target, object? start, object? stop, object? step, int line)
    {
        var st = step is null ? 1 : ToInt(step, line);
        if (st == 0) throw new TemplateException("Slice step cannot be zero", line);
        int length;
        switch (target)
        {
            case List<object?> list: length = list.Count; break;
            case string s: length = s.Length; break;
            case JinjaUndefined: return target;
            default: throw new TemplateException($"Cannot slice {JinjaValue.TypeName(target)}", line);
        }
        var indices = SliceIndices(length, start is null ? null : ToInt(start, line), stop is null ? null : ToInt(stop, line), st);
        if (target is string str)
        {
            var sb = new StringBuilder(indices.Count);
            foreach (var i in indices) sb.Append(str[i]);
            return sb.ToString();
        }
        var source = (List<object?>)target;
        var result = new List<object?>(indices.Count);
        foreach (var i in indices) result.Add(source[i]);
        return result;
    }

    private static List<int> SliceIndices(int length, long? start, long? stop, long step)
    {
        long Clamp(long v, long lo, long hi) => v < lo ? lo : v > hi ? hi : v;
        long s, e;
        if (step > 0)
        {
            s = start is null ? 0 : start.Value < 0 ? Clamp(start.Value + length, 0, length) : Clamp(start.Value, 0, length);
            e = stop is null ? length : stop.Value < 0 ? Clamp(stop.Value + length, 0, length) : Clamp(stop.Value, 0, length);
        }
        else
        {
            s = start is null ? length - 1 : start.Value < 0 ? Clamp(start.Value + length, -1, length - 1) : Clamp(start.Value, -1, length - 1);
            e = stop is null ? -1 : stop.Value < 0 ? Clamp(stop.Value + length, -1, length - 1) : Clamp(stop.Value, -1, length - 1);
        }
        var result = new List<int>();
        for (var i = s; step > 0 ? i < e : i > e; i += step)
            result.Add((int)i);
        return result;
    }

    // ---------------- operators ----------------

    public static object? BinaryOperation(string op, object? l, object? r, int line)
    {
        switch (op)
        {
            case "==": return JinjaValue.Equals(l, r);
            case "!=": return !JinjaValue.Equals(l, r);
            case "<": return JinjaValue.Compare(l, r, line) < 0;
            case ">": return JinjaValue.Compare(l, r, line) > 0;
            case "<=": return JinjaValue.Compare(l, r, line) <= 0;
            case ">=": return JinjaValue.Compare(l, r, line) >= 0;
            case "in": return Contains(r, l, line);
            case "not in": return !Contains(r, l, line);
            case "~": return JinjaValue.ToStr(l) + JinjaValue.ToStr(r);
        }
        if (l is JinjaUndefined ul)
            throw new TemplateException($"'{ul.Name ?? "value"}' is undefined (used with '{op}')", line);
        if (r is JinjaUndefined ur)
            throw new TemplateException($"'{ur.Name ?? "value"}' is undefined (used with '{op}')", line);
        if (op == "+")
        {
            if (l is string ls && r is string rs) return ls + rs;
            if (l is List<object?> ll && r is List<object?> rl) return new List<object?>([.. ll, .. rl]);
        }
        if (op == "*")
        {
            if (l is string s1 && r is long n1) return Repeat(s1, n1, line);
            if (l is long n2 && r is string s2) return Repeat(s2, n2, line);
        }
        if (op == "%" && l is string)
            throw new TemplateException("Unsupported construct: printf-style string formatting with '%'", line);
        if (!JinjaValue.IsNumber(l) || !JinjaValue.IsNumber(r))
            throw new TemplateException($"Unsupported operand types for {op}: '{JinjaValue.TypeName(l)}' and '{JinjaValue.TypeName(r)}'", line);
        var bothInt = l is long or bool && r is long or bool;
        if (bothInt)
        {
            long a = ToInt(l, line), b = ToInt(r, line);
            switch (op)
            {
                case "+": return a + b;
                case "-": return a - b;
                case "*": return a * b;
                case "/": if (b == 0) throw DivisionByZero(line); return (double)a / b;
                case "//": if (b == 0) throw DivisionByZero(line); return FloorDiv(a, b);
                case "%": if (b == 0) throw DivisionByZero(line); return a - b * FloorDiv(a, b);
                case "**": return b >= 0 ? (object)(long)Math.Pow(a, b) : Math.Pow(a, b);
            }
        }
        double x = JinjaValue.ToDouble(l), y = JinjaValue.ToDouble(r);
        switch (op)
        {
            case "+": return x + y;
            case "-": return x - y;
            case "*": return x * y;
            case "/": if (y == 0) throw DivisionByZero(line); return x / y;
            case "//": if (y == 0) throw DivisionByZero(line); return Math.Floor(x / y);
            case "%": if (y == 0) throw DivisionByZero(line); return x - y * Math.Floor(x / y);
            case "**": return Math.Pow(x, y);
        }
        throw new TemplateException($"Unsupported operator '{op}'", line);
    }

    private static TemplateException DivisionByZero(int line) => new("Division by zero", line);

    private static long FloorDiv(long a, long b)
    {
        var q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }

    private static string Repeat(string s, long n, int line)
    {
        if (n <= 0) return "";
        if (s.Length * n > JinjaInterpreter.MaxOutputChars)
            throw new TemplateException("String repetition is too large", line);
        return new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString();
    }

    private static bool Contains(object? container, object? item, int line)
    {
        switch (container)
        {
            case string s:
                if (item is not string sub)
                    throw new TemplateException($"'in <string>' requires a string on the left, not {JinjaValue.TypeName(item)}", line);
                return s.Contains(sub, StringComparison.Ordinal);
            case List<object?> list:
                foreach (var x in list)
                    if (JinjaValue.Equals(x, item)) return true;
                return false;
            case Dictionary<string, object?> d:
                return item is string key && d.ContainsKey(key);
            case JinjaNamespace ns:
                return item is string nk && ns.Values.ContainsKey(nk);
            case JinjaUndefined:
                return false;
            default:
                throw new TemplateException($"Argument of type '{JinjaValue.TypeName(container)}' is not iterable", line);
        }
    }

    // ---------------- tests ----------------

    public static bool ApplyTest(string name, object? v, List<object?> args, int line)
    {
        object? Arg0() => args.Count > 0 ? args[0] : throw new TemplateException($"Test '{name}' needs an argument", line);
        return name switch
        {
            "defined" => v is not JinjaUndefined,
            "undefined" => v is JinjaUndefined,
            "none" => v is null,
            "string" => v is string,
            "mapping" => v is Dictionary<string, object?> or JinjaNamespace,
            "iterable" => v is List<object?> or Dictionary<string, object?> or string,
            "sequence" => v is List<object?> or Dictionary<string, object?> or string,
            "number" => v is long or double,
            "integer" => v is long,
            "float" => v is double,
            "boolean" => v is bool,
            "true" => v is true,
            "false" => v is false,
            "equalto" or "eq" or "==" => JinjaValue.Equals(v, Arg0()),
            "ne" or "!=" => !JinjaValue.Equals(v, Arg0()),
            "lt" or "<" => JinjaValue.Compare(v, Arg0(), line) < 0,
            "le" or "<=" => JinjaValue.Compare(v, Arg0(), line) <= 0,
            "gt" or ">" => JinjaValue.Compare(v, Arg0(), line) > 0,
            "ge" or ">=" => JinjaValue.Compare(v, Arg0(), line) >= 0,
            "in" => Contains(Arg0(), v, line),
            "odd" => ToInt(v, line) % 2 != 0,
            "even" => ToInt(v, line) % 2 == 0,
            "divisibleby" => ToInt(Arg0(), line) != 0 && ToInt(v, line) % ToInt(Arg0(), line) == 0,
            "sameas" => ReferenceEquals(v, Arg0()) || (v is null && Arg0() is null) || (v is bool a && Arg0() is bool b && a == b),
            "callable" => v is IJinjaCallable,
            "lower" => v is string ls && ls == ls.ToLowerInvariant(),
            "upper" => v is string us && us == us.ToUpperInvariant(),
            _ => throw new TemplateException($"Unknown test '{name}'", line),
        };
    }

    // ---------------- filters ----------------

    private static object? Arg(List<object?> args, Dictionary<string, object?> kwargs, int index, string name, object? fallback)
    {
        if (index < args.Count) return args[index];
        return kwargs.TryGetValue(name, out var v) ? v : fallback;
    }

    public static object? ApplyFilter(JinjaInterpreter interpreter, string name, object? v, List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        switch (name)
        {
            case "trim":
            {
                var chars = Arg(args, kwargs, 0, "chars", null);
                var s = JinjaValue.ToStr(v);
                return chars is string cs ? s.Trim(cs.ToCharArray()) : s.Trim();
            }
            case "tojson":
            {
                var indent = Arg(args, kwargs, 0, "indent", null);
                var sortKeys = JinjaValue.Truthy(Arg(args, kwargs, 1, "sort_keys", false));
                return JinjaValue.ToJson(v, indent is null ? null : (int)ToInt(indent, line), sortKeys, line);
            }
            case "length" or "count":
                return v switch
                {
                    string s => (long)s.Length,
                    List<object?> l => (long)l.Count,
                    Dictionary<string, object?> d => (long)d.Count,
                    JinjaNamespace ns => (long)ns.Values.Count,
                    JinjaUndefined => 0L,
                    _ => throw new TemplateException($"Object of type '{JinjaValue.TypeName(v)}' has no length", line),
                };
            case "default" or "d":
            {
                var fallback = Arg(args, kwargs, 0, "default_value", "");
                var boolean = JinjaValue.Truthy(Arg(args, kwargs, 1, "boolean", false));
                return v is JinjaUndefined || (boolean && !JinjaValue.Truthy(v)) ? fallback : v;
            }
            case "items":
                return v switch
                {
                    Dictionary<string, object?> d => ItemsOf(d),
                    JinjaNamespace ns => ItemsOf(ns.Values),
                    JinjaUndefined => new List<object?>(),
                    _ => throw new TemplateException($"The items filter needs a mapping, not {JinjaValue.TypeName(v)}", line),
                };
            case "upper": return JinjaValue.ToStr(v).ToUpperInvariant();
            case "lower": return JinjaValue.ToStr(v).ToLowerInvariant();
            case "capitalize": return Capitalize(JinjaValue.ToStr(v));
            case "title": return Title(JinjaValue.ToStr(v));
            case "replace":
            {
                var s = JinjaValue.ToStr(v);
                var old = JinjaValue.ToStr(Arg(args, kwargs, 0, "old", ""));
                var replacement = JinjaValue.ToStr(Arg(args, kwargs, 1, "new", ""));
                var count = Arg(args, kwargs, 2, "count", null);
                return Replace(s, old, replacement, count is null ? -1 : ToInt(count, line));
            }
            case "join":
            {
                var sep = JinjaValue.ToStr(Arg(args, kwargs, 0, "d", ""));
                var attribute = Arg(args, kwargs, 1, "attribute", null);
                var sb = new StringBuilder();
                var first = true;
                foreach (var item in JinjaInterpreter.Iterate(v, line))
                {
                    if (!first) sb.Append(sep);
                    first = false;
                    sb.Append(JinjaValue.ToStr(attribute is null ? item : GetAttributePath(item, JinjaValue.ToStr(attribute), line)));
                }
                return sb.ToString();
            }
            case "first":
            {
                var items = JinjaInterpreter.Iterate(v, line);
                return items.Count > 0 ? items[0] : new JinjaUndefined("first");
            }
            case "last":
            {
                var items = JinjaInterpreter.Iterate(v, line);
                return items.Count > 0 ? items[^1] : new JinjaUndefined("last");
            }
            case "list": return JinjaInterpreter.Iterate(v, line);
            case "string": return JinjaValue.ToStr(v);
            case "safe": return v;
            case "int":
            {
                var fallback = Arg(args, kwargs, 0, "default", 0L);
                return v switch
                {
                    long l => l,
                    bool b => b ? 1L : 0L,
                    double d => (long)Math.Truncate(d),
                    string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => (long)Math.Truncate(d),
                    _ => fallback,
                };
            }
            case "float":
            {
                var fallback = Arg(args, kwargs, 0, "default", 0.0);
                return v switch
                {
                    long or double or bool => JinjaValue.ToDouble(v),
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
                    _ => fallback,
                };
            }
            case "abs":
                return v switch
                {
                    long l => (object)Math.Abs(l),
                    double d => Math.Abs(d),
                    _ => throw new TemplateException($"Bad operand type for abs(): '{JinjaValue.TypeName(v)}'", line),
                };
            case "round":
            {
                var precision = (int)ToInt(Arg(args, kwargs, 0, "precision", 0L), line);
                var method = JinjaValue.ToStr(Arg(args, kwargs, 1, "method", "common"));
                var d = JinjaValue.IsNumber(v) ? JinjaValue.ToDouble(v) : throw new TemplateException("round needs a number", line);
                var scale = Math.Pow(10, precision);
                return method switch
                {
                    "ceil" => Math.Ceiling(d * scale) / scale,
                    "floor" => Math.Floor(d * scale) / scale,
                    _ => Math.Round(d, precision, MidpointRounding.AwayFromZero),
                };
            }
            case "e" or "escape":
                return HtmlEscape(JinjaValue.ToStr(v));
            case "indent":
            {
                var width = Arg(args, kwargs, 0, "width", 4L);
                var indentText = width is string ws ? ws : new string(' ', (int)ToInt(width, line));
                var indentFirst = JinjaValue.Truthy(Arg(args, kwargs, 1, "first", false));
                var blank = JinjaValue.Truthy(Arg(args, kwargs, 2, "blank", false));
                return Indent(JinjaValue.ToStr(v), indentText, indentFirst, blank);
            }
            case "unique":
            {
                var caseSensitive = JinjaValue.Truthy(Arg(args, kwargs, 0, "case_sensitive", false));
                var attribute = Arg(args, kwargs, 1, "attribute", null);
                var seen = new List<object?>();
                var result = new List<object?>();
                foreach (var item in JinjaInterpreter.Iterate(v, line))
                {
                    var key = attribute is null ? item : GetAttributePath(item, JinjaValue.ToStr(attribute), line);
                    if (!caseSensitive && key is string ks) key = ks.ToLowerInvariant();
                    if (seen.Exists(x => JinjaValue.Equals(x, key))) continue;
                    seen.Add(key);
                    result.Add(item);
                }
                return result;
            }
            case "sort":
            {
                var reverse = JinjaValue.Truthy(Arg(args, kwargs, 0, "reverse", false));
                var caseSensitive = JinjaValue.Truthy(Arg(args, kwargs, 1, "case_sensitive", false));
                var attribute = Arg(args, kwargs, 2, "attribute", null);
                var items = JinjaInterpreter.Iterate(v, line);
                object? Key(object? item)
                {
                    var k = attribute is null ? item : GetAttributePath(item, JinjaValue.ToStr(attribute), line);
                    return !caseSensitive && k is string s ? s.ToLowerInvariant() : k;
                }
                var keyed = new List<(object? Key, object? Item, int Index)>(items.Count);
                for (var i = 0; i < items.Count; i++) keyed.Add((Key(items[i]), items[i], i));
                keyed.Sort((a, b) =>
                {
                    var c = JinjaValue.Compare(a.Key, b.Key, line);
                    if (reverse) c = -c;
                    return c != 0 ? c : a.Index.CompareTo(b.Index);
                });
                var sorted = new List<object?>(items.Count);
                foreach (var k in keyed) sorted.Add(k.Item);
                return sorted;
            }
            case "dictsort":
            {
                if (v is not Dictionary<string, object?> d)
                    throw new TemplateException($"dictsort needs a mapping, not {JinjaValue.TypeName(v)}", line);
                var pairs = ItemsOf(d);
                pairs.Sort((a, b) => string.CompareOrdinal(((string)((List<object?>)a!)[0]!).ToLowerInvariant(), ((string)((List<object?>)b!)[0]!).ToLowerInvariant()));
                return pairs;
            }
            case "reverse":
                if (v is string rs)
                {
                    var chars = rs.ToCharArray();
                    Array.Reverse(chars);
                    return new string(chars);
                }
                var reversed = JinjaInterpreter.Iterate(v, line);
                reversed.Reverse();
                return reversed;
            case "sum":
            {
                var attribute = Arg(args, kwargs, 0, "attribute", null);
                object? total = Arg(args, kwargs, 1, "start", 0L);
                foreach (var item in JinjaInterpreter.Iterate(v, line))
                    total = BinaryOperation("+", total, attribute is null ? item : GetAttributePath(item, JinjaValue.ToStr(attribute), line), line);
                return total;
            }
            case "min" or "max":
            {
                var items = JinjaInterpreter.Iterate(v, line);
                if (items.Count == 0) return new JinjaUndefined(name);
                var best = items[0];
                foreach (var item in items)
                {
                    var c = JinjaValue.Compare(item, best, line);
                    if (name == "min" ? c < 0 : c > 0) best = item;
                }
                return best;
            }
            case "wordcount":
                return (long)JinjaValue.ToStr(v).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
            case "batch":
            {
                var size = (int)ToInt(Arg(args, kwargs, 0, "linecount", 1L), line);
                if (size <= 0) throw new TemplateException("batch size must be positive", line);
                var result = new List<object?>();
                List<object?>? current = null;
                foreach (var item in JinjaInterpreter.Iterate(v, line))
                {
                    if (current is null || current.Count == size) { current = []; result.Add(current); }
                    current.Add(item);
                }
                return result;
            }
            case "selectattr" or "rejectattr":
            {
                if (args.Count == 0) throw new TemplateException($"{name} needs an attribute name", line);
                var attribute = JinjaValue.ToStr(args[0]);
                var keep = name == "selectattr";
                var result = new List<object?>();
                foreach (var item in JinjaInterpreter.Iterate(v, line))
                {
                    var value = GetAttributePath(item, attribute, line);
                    var passed = args.Count > 1 ? ApplyTest(JinjaValue.ToStr(args[1]), value, args.GetRange(2, args.Count - 2), line) : JinjaValue.Truthy(value);
                    if (passed == keep) result.Add(item);
                }
                return result;
            }
            case "select" or "reject":
            {
                var keep = name == "select";
                var result = new List<object?>();
                foreach (var item in JinjaInterpreter.Iterate(v, line))
                {
                    var passed = args.Count > 0 ? ApplyTest(JinjaValue.ToStr(args[0]), item, args.GetRange(1, args.Count - 1), line) : JinjaValue.Truthy(item);
                    if (passed == keep) result.Add(item);
                }
                return result;
            }
            case "map":
            {
                var result = new List<object?>();
                if (kwargs.TryGetValue("attribute", out var attr))
                {
                    kwargs.TryGetValue("default", out var fallback);
                    foreach (var item in JinjaInterpreter.Iterate(v, line))
                    {
                        var value = GetAttributePath(item, JinjaValue.ToStr(attr), line);
                        result.Add(value is JinjaUndefined && kwargs.ContainsKey("default") ? fallback : value);
                    }
                    return result;
                }
                if (args.Count == 0) throw new TemplateException("map needs a filter name or attribute=", line);
                var filter = JinjaValue.ToStr(args[0]);
                if (!IsKnownFilter(filter)) throw new TemplateException($"Unknown filter '{filter}'", line);
                foreach (var item in JinjaInterpreter.Iterate(v, line))
                    result.Add(ApplyFilter(interpreter, filter, item, args.GetRange(1, args.Count - 1), kwargs, line));
                return result;
            }
            default:
                throw new TemplateException($"Unknown filter '{name}'", line);
        }
    }

    private static List<object?> ItemsOf(Dictionary<string, object?> d)
    {
        var list = new List<object?>(d.Count);
        foreach (var (k, v) in d)
            list.Add(new List<object?> { k, v });
        return list;
    }

    /// <summary>"a.b.0" style attribute lookup used by selectattr, map, sort and join.</summary>
    private static object? GetAttributePath(object? item, string path, int line)
    {
        var current = item;
        foreach (var part in path.Split('.'))
        {
            current = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && current is List<object?>
                ? GetItem(current, index, line)
                : current is Dictionary<string, object?> or JinjaNamespace ? GetItem(current, part, line) : GetAttribute(current, part, line);
        }
        return current;
    }

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var previousIsLetter = false;
        foreach (var c in s)
        {
            sb.Append(previousIsLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousIsLetter = char.IsLetter(c);
        }
        return sb.ToString();
    }

    private static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0)
            return old.Length == 0 ? InsertBetweenChars(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        var pos = 0;
        for (var n = 0; n < count; n++)
        {
            var i = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (i < 0 || old.Length == 0) break;
            sb.Append(s, pos, i - pos).Append(replacement);
            pos = i + old.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    private static string InsertBetweenChars(string s, string insert)
    {
        var sb = new StringBuilder(insert);
        foreach (var c in s) sb.Append(c).Append(insert);
        return sb.ToString();
    }

    private static string HtmlEscape(string s) => s
        .Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal)
        .Replace("\"", "&#34;", StringComparison.Ordinal)
        .Replace("'", "&#39;", StringComparison.Ordinal);

    private static string Indent(string s, string indent, bool first, bool blank)
    {
        var lines = s.Split('\n');
        var sb = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            if (i > 0) sb.Append('\n');
            var line = lines[i];
            if ((i > 0 || first) && (blank || line.Trim().Length > 0))
                sb.Append(indent);
            sb.Append(line);
        }
        return sb.ToString();
    }

    // ---------------- methods ----------------

    /// <summary>Python methods of str, list and dict that templates call (message.content.split('x'), tool.items()).</summary>
    public static bool TryCallMethod(object? target, string name, List<object?> args, Dictionary<string, object?> kwargs, int line, out object? result)
    {
        result = null;
        switch (target)
        {
            case string s:
                return TryStringMethod(s, name, args, kwargs, line, out result);
            case List<object?> list:
                switch (name)
                {
                    case "append":
                        list.Add(args.Count > 0 ? args[0] : throw new TemplateException("append() takes one argument", line));
                        result = null;
                        return true;
                    case "extend":
                        list.AddRange(JinjaInterpreter.Iterate(args.Count > 0 ? args[0] : null, line));
                        return true;
                    case "pop":
                    {
                        if (list.Count == 0) throw new TemplateException("pop from empty list", line);
                        var i = args.Count > 0 ? ToInt(args[0], line) : -1;
                        if (i < 0) i += list.Count;
                        if (i < 0 || i >= list.Count) throw new TemplateException("pop index out of range", line);
                        result = list[(int)i];
                        list.RemoveAt((int)i);
                        return true;
                    }
                    case "index":
                        for (var i = 0; i < list.Count; i++)
                            if (JinjaValue.Equals(list[i], args.Count > 0 ? args[0] : null)) { result = (long)i; return true; }
                        throw new TemplateException("list.index(x): x not in list", line);
                    case "count":
                    {
                        long n = 0;
                        foreach (var x in list) if (JinjaValue.Equals(x, args.Count > 0 ? args[0] : null)) n++;
                        result = n;
                        return true;
                    }
                }
                return false;
            case Dictionary<string, object?> d:
                switch (name)
                {
                    case "get":
                        result = args.Count > 0 && d.TryGetValue(KeyOf(args[0]), out var v) ? v : args.Count > 1 ? args[1] : null;
                        return true;
                    case "items":
                        result = ItemsOf(d);
                        return true;
                    case "keys":
                        result = new List<object?>(d.Keys);
                        return true;
                    case "values":
                        result = new List<object?>(d.Values);
                        return true;
                }
                return false;
            default:
                return false;
        }
    }

    private static bool TryStringMethod(string s, string name, List<object?> args, Dictionary<string, object?> kwargs, int line, out object? result)
    {
        string? StrArg(int i) => i < args.Count && args[i] is not null ? JinjaValue.ToStr(args[i]) : null;
        switch (name)
        {
            case "startswith":
            case "endswith":
            {
                var arg = args.Count > 0 ? args[0] : throw new TemplateException($"{name}() takes one argument", line);
                var candidates = arg is List<object?> tuple ? tuple : [arg];
                result = false;
                foreach (var c in candidates)
                {
                    var p = JinjaValue.ToStr(c);
                    if (name == "startswith" ? s.StartsWith(p, StringComparison.Ordinal) : s.EndsWith(p, StringComparison.Ordinal))
                    {
                        result = true;
                        break;
                    }
                }
                return true;
            }
            case "strip": result = StrArg(0) is { } c1 ? s.Trim(c1.ToCharArray()) : s.Trim(); return true;
            case "lstrip": result = StrArg(0) is { } c2 ? s.TrimStart(c2.ToCharArray()) : s.TrimStart(); return true;
            case "rstrip": result = StrArg(0) is { } c3 ? s.TrimEnd(c3.ToCharArray()) : s.TrimEnd(); return true;
            case "upper": result = s.ToUpperInvariant(); return true;
            case "lower": result = s.ToLowerInvariant(); return true;
            case "title": result = Title(s); return true;
            case "capitalize": result = Capitalize(s); return true;
            case "replace":
                result = Replace(s, StrArg(0) ?? "", StrArg(1) ?? "", args.Count > 2 ? ToInt(args[2], line) : -1);
                return true;
            case "split":
            {
                var sep = StrArg(0) ?? (kwargs.TryGetValue("sep", out var k) && k is not null ? JinjaValue.ToStr(k) : null);
                var maxSplit = args.Count > 1 ? ToInt(args[1], line) : kwargs.TryGetValue("maxsplit", out var m) ? ToInt(m, line) : -1;
                result = Split(s, sep, maxSplit, line);
                return true;
            }
            case "splitlines":
            {
                var parts = new List<object?>();
                foreach (var p in s.Split('\n')) parts.Add(p.TrimEnd('\r'));
                if (s.EndsWith('\n')) parts.RemoveAt(parts.Count - 1);
                result = parts;
                return true;
            }
            case "join":
            {
                var sb = new StringBuilder();
                var first = true;
                foreach (var item in JinjaInterpreter.Iterate(args.Count > 0 ? args[0] : null, line))
                {
                    if (!first) sb.Append(s);
                    first = false;
                    sb.Append(JinjaValue.ToStr(item));
                }
                result = sb.ToString();
                return true;
            }
            case "find":
                result = (long)s.IndexOf(StrArg(0) ?? "", StringComparison.Ordinal);
                return true;
            case "count":
            {
                var sub = StrArg(0) ?? "";
                long n = 0;
                if (sub.Length > 0)
                    for (var i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
                result = n;
                return true;
            }
            case "isdigit": result = s.Length > 0 && s.All(char.IsDigit); return true;
            case "isalpha": result = s.Length > 0 && s.All(char.IsLetter); return true;
            case "isspace": result = s.Length > 0 && s.All(char.IsWhiteSpace); return true;
            case "format":
                result = Format(s, args, kwargs, line);
                return true;
        }
        result = null;
        return false;
    }

    private static List<object?> Split(string s, string? sep, long maxSplit, int line)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            // Python's whitespace split: runs of whitespace, no empty strings.
            var i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(s[i..].TrimEnd());
                    return parts;
                }
                var start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (sep.Length == 0) throw new TemplateException("split(): empty separator", line);
        var pos = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            var idx = s.IndexOf(sep, pos, StringComparison.Ordinal);
            if (idx < 0) break;
            parts.Add(s[pos..idx]);
            pos = idx + sep.Length;
        }
        parts.Add(s[pos..]);
        return parts;
    }

    /// <summary>str.format with {} and {0} / {name} fields (no format specs).</summary>
    private static string Format(string s, List<object?> args, Dictionary<string, object?> kwargs, int line)
    {
        var sb = new StringBuilder();
        var auto = 0;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '{' && i + 1 < s.Length && s[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < s.Length && s[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c != '{') { sb.Append(c); continue; }
            var close = s.IndexOf('}', i);
            if (close < 0) throw new TemplateException("Single '{' in format string", line);
            var field = s[(i + 1)..close];
            if (field.Contains(':') || field.Contains('!'))
                throw new TemplateException("Unsupported construct: format specs in str.format", line);
            object? value;
            if (field.Length == 0) value = auto < args.Count ? args[auto++] : throw new TemplateException("Not enough arguments for format string", line);
            else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) value = n < args.Count ? args[n] : throw new TemplateException("Format index out of range", line);
            else value = kwargs.TryGetValue(field, out var kv) ? kv : throw new TemplateException($"Missing format argument '{field}'", line);
            sb.Append(JinjaValue.ToStr(value));
            i = close;
        }
        return sb.ToString();
    }
}
