using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Voice.Control.FreeSwitch;

/// <summary>
/// A FreeSWITCH event with its headers decoded: from <c>text/event-plain</c> (URL-encoded values, an optional
/// inner <c>Content-Length</c> body such as a BACKGROUND_JOB result), from <c>text/event-json</c>
/// (<c>_body</c> is the body), or from the channel data of an outbound <c>connect</c> reply.
/// </summary>
/// <remarks>
/// A channel event carries every channel variable, some 250 headers and 10 KB; a call looks at a handful. So a
/// JSON event is read once for the headers calls use (<see cref="Known"/>) without making strings of the rest,
/// and channel data is decoded header by header as asked. Anything else — another header, <see cref="Headers"/> —
/// decodes the whole event once.
/// </remarks>
public sealed class EslEvent
{
    /// <summary>The headers read at once from a JSON event; the rest wait until asked for.</summary>
    private static readonly string[] Known =
    [
        "Event-Name", "Unique-ID", "Core-UUID", "Event-Sequence", "Job-UUID", "Job-Command", "Application", "Application-Data",
        "Application-UUID", "Application-Response", "Hangup-Cause", "DTMF-Digit", "DTMF-Duration", "DTMF-Source", "Answer-State",
        "Channel-Call-State", "Content-Disposition", "Content-Type", "variable_read_result", "variable_read_terminator_used", "variable_record_ms",
    ];

    private static readonly byte[][] KnownUtf8 = [.. Known.Select(Encoding.UTF8.GetBytes)];

    /// <summary><see cref="KnownUtf8"/> by length (null where no name has that length).</summary>
    private static readonly byte[][]?[] KnownByLength = ByLength(KnownUtf8);

    private readonly Dictionary<string, string>? _known;
    private readonly ReadOnlyMemory<byte>? _json;
    private readonly EslMessage? _encoded;
    private Dictionary<string, string>? _headers;

    private EslEvent(Dictionary<string, string> headers, string? body)
    {
        _headers = headers;
        Body = body;
    }

    private EslEvent(ReadOnlyMemory<byte> json, Dictionary<string, string> known, string? body)
    {
        _json = json;
        _known = known;
        Body = body;
    }

    private EslEvent(EslMessage encoded) => _encoded = encoded;

    /// <summary>Every header, values decoded. Names compare case-insensitively.</summary>
    public IReadOnlyDictionary<string, string> Headers => _headers ??= DecodeAll();

    /// <summary>A header's decoded value; null when absent.</summary>
    public string? this[string name]
    {
        get
        {
            if (_headers is not null)
            {
                return _headers.GetValueOrDefault(name);
            }
            if (_known is not null && Array.Exists(Known, k => k.Equals(name, StringComparison.OrdinalIgnoreCase)))
            {
                return _known.GetValueOrDefault(name);
            }
            if (_encoded is not null)
            {
                return _encoded[name] is { } value ? Decode(value) : null;
            }
            return Headers.GetValueOrDefault(name);
        }
    }

    /// <summary><c>Event-Name</c>: CHANNEL_EXECUTE_COMPLETE, DTMF, HEARTBEAT, BACKGROUND_JOB, …</summary>
    public string Name => this["Event-Name"] ?? string.Empty;

    /// <summary>The channel the event is about (<c>Unique-ID</c>).</summary>
    public string? UniqueId => this["Unique-ID"];

    /// <summary>The event's own body (a BACKGROUND_JOB's result), or null.</summary>
    public string? Body { get; }

    /// <summary>A channel variable (<c>variable_&lt;name&gt;</c>).</summary>
    public string? Variable(string name) => this["variable_" + name];

    public override string ToString() => UniqueId is { } uuid ? $"{Name} {uuid}" : Name;

    /// <summary>Decodes the event a message carries.</summary>
    /// <exception cref="EslProtocolException">The message is no event, or its body does not parse.</exception>
    public static EslEvent Parse(EslMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.ContentType switch
        {
            EslContentTypes.EventPlain => ParsePlain(message.Body.Span),
            EslContentTypes.EventJson => ParseJson(message.Body, message.OwnsBody),
            _ when message["Event-Name"] is not null => new EslEvent(message),
            _ => throw new EslProtocolException($"not an event: {message}"),
        };
    }

    private Dictionary<string, string> DecodeAll()
    {
        if (_json is { } json)
        {
            var all = new Dictionary<string, string>(256, StringComparer.OrdinalIgnoreCase);
            ReadJson(json.Span, (name, value) => all.TryAdd(name, value), knownOnly: false);
            return all;
        }
        var decoded = new Dictionary<string, string>(_encoded!.Headers.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in _encoded.Headers)
        {
            decoded.TryAdd(name, Decode(value));
        }
        return decoded;
    }

    /// <summary>A URL-encoded header value of channel data, decoded.</summary>
    private static string Decode(string value) => value.Contains('%', StringComparison.Ordinal) ? Uri.UnescapeDataString(value) : value;

