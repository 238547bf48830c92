using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Voice.Control.Net;

/// <summary>
/// Writes a small JSON document to a string through a buffer and writer that each thread keeps. Every call writes
/// a few such documents (each webhook's body, each change's results): a new stream and writer each time cost
/// about 7 KB of garbage per webhook (the writer's own buffer, grown while writing, and the stream's).
/// </summary>
internal static class JsonText
{
    /// <summary>A buffer that grew past this for one large document is not kept for the thread's next one.</summary>
    private const int KeptCapacity = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>The UTF-8 JSON that <paramref name="write"/> writes, as a string.</summary>
    public static string Write(Action<Utf8JsonWriter> write) => Write(write, static (json, write) => write(json));

    /// <summary>The UTF-8 JSON that <paramref name="write"/> writes about <paramref name="state"/>, as a string.</summary>
    public static string Write<TState>(TState state, Action<Utf8JsonWriter, TState> write)
    {
        var buffer = t_buffer ?? new ArrayBufferWriter<byte>(1024);
        var json = t_writer ?? new Utf8JsonWriter(buffer);
        // Taken while in use: a document written inside another (never done today) gets fresh ones, not these.
        t_buffer = null;
        t_writer = null;
        buffer.ResetWrittenCount();
        json.Reset(buffer);
        write(json, state);
        json.Flush();
        var text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        if (buffer.Capacity <= KeptCapacity)
        {
            t_buffer = buffer;
            t_writer = json;
        }
        return text;
    }
}
