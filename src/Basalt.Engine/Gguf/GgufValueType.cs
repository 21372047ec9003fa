namespace Basalt.Engine.Gguf;

/// <summary>Metadata value types as numbered in the GGUF format.</summary>
public enum GgufValueType : uint
{
    /// <summary>byte</summary>
    UInt8 = 0,
    /// <summary>sbyte</summary>
    Int8 = 1,
    /// <summary>ushort</summary>
    UInt16 = 2,
    /// <summary>short</summary>
    Int16 = 3,
    /// <summary>uint</summary>
    UInt32 = 4,
    /// <summary>int</summary>
    Int32 = 5,
    /// <summary>float</summary>
    Float32 = 6,
    /// <summary>bool stored as one byte, 0 or 1</summary>
    Bool = 7,
    /// <summary>UTF-8 string with a 64-bit length prefix</summary>
    String = 8,
    /// <summary>element type, 64-bit count, elements</summary>
    Array = 9,
    /// <summary>ulong</summary>
    UInt64 = 10,
    /// <summary>long</summary>
    Int64 = 11,
    /// <summary>double</summary>
    Float64 = 12,
}
