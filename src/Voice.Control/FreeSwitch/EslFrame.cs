using System.Buffers;
using System.Globalization;
using System.Text;
using Voice.Control.Net;

namespace Voice.Control.FreeSwitch;

/// <summary>Bounds on what one Event Socket message may hold; larger input is a protocol error, not a buffer.</summary>
public sealed record EslLimits
{
    /// <summary>The header block, up to and including its blank line. The outbound <c>connect</c> reply carries
    /// every channel variable as a header, several KB in practice.</summary>
    public int MaxHeaderBytes { get; init; } = 256 * 1024;

    /// <summary>The body a <c>Content-Length</c> may announce (api results such as <c>show channels</c> can be large).</summary>
    public int MaxBodyBytes { get; init; } = 16 * 1024 * 1024;

    public static EslLimits Default { get; } = new();
}

/// <summary>
/// Event Socket framing: a header block of <c>Name: value\n</c> lines ended by a blank line, then exactly
/// <c>Content-Length</c> body bytes when that header is present. Pure functions; the connection owns the loop.
/// </summary>
public static class EslFrame
{
    private static readonly byte[] HeaderEnd = "\n\n"u8.ToArray();

    /// <summary>
    /// Takes one message off the front of <paramref name="buffer"/>. Returns false, consuming nothing, when the
    /// buffer holds only part of a message. Limits are checked before the rest of a message is waited for.
    /// </summary>
    /// <exception cref="EslProtocolException">A header line without ':', a bad Content-Length, or a limit exceeded.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, EslLimits limits, out EslMessage message)
    {
        message = null!;
        var start = SkipBlankLines(buffer);
        var rest = buffer.Slice(start);
        var headerLength = IndexOfHeaderEnd(rest, limits.MaxHeaderBytes);
        if (headerLength < 0)
        {
            if (rest.Length >= limits.MaxHeaderBytes)
            {
                throw Malformed(rest, $"no blank line ends the header block within {limits.MaxHeaderBytes} bytes");
            }
            return false;
        }

        var headers = ParseHeaders(rest.Slice(0, headerLength), rest, out var contentLength);
        if (contentLength > limits.MaxBodyBytes)
        {
            throw Malformed(rest, $"Content-Length {contentLength} is over the limit of {limits.MaxBodyBytes} bytes");
        }
        var bodyStart = headerLength + 1; // past the blank line
        if (rest.Length < bodyStart + contentLength)
        {
            return false;
        }
        var body = contentLength == 0 ? ReadOnlyMemory<byte>.Empty : rest.Slice(bodyStart, contentLength).ToArray();
        message = headers.Decoded is { } decoded ? new EslMessage(decoded, body, ownsBody: true) : new EslMessage(headers.Block!, body, ownsBody: true);
        buffer = rest.Slice(bodyStart + contentLength);
        return true;
    }

    /// <summary>Tolerates stray newlines between messages.</summary>
    private static long SkipBlankLines(in ReadOnlySequence<byte> buffer)
    {
        var first = buffer.FirstSpan;
        var i = 0;
        while (i < first.Length && first[i] == (byte)'\n')
        {
            i++;
        }
        return i;
    }

    /// <summary>The length of the header lines (without the final blank line), or -1 when not all here yet.</summary>
    private static int IndexOfHeaderEnd(in ReadOnlySequence<byte> buffer, int maxHeaderBytes)
    {
        if (buffer.IsSingleSegment)
        {
            var span = buffer.FirstSpan;
            var index = span[..Math.Min(span.Length, maxHeaderBytes)].IndexOf(HeaderEnd);
            return index < 0 ? -1 : index + 1;
        }
        var reader = new SequenceReader<byte>(buffer);
        if (reader.TryReadTo(out ReadOnlySequence<byte> headerBlock, HeaderEnd, advancePastDelimiter: false)
            && headerBlock.Length + 2 <= maxHeaderBytes)
        {
            return (int)headerBlock.Length + 1;
        }
        return -1;
    }

    /// <summary>
    /// Header blocks longer than this keep their values as bytes, each decoded when asked for: the outbound
    /// <c>connect</c> reply's 250 channel variables (10 KB) live as long as the call, as one array instead of 250
    /// strings that every collection of the young generation would copy. Shorter blocks (replies, plain events'
    /// envelopes) are decoded at once.
    /// </summary>
    internal const int LazyHeaderBytes = 2048;

