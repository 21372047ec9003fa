using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Basalt.Server.OpenAi;

/// <summary>Writes a whole JSON body through a per-thread buffer, then sends it with a Content-Length: nothing reaches the
/// client if writing fails halfway (so the error middleware can still answer), and the writer and buffer are reused.</summary>
internal static class JsonResponse
{
    /// <summary>A buffer grown past this is dropped after use rather than kept by its thread (64 KiB).</summary>
    public const int MaxRetainedBytes = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_json;

    /// <summary>Writes <paramref name="write"/>'s JSON as the response body with the given status.</summary>
    public static Task WriteAsync<TState>(HttpContext context, int status, TState state, Action<Utf8JsonWriter, TState> write)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        var json = t_json ??= new Utf8JsonWriter(buffer, OpenAiErrorFormat.WriterOptions);
        buffer.ResetWrittenCount();
        json.Reset(buffer);
        write(json, state);
        json.Flush();

        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        response.BodyWriter.Write(buffer.WrittenSpan);
        if (buffer.Capacity > MaxRetainedBytes)
        {
            t_buffer = null;
            t_json = null;
        }
        return FlushAsync(response.BodyWriter, context.RequestAborted);
    }

    private static Task FlushAsync(System.IO.Pipelines.PipeWriter writer, CancellationToken cancellationToken)
    {
        var flush = writer.FlushAsync(cancellationToken);
        return flush.IsCompletedSuccessfully ? Task.CompletedTask : flush.AsTask();
    }
}
