using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Voice.Control.Sip;

/// <summary>The CSeq header: sequence number and method (RFC 3261 §20.16).</summary>
public readonly record struct SipCSeq(long Number, string Method)
{
    public static bool TryParse([NotNullWhen(true)] string? value, out SipCSeq cseq)
    {
        cseq = default;
        if (value is null)
        {
            return false;
        }
        var span = value.AsSpan().Trim();
        var space = span.IndexOfAny(' ', '\t');
        if (space <= 0 || !long.TryParse(span[..space], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }
        var method = span[space..].Trim();
        if (method.IsEmpty)
        {
            return false;
        }
        cseq = new SipCSeq(number, method.ToString());
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Number} {Method}");
}