    private static (KeyValuePair<string, string>[]? Decoded, EslHeaderBlock? Block) ParseHeaders(
        in ReadOnlySequence<byte> block, in ReadOnlySequence<byte> whole, out int contentLength)
    {
        var lazy = block.Length > LazyHeaderBytes;
        byte[]? rented = null;
        byte[]? kept = null;
        ReadOnlySpan<byte> span;
        if (lazy)
        {
            span = kept = block.ToArray();
        }
        else if (block.IsSingleSegment)
        {
            span = block.FirstSpan;
        }
        else
        {
            rented = ArrayPool<byte>.Shared.Rent((int)block.Length);
            block.CopyTo(rented);
            span = rented.AsSpan(0, (int)block.Length);
        }
        // Where each value lies, in a pooled array: a block's values become strings, or a block of its own, either way.
        var slots = ArrayPool<EslHeaderBlock.Slot>.Shared.Rent(span.Count((byte)'\n') + 1);
        try
        {
            contentLength = 0;
            var count = 0;
            foreach (var range in span.Split((byte)'\n'))
            {
                var line = span[range];
                if (line.IsEmpty)
                {
                    continue;
                }
                var colon = line.IndexOf((byte)':');
                if (colon <= 0)
                {
                    throw Malformed(whole, $"header line '{WireText.Printable(line[..Math.Min(line.Length, 64)])}{(line.Length > 64 ? "…" : string.Empty)}' has no name before ':'");
                }
                var valueStart = colon + 1;
                if (valueStart < line.Length && line[valueStart] == (byte)' ')
                {
                    valueStart++;
                }
                var name = HeaderName(line[..colon]);
                var value = line[valueStart..];
                if (ReferenceEquals(name, ContentLengthName) && !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out contentLength))
                {
                    throw Malformed(whole, $"Content-Length '{WireText.Preview(Encoding.UTF8.GetString(value), 32)}' is not a byte count");
                }
                slots[count++] = new(name, range.Start.GetOffset(span.Length) + valueStart, value.Length);
            }
            if (kept is not null)
            {
                return (null, new EslHeaderBlock(kept, slots.AsSpan(0, count).ToArray()));
            }
            var headers = new KeyValuePair<string, string>[count];
            for (var i = 0; i < count; i++)
            {
                headers[i] = new(slots[i].Name, Encoding.UTF8.GetString(span.Slice(slots[i].Start, slots[i].Length)));
            }
            return (headers, null);
        }
        finally
        {
            ArrayPool<EslHeaderBlock.Slot>.Shared.Return(slots, clearArray: true);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private const string ContentLengthName = "Content-Length";

    /// <summary>
    /// Header names, shared between messages (FreeSWITCH's are its channel variables, a few hundred in practice). Seeded
    /// with the envelope's, which are compared by reference.
    /// </summary>
    private static readonly NameTable Names = new(capacity: 4096, maxLength: 256, "Content-Type", ContentLengthName, "Reply-Text", "Job-UUID");

    private static string HeaderName(ReadOnlySpan<byte> name)
    {
        if (name.Length > 256)
        {
            return Encoding.ASCII.GetString(name);
        }
        Span<char> chars = stackalloc char[name.Length];
        Encoding.ASCII.GetChars(name, chars);
        return Names.Get(chars);
    }

    /// <summary>
    /// Writes a command: its lines, then the blank line that ends it. With a body, the lines get a
    /// <c>content-length</c> and the body follows the blank line, counted rather than terminated, so it may hold
    /// anything (FreeSWITCH reads exactly that many bytes).
    /// </summary>
    public static void WriteCommand(IBufferWriter<byte> writer, string command, string? body = null)
    {
        var bodyLength = body is null ? 0 : Encoding.UTF8.GetByteCount(body);
        var head = body is null ? command : $"{command}\ncontent-length: {bodyLength.ToString(CultureInfo.InvariantCulture)}";
        var length = Encoding.UTF8.GetByteCount(head);
        var span = writer.GetSpan(length + 2 + bodyLength);
        Encoding.UTF8.GetBytes(head, span);
        span[length] = (byte)'\n';
        span[length + 1] = (byte)'\n';
        if (body is not null)
        {
            Encoding.UTF8.GetBytes(body, span[(length + 2)..]);
        }
        writer.Advance(length + 2 + bodyLength);
    }

    private static EslProtocolException Malformed(in ReadOnlySequence<byte> buffer, string reason) =>
        new($"malformed Event Socket message: {reason}; the message starts with '{Preview(buffer)}'");

    /// <summary>The first bytes of a buffer, printable, for error messages and logs.</summary>
    internal static string Preview(in ReadOnlySequence<byte> buffer, int max = 64) => WireText.Preview(buffer, max);
}
