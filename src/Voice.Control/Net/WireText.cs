using System.Buffers;
using System.Text;

namespace Voice.Control.Net;

/// <summary>Protocol bytes made printable for error messages and logs.</summary>
internal static class WireText
{
    /// <summary>The first <paramref name="max"/> bytes, printable, with "…" when there were more.</summary>
    public static string Preview(in ReadOnlySequence<byte> buffer, int max)
    {
        var slice = buffer.Slice(0, Math.Min(buffer.Length, max)).ToArray();
        return Printable(slice) + (buffer.Length > max ? "…" : string.Empty);
    }

    /// <summary>The first <paramref name="max"/> characters of a peer's text, printable, with "…" when there were more.</summary>
    public static string Preview(string text, int max) =>
        Printable(Encoding.UTF8.GetBytes(text.Length > max ? text[..max] : text)) + (text.Length > max ? "…" : string.Empty);

    /// <summary>CR and LF as <c>\r</c> <c>\n</c>, other non-printables as <c>\xNN</c>.</summary>
    public static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length + 8);
        foreach (var b in bytes)
        {
            _ = b switch
            {
                (byte)'\r' => sb.Append("\\r"),
                (byte)'\n' => sb.Append("\\n"),
                >= 0x20 and < 0x7f => sb.Append((char)b),
                _ => sb.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)),
            };
        }
        return sb.ToString();
    }
}
