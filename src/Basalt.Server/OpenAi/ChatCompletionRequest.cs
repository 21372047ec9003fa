using Basalt.Core.Conversation;

namespace Basalt.Server.OpenAi;

/// <summary>A parsed POST /v1/chat/completions body: the native request plus what only the OpenAI wire needs.</summary>
internal sealed record ChatCompletionRequest(ConverseRequest Converse, string Model, bool Stream, bool IncludeUsage);

/// <summary>A request the OpenAI face rejects with 400; <see cref="Param"/> names the offending field.</summary>
internal sealed class OpenAiRequestException(string? param, string message) : Exception(message)
{
    /// <summary>The JSON path of the offending field (for example messages[2].content), or null for the whole body.</summary>
    public string? Param { get; } = param;
}