    private static EslEvent ParsePlain(ReadOnlySpan<byte> text)
    {
        var headers = new Dictionary<string, string>(64, StringComparer.OrdinalIgnoreCase);
        var contentLength = -1;
        while (true)
        {
            var newline = text.IndexOf((byte)'\n');
            var line = newline < 0 ? text : text[..newline];
            text = newline < 0 ? [] : text[(newline + 1)..];
            if (line.IsEmpty)
            {
                break;
            }
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                throw new EslProtocolException($"malformed text/event-plain: header line '{Encoding.UTF8.GetString(line)}' has no name before ':'");
            }
            var valueStart = colon + 1 < line.Length && line[colon + 1] == (byte)' ' ? colon + 2 : colon + 1;
            var name = Encoding.ASCII.GetString(line[..colon]);
            var value = PercentDecode(line[valueStart..]);
            if (name == "Content-Length")
            {
                _ = int.TryParse(value, out contentLength);
            }
            headers.TryAdd(name, value);
            if (newline < 0)
            {
                break;
            }
        }
        string? body = null;
        if (contentLength >= 0)
        {
            if (contentLength > text.Length)
            {
                throw new EslProtocolException(
                    $"malformed text/event-plain {headers.GetValueOrDefault("Event-Name")}: its body announces {contentLength} bytes, {text.Length} follow");
            }
            body = Encoding.UTF8.GetString(text[..contentLength]);
        }
        return new EslEvent(headers, body);
    }

    /// <summary>Checks the whole event and keeps the <see cref="Known"/> headers and the body; the rest stays bytes.</summary>
    private static EslEvent ParseJson(ReadOnlyMemory<byte> json, bool owned)
    {
        var known = new Dictionary<string, string>(8, StringComparer.OrdinalIgnoreCase);
        string? body = null;
        ReadJson(json.Span, (name, value) =>
        {
            if (name == "_body")
            {
                body = value;
            }
            else
            {
                known.TryAdd(name, value);
            }
        }, knownOnly: true);
        // The framing's copy is the event's own (10 KB a channel event): kept, not copied again.
        return new EslEvent(owned ? json : json.ToArray(), known, body);
    }

    /// <summary>
    /// Reads a JSON event, handing <paramref name="take"/> every header, or with <paramref name="knownOnly"/> the
    /// <see cref="Known"/> ones and <c>_body</c>; the values of the others are passed over without a string.
    /// </summary>
    private static void ReadJson(ReadOnlySpan<byte> json, Action<string, string> take, bool knownOnly)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new EslProtocolException("malformed text/event-json: the body is not a JSON object");
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var keep = !knownOnly || reader.ValueTextEquals("_body"u8) || IsKnown(ref reader);
                var name = keep ? reader.GetString()! : null;
                reader.Read();
                if (!keep)
                {
                    reader.Skip();
                    continue;
                }
                var value = reader.TokenType switch
                {
                    JsonTokenType.String => reader.GetString()!,
                    JsonTokenType.StartArray or JsonTokenType.StartObject => RawValue(ref reader, json),
                    _ => Encoding.UTF8.GetString(reader.ValueSpan),
                };
                take(name!, value);
            }
        }
        catch (JsonException ex)
        {
            throw new EslProtocolException($"malformed text/event-json: {ex.Message}");
        }
    }

    private static bool IsKnown(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped)
        {
            foreach (var name in KnownUtf8)
            {
                if (reader.ValueTextEquals(name))
                {
                    return true;
                }
            }
            return false;
        }
        // A channel event has some 250 headers and the calls read a few: most names are passed over on their length.
        // (The reader reads one span, so a name is never split across segments.)
        var text = reader.ValueSpan;
        if (text.Length >= KnownByLength.Length || KnownByLength[text.Length] is not { } sameLength)
        {
            return false;
        }
        foreach (var candidate in sameLength)
        {
            if (text.SequenceEqual(candidate))
            {
                return true;
            }
        }
        return false;
    }

    private static byte[][]?[] ByLength(byte[][] names)
    {
        var table = new byte[][]?[names.Max(n => n.Length) + 1];
        foreach (var group in names.GroupBy(n => n.Length))
        {
            table[group.Key] = [.. group];
        }
        return table;
    }

    /// <summary>An array or object value (FreeSWITCH sends arrays for repeated headers) kept as its JSON text.</summary>
    private static string RawValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> json)
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        return Encoding.UTF8.GetString(json[start..((int)reader.BytesConsumed)]);
    }

    /// <summary>URL-decodes a header value (%XX escapes, UTF-8), without allocating when there is nothing to decode.</summary>
    internal static string PercentDecode(ReadOnlySpan<byte> value)
    {
        var percent = value.IndexOf((byte)'%');
        if (percent < 0)
        {
            return Encoding.UTF8.GetString(value);
        }
        byte[]? rented = null;
        var buffer = value.Length <= 512 ? stackalloc byte[value.Length] : (rented = ArrayPool<byte>.Shared.Rent(value.Length));
        try
        {
            value[..percent].CopyTo(buffer);
            var length = percent;
            for (var i = percent; i < value.Length; i++)
            {
                var b = value[i];
                if (b == (byte)'%' && i + 2 < value.Length && IsHex(value[i + 1]) && IsHex(value[i + 2]))
                {
                    buffer[length++] = (byte)((Hex(value[i + 1]) << 4) | Hex(value[i + 2]));
                    i += 2;
                }
                else
                {
                    buffer[length++] = b;
                }
            }
            return Encoding.UTF8.GetString(buffer[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static bool IsHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';

    private static int Hex(byte b) => b <= (byte)'9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
