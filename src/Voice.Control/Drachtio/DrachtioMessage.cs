using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>
/// One drachtio control-protocol message: a <c>|</c>-separated header line (field 0 the message id, field 1
/// the type), then, when SIP follows, CRLF and the raw SIP text. Immutable. Decoding allocates the text and
/// this object only; fields are views into the text and become strings on demand.
/// </summary>
public sealed class DrachtioMessage
{
    private const int InlineFields = 24;
    private FieldEnds _ends;
    private readonly int[]? _overflowEnds;
    private SipMessage? _sip;

    private DrachtioMessage(string text)
    {
        Text = text;
        var header = text.AsSpan();
        var crlf = header.IndexOf("\r\n");
        HeaderLength = crlf < 0 ? text.Length : crlf;
        header = header[..HeaderLength];

        var count = header.Count('|') + 1;
        Span<int> ends;
        if (count <= InlineFields)
        {
            ends = _ends;
        }
        else
        {
            ends = _overflowEnds = new int[count];
        }
        var position = 0;
        for (var i = 0; i < count - 1; i++)
        {
            position += header[position..].IndexOf('|');
            ends[i] = position++;
        }
        ends[count - 1] = HeaderLength;
        FieldCount = count;
        if (count < 2 || ends[0] == 0)
        {
            throw new DrachtioProtocolException($"drachtio message has no id and type: '{Truncate(text)}'");
        }
    }

    /// <summary>The whole message, as sent after the length prefix.</summary>
    public string Text { get; }

    /// <summary>Length of the header line, up to the CRLF before any SIP text.</summary>
    public int HeaderLength { get; }

    public int FieldCount { get; }

    public string Id => GetField(0);

    /// <summary>The message type: <c>response</c>, <c>sip</c>, <c>cdr:start</c>, … (field 1).</summary>
    public ReadOnlySpan<char> Type => GetFieldSpan(1);

    public bool HasSip => HeaderLength + 2 <= Text.Length;

    public ReadOnlySpan<char> SipText => HasSip ? Text.AsSpan(HeaderLength + 2) : [];

    public ReadOnlySpan<char> GetFieldSpan(int index)
    {
        if ((uint)index >= (uint)FieldCount)
        {
            return [];
        }
        ReadOnlySpan<int> ends = _overflowEnds ?? (ReadOnlySpan<int>)_ends;
        var start = index == 0 ? 0 : ends[index - 1] + 1;
        return Text.AsSpan(start, ends[index] - start);
    }

    /// <summary>A header-line field as a string; an empty string when the field is absent.</summary>
    public string GetField(int index) => GetFieldSpan(index).ToString();

    /// <summary>The index of the first field equal to <paramref name="value"/>, or -1.</summary>
    public int IndexOfField(ReadOnlySpan<char> value)
    {
        for (var i = 0; i < FieldCount; i++)
        {
            if (GetFieldSpan(i).SequenceEqual(value))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>The SIP message carried after the header line, parsed once on first use.</summary>
    /// <exception cref="DrachtioProtocolException">There is no SIP text, or it is not a SIP message.</exception>
    public SipMessage Sip
    {
        get
        {
            if (_sip is not null)
            {
                return _sip;
            }
            if (!HasSip)
            {
                throw new DrachtioProtocolException($"drachtio message carries no SIP text: '{Truncate(Text)}'");
            }
            if (!SipMessage.TryParse(SipText, out var sip, out var error))
            {
                throw new DrachtioProtocolException($"drachtio message carries invalid SIP ({error}): '{Truncate(Text)}'");
            }
            return _sip = sip;
        }
    }

    public static DrachtioMessage Parse(string text) => new(text);

    /// <summary>Decodes one frame's message (as returned by <see cref="DrachtioFrame.TryRead"/>).</summary>
    public static DrachtioMessage Parse(in ReadOnlySequence<byte> payload) =>
        new(payload.IsSingleSegment ? Encoding.UTF8.GetString(payload.FirstSpan) : Encoding.UTF8.GetString(payload));

    public override string ToString() => Truncate(Text[..HeaderLength], 200);

    private static string Truncate(string text, int max = 120) =>
        text.Length <= max ? text.ReplaceLineEndings("\\r\\n") : text[..max].ReplaceLineEndings("\\r\\n") + "…";

    [InlineArray(InlineFields)]
    private struct FieldEnds
    {
        private int _element;
    }
}
