using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Basalt.Engine.Templates;

/// <summary>The value of a name or attribute that does not exist: prints as "", is falsy, iterates as empty.</summary>
internal sealed class JinjaUndefined
{
    public static readonly JinjaUndefined Instance = new(null);

    public JinjaUndefined(string? name) => Name = name;

    /// <summary>What was looked up, for error messages.</summary>
    public string? Name { get; }
}

/// <summary>namespace(): the one mutable object templates may assign attributes to from inside loops.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Values { get; } = new(StringComparer.Ordinal);
}

/// <summary>Something a template can call: a macro, a global function or a bound method.</summary>
internal interface IJinjaCallable
{
    object? Call(JinjaInterpreter interpreter, List<object?> args, Dictionary<string, object?> kwargs, int line);
}

internal sealed class JinjaFunction(string name, Func<List<object?>, Dictionary<string, object?>, int, object?> body) : IJinjaCallable
{
    public string Name { get; } = name;

    public object? Call(JinjaInterpreter interpreter, List<object?> args, Dictionary<string, object?> kwargs, int line) => body(args, kwargs, line);
}

/// <summary>Python-like value semantics over the CLR shapes the interpreter uses: null (None), bool, long, double,
/// string, List&lt;object?&gt; (list and tuple), Dictionary&lt;string, object?&gt; (dict, insertion ordered),
/// <see cref="JinjaNamespace"/>, <see cref="JinjaUndefined"/> and callables.</summary>
internal static class JinjaValue
{
    public static bool IsUndefined(object? v) => v is JinjaUndefined;

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        Dictionary<string, object?> dict => dict.Count > 0,
        _ => true,
    };

    /// <summary>str(v) as a template prints it; None prints as "" (Basalt's choice, so absent content never prints "None").</summary>
    public static string ToStr(object? v) => v switch
    {
        null => "",
        JinjaUndefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        _ => Repr(v),
    };

    /// <summary>Python's repr(): strings quoted, lists as [...], dicts as {...}.</summary>
    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v, int depth)
    {
        if (depth > JinjaInterpreter.MaxValueDepth)
            throw new TemplateException("A value nests too deeply to print.");
        switch (v)
        {
            case null: sb.Append("None"); break;
            case string s: AppendPyString(sb, s); break;
            case List<object?> list:
                sb.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, list[i], depth + 1);
                }
                sb.Append(']');
                break;
            case Dictionary<string, object?> dict:
                sb.Append('{');
                var first = true;
                foreach (var (k, val) in dict)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendPyString(sb, k);
                    sb.Append(": ");
                    AppendRepr(sb, val, depth + 1);
                }
                sb.Append('}');
                break;
            case JinjaNamespace: sb.Append("<Namespace>"); break;
            case IJinjaCallable: sb.Append("<function>"); break;
            case JinjaUndefined: break;
            default: sb.Append(ToStr(v)); break;
        }
    }

    private static void AppendPyString(StringBuilder sb, string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append(quote);
    }

    /// <summary>Python's repr of a float: shortest round-trip digits, ".0" on integers, exponent form outside 1e-4..1e16.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d)) return "NaN";
        if (double.IsPositiveInfinity(d)) return "Infinity";
        if (double.IsNegativeInfinity(d)) return "-Infinity";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // Shortest round-trip digits come from "R"; the exponent from its scientific form.
        var shortest = d.ToString("R", CultureInfo.InvariantCulture);
        var negative = shortest.StartsWith('-');
        if (negative) shortest = shortest[1..];
        string digits;
        int exponent;
        var ePos = shortest.IndexOfAny(['E', 'e']);
        var mantissa = ePos >= 0 ? shortest[..ePos] : shortest;
        var expPart = ePos >= 0 ? int.Parse(shortest[(ePos + 1)..], CultureInfo.InvariantCulture) : 0;
        var dot = mantissa.IndexOf('.');
        var intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        var fracPart = dot >= 0 ? mantissa[(dot + 1)..] : "";
        digits = (intPart + fracPart).TrimStart('0');
        var leadingZeros = (intPart + fracPart).Length - (intPart + fracPart).TrimStart('0').Length;
        exponent = intPart.Length - 1 - leadingZeros + expPart;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        var sb = new StringBuilder();
        if (negative) sb.Append('-');
        if (exponent >= -4 && exponent < 16)
        {
            if (exponent < 0)
            {
                sb.Append("0.").Append('0', -exponent - 1).Append(digits);
            }
            else if (digits.Length <= exponent + 1)
            {
                sb.Append(digits).Append('0', exponent + 1 - digits.Length).Append(".0");
            }
            else
            {
                sb.Append(digits, 0, exponent + 1).Append('.').Append(digits, exponent + 1, digits.Length - exponent - 1);
            }
        }
        else
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(exponent < 0 ? '-' : '+').Append(Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        JinjaUndefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        JinjaNamespace => "Namespace",
        IJinjaCallable => "function",
        _ => v.GetType().Name,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    public static new bool Equals(object? a, object? b)
    {
        if (ReferenceEquals(a, b)) return true;
        switch (a)
        {
            case null: return b is null;
            case JinjaUndefined: return b is JinjaUndefined;
            case string sa: return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case long or double or bool when IsNumber(b):
                if (a is long la && b is long lb) return la == lb;
                return ToDouble(a) == ToDouble(b);
            case List<object?> listA:
                if (b is not List<object?> listB || listA.Count != listB.Count) return false;
                for (var i = 0; i < listA.Count; i++)
                    if (!Equals(listA[i], listB[i])) return false;
                return true;
            case Dictionary<string, object?> dictA:
                if (b is not Dictionary<string, object?> dictB || dictA.Count != dictB.Count) return false;
                foreach (var (k, v) in dictA)
                    if (!dictB.TryGetValue(k, out var other) || !Equals(v, other)) return false;
                return true;
            default: return false;
        }
    }

    /// <summary>Python ordering for numbers, strings and lists; anything else is a type error.</summary>
    public static int Compare(object? a, object? b, int line)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is long la && b is long lb) return la.CompareTo(lb);
            return ToDouble(a).CompareTo(ToDouble(b));
        }
        if (a is string sa && b is string sb)
            return string.CompareOrdinal(sa, sb);
        if (a is List<object?> xa && b is List<object?> xb)
        {
            for (var i = 0; i < Math.Min(xa.Count, xb.Count); i++)
            {
                var c = Compare(xa[i], xb[i], line);
                if (c != 0) return c;
            }
            return xa.Count.CompareTo(xb.Count);
        }
        throw new TemplateException($"Cannot compare {TypeName(a)} with {TypeName(b)}", line);
    }

    /// <summary>Converts a JSON value to a template value; integers stay integers, key order is kept.</summary>
    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => FromJsonObject(e),
        JsonValueKind.Array => FromJsonArray(e),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => IsIntegerText(e.GetRawText()) && e.TryGetInt64(out var l) ? (object)l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private static bool IsIntegerText(string raw) => raw.IndexOfAny(['.', 'e', 'E']) < 0;

    private static Dictionary<string, object?> FromJsonObject(JsonElement e)
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
            d[p.Name] = FromJson(p.Value);
        return d;
    }

    private static List<object?> FromJsonArray(JsonElement e)
    {
        var list = new List<object?>(e.GetArrayLength());
        foreach (var item in e.EnumerateArray())
            list.Add(FromJson(item));
        return list;
    }

    /// <summary>Converts a caller-supplied CLR value (extra template variables) to a template value.</summary>
    public static object? FromClr(object? v) => v switch
    {
        null => null,
        string or bool or long or double => v,
        int i => (long)i,
        float f => (double)f,
        decimal m => (double)m,
        JsonElement e => FromJson(e),
        JinjaUndefined or JinjaNamespace or IJinjaCallable => v,
        Dictionary<string, object?> d => d,
        List<object?> l => l,
        System.Collections.IDictionary dict => FromDictionary(dict),
        System.Collections.IEnumerable en => FromEnumerable(en),
        _ => v.ToString(),
    };

    private static Dictionary<string, object?> FromDictionary(System.Collections.IDictionary dict)
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in dict)
            d[entry.Key.ToString() ?? ""] = FromClr(entry.Value);
        return d;
    }

    private static List<object?> FromEnumerable(System.Collections.IEnumerable en)
    {
        var list = new List<object?>();
        foreach (var item in en)
            list.Add(FromClr(item));
        return list;
    }

    /// <summary>json.dumps(v, ensure_ascii=False) with Python's separators: ", " and ": " without indent,
    /// "," and ": " with one.</summary>
    public static string ToJson(object? v, int? indent, bool sortKeys, int line)
    {
        var sb = new StringBuilder();
        AppendJson(sb, v, indent, sortKeys, 0, line);
        return sb.ToString();
    }

    private static void AppendJson(StringBuilder sb, object? v, int? indent, bool sortKeys, int level, int line)
    {
        if (level > JinjaInterpreter.MaxValueDepth)
            throw new TemplateException("A value nests too deeply for tojson.", line);
        switch (v)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FormatFloat(d)); break;
            case string s: AppendJsonString(sb, s); break;
            case List<object?> list:
                if (list.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(indent is null ? ", " : ",");
                    NewLine(sb, indent, level + 1);
                    AppendJson(sb, list[i], indent, sortKeys, level + 1, line);
                }
                NewLine(sb, indent, level);
                sb.Append(']');
                break;
            case Dictionary<string, object?> dict:
                if (dict.Count == 0) { sb.Append("{}"); break; }
                sb.Append('{');
                IEnumerable<string> keys = dict.Keys;
                if (sortKeys)
                {
                    var sorted = new List<string>(dict.Keys);
                    sorted.Sort(StringComparer.Ordinal);
                    keys = sorted;
                }
                var first = true;
                foreach (var k in keys)
                {
                    if (!first) sb.Append(indent is null ? ", " : ",");
                    first = false;
                    NewLine(sb, indent, level + 1);
                    AppendJsonString(sb, k);
                    sb.Append(": ");
                    AppendJson(sb, dict[k], indent, sortKeys, level + 1, line);
                }
                NewLine(sb, indent, level);
                sb.Append('}');
                break;
            case JinjaNamespace ns:
                AppendJson(sb, ns.Values, indent, sortKeys, level, line);
                break;
            case JinjaUndefined u:
                throw new TemplateException($"Cannot convert undefined value{(u.Name is null ? "" : $" '{u.Name}'")} to JSON", line);
            default:
                throw new TemplateException($"Cannot convert {TypeName(v)} to JSON", line);
        }
    }

    private static void NewLine(StringBuilder sb, int? indent, int level)
    {
        if (indent is { } n)
            sb.Append('\n').Append(' ', n * level);
    }

    private static void AppendJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
