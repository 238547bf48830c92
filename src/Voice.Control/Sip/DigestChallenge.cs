using System.Diagnostics.CodeAnalysis;

namespace Voice.Control.Sip;

/// <summary>
/// A parsed <c>WWW-Authenticate</c> or <c>Proxy-Authenticate</c> Digest challenge (RFC 7616 §3.3, RFC 3261 §22.4).
/// </summary>
public sealed record DigestChallenge(
    string Realm,
    string Nonce,
    string? Opaque,
    string Algorithm,
    IReadOnlyList<string> Qop,
    bool Stale)
{
    public static bool TryParse([NotNullWhen(true)] string? header, [NotNullWhen(true)] out DigestChallenge? challenge)
    {
        challenge = null;
        if (header is null)
        {
            return false;
        }
        var span = header.AsSpan().TrimStart();
        if (!span.StartsWith("Digest", StringComparison.OrdinalIgnoreCase) || span.Length < 7 || !char.IsWhiteSpace(span[6]))
        {
            return false;
        }
        var parameters = ParseParameters(span[7..]);
        if (!parameters.TryGetValue("realm", out var realm) || !parameters.TryGetValue("nonce", out var nonce))
        {
            return false;
        }
        var qop = parameters.TryGetValue("qop", out var q)
            ? q.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : [];
        challenge = new DigestChallenge(
            realm,
            nonce,
            parameters.GetValueOrDefault("opaque"),
            parameters.GetValueOrDefault("algorithm") ?? "MD5",
            qop,
            string.Equals(parameters.GetValueOrDefault("stale"), "true", StringComparison.OrdinalIgnoreCase));
        return true;
    }

    // auth-param = token "=" ( token / quoted-string ), separated by commas; a quoted string may hold commas.
    private static Dictionary<string, string> ParseParameters(ReadOnlySpan<char> text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i])))
            {
                i++;
            }
            var nameStart = i;
            while (i < text.Length && text[i] != '=' && text[i] != ',')
            {
                i++;
            }
            var name = text[nameStart..i].Trim().ToString();
            if (i >= text.Length || text[i] != '=')
            {
                continue;
            }
            i++;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            string value;
            if (i < text.Length && text[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }
                    sb.Append(text[i++]);
                }
                i++;
                value = sb.ToString();
            }
            else
            {
                var valueStart = i;
                while (i < text.Length && text[i] != ',')
                {
                    i++;
                }
                value = text[valueStart..i].Trim().ToString();
            }
            if (name.Length > 0)
            {
                result[name] = value;
            }
        }
        return result;
    }
}
