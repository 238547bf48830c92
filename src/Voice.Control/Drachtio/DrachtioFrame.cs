using System.Buffers;
using System.Globalization;
using System.Text;
using Voice.Control.Net;

namespace Voice.Control.Drachtio;

/// <summary>
/// The drachtio control-protocol framing: <c>&lt;UTF-8 byte count&gt;#&lt;message&gt;</c>, no terminator,
/// frames back to back and split anywhere by TCP. Pure functions; the connection owns the loop.
/// </summary>
public static class DrachtioFrame
{
    /// <summary>
    /// drachtio-server reads at most five length digits, so no frame in either direction can exceed 99,999 bytes.
    /// </summary>
    public const int DefaultMaxMessageLength = 99_999;

    /// <summary>
    /// Takes one frame off the front of <paramref name="buffer"/>. Returns false, consuming nothing, when the
    /// buffer holds only part of a frame. The length prefix is checked against <paramref name="maxMessageLength"/>
    /// before any of the message is waited for.
    /// </summary>
    /// <exception cref="DrachtioProtocolException">The prefix is not digits followed by '#', is zero, or is over the limit.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, int maxMessageLength, out ReadOnlySequence<byte> message)
    {
        // drachtio writes up to five digits; a smaller limit is then checked against the value, for a clearer error.
        var maxDigits = Math.Max(5, DigitCount(maxMessageLength));
        var first = buffer.FirstSpan;
        var length = 0;
        var digits = 0;
        var hash = -1;

        // Fast path: the prefix is in the first segment, as it almost always is.
        var scan = Math.Min(first.Length, maxDigits + 1);
        for (var i = 0; i < scan; i++)
        {
            var b = first[i];
            if (b == (byte)'#')
            {
                hash = i;
                break;
            }
            if ((uint)(b - '0') > 9)
            {
                throw Malformed(buffer, $"a length prefix must be digits followed by '#', found byte 0x{b:x2} at offset {i}");
            }
            length = length * 10 + (b - '0');
            digits++;
        }

        if (hash < 0)
        {
            if (digits > maxDigits)
            {
                throw Malformed(buffer, $"the length prefix has more than {maxDigits} digits");
            }
            if (scan == first.Length && !buffer.IsSingleSegment)
            {
                return TryReadSlow(ref buffer, maxMessageLength, maxDigits, out message);
            }
            message = default;
            return false;
        }

        var messageStart = hash + 1;
        Validate(buffer, digits, length, maxMessageLength);
        if (buffer.Length - messageStart < length)
        {
            message = default;
            return false;
        }
        message = buffer.Slice(messageStart, length);
        buffer = buffer.Slice(messageStart + length);
        return true;
    }

    private static bool TryReadSlow(ref ReadOnlySequence<byte> buffer, int maxMessageLength, int maxDigits, out ReadOnlySequence<byte> message)
    {
        var reader = new SequenceReader<byte>(buffer);
        var length = 0;
        var digits = 0;
        while (reader.TryRead(out var b))
        {
            if (b == (byte)'#')
            {
                Validate(buffer, digits, length, maxMessageLength);
                if (reader.Remaining < length)
                {
                    break;
                }
                message = buffer.Slice(reader.Position, length);
                buffer = buffer.Slice(message.End);
                return true;
            }
            if ((uint)(b - '0') > 9)
            {
                throw Malformed(buffer, $"a length prefix must be digits followed by '#', found byte 0x{b:x2} at offset {reader.Consumed - 1}");
            }
            length = length * 10 + (b - '0');
            if (++digits > maxDigits)
            {
                throw Malformed(buffer, $"the length prefix has more than {maxDigits} digits");
            }
        }
        message = default;
        return false;
    }

    private static void Validate(in ReadOnlySequence<byte> buffer, int digits, int length, int maxMessageLength)
    {
        if (digits == 0)
        {
            throw Malformed(buffer, "the frame has no length before '#'");
        }
        if (length == 0)
        {
            throw Malformed(buffer, "the frame length is zero");
        }
        if (length > maxMessageLength)
        {
            throw Malformed(buffer, $"the frame length {length} is over the limit of {maxMessageLength} bytes");
        }
    }

    /// <summary>Writes <paramref name="message"/> as one frame, UTF-8 encoded, without intermediate copies.</summary>
    public static int Write(IBufferWriter<byte> writer, string message)
    {
        var length = Encoding.UTF8.GetByteCount(message);
        var prefixLength = DigitCount(length) + 1;
        var span = writer.GetSpan(prefixLength + length);
        length.TryFormat(span, out var written, provider: CultureInfo.InvariantCulture);
        span[written] = (byte)'#';
        Encoding.UTF8.GetBytes(message, span[prefixLength..]);
        writer.Advance(prefixLength + length);
        return prefixLength + length;
    }

    /// <summary>The frame as a byte array: used by tests and fakes.</summary>
    public static byte[] Encode(string message)
    {
        var writer = new ArrayBufferWriter<byte>();
        Write(writer, message);
        return writer.WrittenSpan.ToArray();
    }

    private static int DigitCount(int value) => value < 10 ? 1 : (int)Math.Floor(Math.Log10(value)) + 1;

    private static DrachtioProtocolException Malformed(in ReadOnlySequence<byte> buffer, string reason) =>
        new($"malformed drachtio frame: {reason}; the frame starts with '{Preview(buffer)}'");

    /// <summary>The first bytes of a buffer, printable, for error messages and logs.</summary>
    internal static string Preview(in ReadOnlySequence<byte> buffer, int max = 48) => WireText.Preview(buffer, max);
}
