using System.Globalization;

namespace Basalt.Engine.Gguf;

/// <summary>One metadata value: a scalar, a string, or an array (arrays of arrays hold <see cref="GgufMetadataValue"/> elements).</summary>
/// <remarks>Scalars are boxed in <see cref="Value"/>; arrays are typed CLR arrays (byte[], sbyte[], ushort[], short[], uint[], int[],
/// float[], bool[], string[], ulong[], long[], double[], or GgufMetadataValue[] for nested arrays).</remarks>
public sealed class GgufMetadataValue
{
    private GgufMetadataValue(GgufValueType type, GgufValueType elementType, object value)
    {
        Type = type;
        ElementType = elementType;
        Value = value;
    }

    /// <summary>The value's type.</summary>
    public GgufValueType Type { get; }

    /// <summary>For arrays, the element type; otherwise equal to <see cref="Type"/>.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>The boxed scalar, string, or typed array.</summary>
    public object Value { get; }

    /// <summary>Number of elements of an array value, or 1 for a scalar.</summary>
    public int Count => Value is Array a ? a.Length : 1;

    /// <summary>A uint8 value.</summary>
    public static GgufMetadataValue From(byte v) => new(GgufValueType.UInt8, GgufValueType.UInt8, v);
    /// <summary>An int8 value.</summary>
    public static GgufMetadataValue From(sbyte v) => new(GgufValueType.Int8, GgufValueType.Int8, v);
    /// <summary>A uint16 value.</summary>
    public static GgufMetadataValue From(ushort v) => new(GgufValueType.UInt16, GgufValueType.UInt16, v);
    /// <summary>An int16 value.</summary>
    public static GgufMetadataValue From(short v) => new(GgufValueType.Int16, GgufValueType.Int16, v);
    /// <summary>A uint32 value.</summary>
    public static GgufMetadataValue From(uint v) => new(GgufValueType.UInt32, GgufValueType.UInt32, v);
    /// <summary>An int32 value.</summary>
    public static GgufMetadataValue From(int v) => new(GgufValueType.Int32, GgufValueType.Int32, v);
    /// <summary>A uint64 value.</summary>
    public static GgufMetadataValue From(ulong v) => new(GgufValueType.UInt64, GgufValueType.UInt64, v);
    /// <summary>An int64 value.</summary>
    public static GgufMetadataValue From(long v) => new(GgufValueType.Int64, GgufValueType.Int64, v);
    /// <summary>A float32 value.</summary>
    public static GgufMetadataValue From(float v) => new(GgufValueType.Float32, GgufValueType.Float32, v);
    /// <summary>A float64 value.</summary>
    public static GgufMetadataValue From(double v) => new(GgufValueType.Float64, GgufValueType.Float64, v);
    /// <summary>A bool value.</summary>
    public static GgufMetadataValue From(bool v) => new(GgufValueType.Bool, GgufValueType.Bool, v);
    /// <summary>A string value.</summary>
    public static GgufMetadataValue From(string v) => new(GgufValueType.String, GgufValueType.String, v ?? throw new ArgumentNullException(nameof(v)));

    /// <summary>An array of uint8.</summary>
    public static GgufMetadataValue Array(byte[] v) => Arr(GgufValueType.UInt8, v);
    /// <summary>An array of int8.</summary>
    public static GgufMetadataValue Array(sbyte[] v) => Arr(GgufValueType.Int8, v);
    /// <summary>An array of uint16.</summary>
    public static GgufMetadataValue Array(ushort[] v) => Arr(GgufValueType.UInt16, v);
    /// <summary>An array of int16.</summary>
    public static GgufMetadataValue Array(short[] v) => Arr(GgufValueType.Int16, v);
    /// <summary>An array of uint32.</summary>
    public static GgufMetadataValue Array(uint[] v) => Arr(GgufValueType.UInt32, v);
    /// <summary>An array of int32.</summary>
    public static GgufMetadataValue Array(int[] v) => Arr(GgufValueType.Int32, v);
    /// <summary>An array of uint64.</summary>
    public static GgufMetadataValue Array(ulong[] v) => Arr(GgufValueType.UInt64, v);
    /// <summary>An array of int64.</summary>
    public static GgufMetadataValue Array(long[] v) => Arr(GgufValueType.Int64, v);
    /// <summary>An array of float32.</summary>
    public static GgufMetadataValue Array(float[] v) => Arr(GgufValueType.Float32, v);
    /// <summary>An array of float64.</summary>
    public static GgufMetadataValue Array(double[] v) => Arr(GgufValueType.Float64, v);
    /// <summary>An array of bool.</summary>
    public static GgufMetadataValue Array(bool[] v) => Arr(GgufValueType.Bool, v);
    /// <summary>An array of strings.</summary>
    public static GgufMetadataValue Array(string[] v) => Arr(GgufValueType.String, v);

    /// <summary>An array of arrays; every element must itself be an array value.</summary>
    public static GgufMetadataValue Array(GgufMetadataValue[] v)
    {
        foreach (var e in v)
            if (e.Type != GgufValueType.Array)
                throw new ArgumentException("Every element of a nested array must be an array.", nameof(v));
        return Arr(GgufValueType.Array, v);
    }

    private static GgufMetadataValue Arr(GgufValueType element, Array v) =>
        new(GgufValueType.Array, element, v ?? throw new ArgumentNullException(nameof(v)));

    /// <summary>The value as a signed 64-bit integer when it is an integer type that fits.</summary>
    public bool TryGetInt64(out long value)
    {
        switch (Value)
        {
            case byte b: value = b; return true;
            case sbyte sb: value = sb; return true;
            case ushort us: value = us; return true;
            case short s: value = s; return true;
            case uint ui: value = ui; return true;
            case int i: value = i; return true;
            case long l: value = l; return true;
            case ulong ul when ul <= long.MaxValue: value = (long)ul; return true;
            default: value = 0; return false;
        }
    }

    /// <summary>The value as a double when it is a float or integer type.</summary>
    public bool TryGetDouble(out double value)
    {
        switch (Value)
        {
            case float f: value = f; return true;
            case double d: value = d; return true;
            case ulong ul: value = ul; return true;
            default:
                var ok = TryGetInt64(out var l);
                value = l;
                return ok;
        }
    }

    /// <summary>A short human-readable rendering; arrays longer than <paramref name="maxElements"/> are abbreviated.</summary>
    public string ToDisplayString(int maxElements = 8, int maxStringLength = 80)
    {
        if (Value is string s)
            return Quote(s, maxStringLength);
        if (Value is Array a)
        {
            var sb = new System.Text.StringBuilder();
            sb.Append('[');
            var shown = Math.Min(a.Length, maxElements);
            for (var i = 0; i < shown; i++)
            {
                if (i > 0)
                    sb.Append(", ");
                sb.Append(a.GetValue(i) switch
                {
                    GgufMetadataValue nested => nested.ToDisplayString(maxElements, maxStringLength),
                    string str => Quote(str, maxStringLength),
                    var o => Scalar(o),
                });
            }
            if (a.Length > shown)
                sb.Append(CultureInfo.InvariantCulture, $", ... ({a.Length} {ElementType} in all)");
            sb.Append(']');
            return sb.ToString();
        }
        return Scalar(Value);
    }

    /// <inheritdoc />
    public override string ToString() => ToDisplayString();

    private static string Scalar(object? o) => o switch
    {
        bool b => b ? "true" : "false",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => o?.ToString() ?? "",
    };

    private static string Quote(string s, int max)
    {
        var cut = s.Length > max ? s[..max] + "..." : s;
        return "\"" + cut.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t") + "\"";
    }
}
