using System.Security.Cryptography;
using System.Text;

namespace Voice.Control.Media;

/// <summary>
/// The SDP an endpoint needs (RFC 4566 line syntax, RFC 3264 offer/answer). FreeSWITCH answers an endpoint INVITE
/// without SDP by offering every media profile it has — with <c>rtp_secure_media</c> on, as the stock
/// drachtio-freeswitch-mrf image has it, an RTP/SAVP m-line with eleven a=crypto lines and then the same stream as
/// RTP/AVP (see the mrf-endpoint-play capture). Both rewrites pick the same stream: plain RTP/AVP, or RTP/SAVP with
/// one crypto suite when SRTP is configured, with the configured codecs only.
/// </summary>
public static class Sdp
{
    /// <summary>The suite every SDES phone implements (RFC 4568 §6.2.1); chosen when FreeSWITCH offers it.</summary>
    private const string PreferredSuite = "AES_CM_128_HMAC_SHA1_80";

    /// <summary>Master key + salt lengths in bytes per suite (RFC 4568 §6.2, RFC 6188, RFC 7714).</summary>
    private static readonly Dictionary<string, int> KeySaltLengths = new(StringComparer.Ordinal)
    {
        ["AES_CM_128_HMAC_SHA1_80"] = 30,
        ["AES_CM_128_HMAC_SHA1_32"] = 30,
        ["AES_192_CM_HMAC_SHA1_80"] = 38,
        ["AES_192_CM_HMAC_SHA1_32"] = 38,
        ["AES_256_CM_HMAC_SHA1_80"] = 46,
        ["AES_256_CM_HMAC_SHA1_32"] = 46,
        ["AEAD_AES_128_GCM"] = 28,
        ["AEAD_AES_128_GCM_8"] = 28,
        ["AEAD_AES_256_GCM"] = 44,
        ["AEAD_AES_256_GCM_8"] = 44,
    };

    /// <summary>
    /// Our answer to FreeSWITCH's offer, sent in the ACK of the endpoint INVITE: one m-line per offered m-line
    /// (RFC 3264 §6), the chosen stream accepted receive-only, every other one rejected with port 0. What this
    /// answer accepts is what FreeSWITCH sends for the whole call: accepting the SAVP stream (as echoing the offer
    /// does) makes it encrypt even after a re-INVITE with a phone's plain RTP/AVP answer — the phone hears noise.
    /// Never throws: an offer without a usable stream is answered with every stream rejected, so the INVITE can
    /// still be acknowledged and hung up; <see cref="OfferForPhone"/> then says what was wrong.
    /// </summary>
    public static string AnswerForMediaServer(string offer, IReadOnlyList<string> codecs, bool srtp)
    {
        ArgumentNullException.ThrowIfNull(offer);
        ArgumentNullException.ThrowIfNull(codecs);
        var parsed = Parsed.From(offer);
        var chosen = Choose(parsed, codecs, srtp, out _);
        var result = new List<string>(parsed.Session.Count + 16);
        foreach (var line in parsed.Session)
        {
            if (IsDirection(line))
            {
                continue;
            }
            result.Add(line);
            if (line.StartsWith("t=", StringComparison.Ordinal))
            {
                result.Add("a=recvonly");
            }
        }
        for (var i = 0; i < parsed.Sections.Count; i++)
        {
            if (chosen is { } stream && stream.Index == i)
            {
                result.Add(stream.MLine);
                result.AddRange(stream.Attributes.Where(l => !IsDirection(l)));
                if (stream.Crypto is { } crypto)
                {
                    result.Add(OwnKey(crypto));
                }
            }
            else
            {
                result.Add(Rejected(parsed.Sections[i][0]));
            }
        }
        return Join(result);
    }

    /// <summary>
    /// The offer for the phone, made from FreeSWITCH's offer: the one stream <see cref="AnswerForMediaServer"/>
    /// accepted — plain RTP/AVP, or RTP/SAVP with FreeSWITCH's key for the one suite when <paramref name="srtp"/> is
    /// set — with only the <paramref name="codecs"/> and 8 kHz telephone-event. Offering a plain-RTP phone the SAVP
    /// stream is how the Node original made phones play SRTP noise for the whole call.
    /// </summary>
    /// <exception cref="MediaException">The offer has no stream in that profile, or none of the codecs.</exception>
    public static string OfferForPhone(string offer, IReadOnlyList<string> codecs, bool srtp)
    {
        ArgumentNullException.ThrowIfNull(offer);
        ArgumentNullException.ThrowIfNull(codecs);
        var parsed = Parsed.From(offer);
        var stream = Choose(parsed, codecs, srtp, out var problem) ?? throw new MediaException(problem!);
        var result = new List<string>(parsed.Session) { stream.MLine };
        result.AddRange(stream.Attributes);
        if (stream.Crypto is { } crypto)
        {
            result.Add(crypto);
        }
        return Join(result);
    }

    /// <summary>
    /// An answer cut to the streams of the offer it answers (RFC 3264 §6: one m-line per offered m-line). FreeSWITCH answers
    /// a re-INVITE with every stream its session ever had: the refused SAVP stream of an endpoint (port 0) comes back in
    /// its answer to a phone's one-stream offer. Refused streams beyond the offer's count are dropped; nothing else changes.
    /// </summary>
    public static string AnswerToOffer(string answer, string offer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        ArgumentNullException.ThrowIfNull(offer);
        var parsed = Parsed.From(answer);
        var offered = Parsed.From(offer).Sections.Count;
        if (parsed.Sections.Count <= offered)
        {
            return answer;
        }
        for (var i = parsed.Sections.Count - 1; i >= 0 && parsed.Sections.Count > offered; i--)
        {
            if (MediaField(parsed.Sections[i][0], 1) == "0")
            {
                parsed.Sections.RemoveAt(i);
            }
        }
        var result = new List<string>(parsed.Session);
        foreach (var section in parsed.Sections)
        {
            result.AddRange(section);
        }
        return Join(result);
    }

    /// <summary>The transport profile of each m-line in order (<c>RTP/AVP</c>, <c>RTP/SAVP</c>…).</summary>
    public static IReadOnlyList<string> MediaProfiles(string sdp) =>
        Lines(sdp).Where(l => l.StartsWith("m=", StringComparison.Ordinal)).Select(l => MediaField(l, 2) ?? string.Empty).ToList();

    /// <summary>
    /// The stream both rewrites use: the first audio m-line in the wanted profile, its payload types cut to the
    /// codecs (and their rtpmap/fmtp lines), crypto lines removed and the one chosen suite set apart. Null, with
    /// the reason in <paramref name="problem"/>, when the offer has no such stream.
    /// </summary>
    private static Stream? Choose(Parsed offer, IReadOnlyList<string> codecs, bool srtp, out string? problem)
    {
        var wanted = srtp ? "RTP/SAVP" : "RTP/AVP";
        var index = offer.Sections.FindIndex(s => MediaField(s[0], 0) == "m=audio" && MediaField(s[0], 2) == wanted && MediaField(s[0], 1) != "0");
        if (index < 0)
        {
            problem = $"FreeSWITCH offered no {wanted} audio stream (its offer: {string.Join(", ", offer.Sections.Select(s => s[0]))}); " +
                (srtp ? "enable rtp_secure_media on the MRF profile or turn SRTP off." : "set rtp_secure_media=optional or false on the MRF profile.");
            return null;
        }
        var audio = offer.Sections[index];
        var formats = audio[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(3).ToList();
        var names = formats.Distinct(StringComparer.Ordinal).ToDictionary(f => f, f => EncodingOf(audio, f), StringComparer.Ordinal);
        var kept = formats.Where(f => IsWanted(names[f], codecs)).ToList();
        if (!kept.Any(f => !names[f].StartsWith("telephone-event/", StringComparison.OrdinalIgnoreCase)))
        {
            problem = $"FreeSWITCH offered none of the configured codecs ({string.Join(", ", codecs)}); it offered {string.Join(", ", formats.Select(f => names[f]))}.";
            return null;
        }
        string? crypto = null;
        if (srtp)
        {
            var suites = audio.Where(l => l.StartsWith("a=crypto:", StringComparison.Ordinal) && KeySaltLengths.ContainsKey(CryptoField(l, 1))).ToList();
            crypto = suites.FirstOrDefault(l => CryptoField(l, 1) == PreferredSuite) ?? suites.FirstOrDefault();
            if (crypto is null)
            {
                problem = "FreeSWITCH's RTP/SAVP stream has no a=crypto line with a suite VoiceBridge knows (" + string.Join(", ", KeySaltLengths.Keys) + ").";
                return null;
            }
        }
        var parts = audio[0].Split(' ', 4);
        var attributes = audio.Skip(1)
            .Where(l => !(FormatOf(l) is { } format && !kept.Contains(format)) && !l.StartsWith("a=crypto:", StringComparison.Ordinal))
            .ToList();
        problem = null;
        return new Stream(index, $"{parts[0]} {parts[1]} {parts[2]} {string.Join(' ', kept)}", attributes, crypto);
    }

    /// <summary>RFC 3264 §6: a rejected stream keeps its media, transport and a format, with port 0.</summary>
    private static string Rejected(string mline)
    {
        var parts = mline.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return $"{parts[0]} 0 {(parts.Length > 2 ? parts[2] : "RTP/AVP")} {(parts.Length > 3 ? parts[3] : "0")}";
    }

    /// <summary>
    /// The answer's crypto line: the offer's tag and suite with a fresh key of ours (RFC 4568 §5.1.2: each side
    /// keys what it sends). We never send on this leg, but a key of the right length keeps FreeSWITCH's check happy.
    /// </summary>
    private static string OwnKey(string offered)
    {
        var tag = offered["a=crypto:".Length..].Split(' ')[0];
        var suite = CryptoField(offered, 1);
        return $"a=crypto:{tag} {suite} inline:{Convert.ToBase64String(RandomNumberGenerator.GetBytes(KeySaltLengths[suite]))}";
    }

    /// <summary>Field <paramref name="index"/> of <c>a=crypto:&lt;tag&gt; &lt;suite&gt; &lt;key-params&gt;</c>.</summary>
    private static string CryptoField(string line, int index)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > index ? parts[index] : string.Empty;
    }

    private static bool IsWanted(string encoding, IReadOnlyList<string> codecs)
    {
        var name = encoding.Split('/')[0];
        if (name.Equals("telephone-event", StringComparison.OrdinalIgnoreCase))
        {
            return encoding.EndsWith("/8000", StringComparison.Ordinal);
        }
        return codecs.Any(c => c.Equals(name, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The encoding of a payload type: its a=rtpmap, or the RFC 3551 static assignment.</summary>
    private static string EncodingOf(List<string> section, string format)
    {
        var prefix = $"a=rtpmap:{format} ";
        if (section.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is { } rtpmap)
        {
            return rtpmap[prefix.Length..].Trim();
        }
        return format switch
        {
            "0" => "PCMU/8000",
            "8" => "PCMA/8000",
            "9" => "G722/8000",
            "18" => "G729/8000",
            _ => format,
        };
    }

    /// <summary>The payload type an a=rtpmap/a=fmtp/a=rtcp-fb line is about.</summary>
    private static string? FormatOf(string line)
    {
        foreach (var prefix in (ReadOnlySpan<string>)["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"])
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                var rest = line.AsSpan(prefix.Length);
                var space = rest.IndexOf(' ');
                return (space < 0 ? rest : rest[..space]).ToString();
            }
        }
        return null;
    }

    private static string? MediaField(string mline, int index)
    {
        var parts = mline.Split(' ');
        return index == 0 ? parts[0] : parts.Length > index ? parts[index] : null;
    }

    private static bool IsDirection(string line) => line is "a=sendrecv" or "a=sendonly" or "a=recvonly" or "a=inactive";

    /// <summary>The non-empty lines, without their line ends (CRLF, or LF alone): one string per line.</summary>
    private static List<string> Lines(string sdp)
    {
        var lines = new List<string>(48);
        foreach (var range in sdp.AsSpan().Split('\n'))
        {
            var line = sdp.AsSpan(range).TrimEnd('\r');
            if (!line.IsEmpty)
            {
                lines.Add(line.ToString());
            }
        }
        return lines;
    }

    private static string Join(List<string> lines)
    {
        var sb = new StringBuilder(lines.Sum(l => l.Length + 2));
        foreach (var line in lines)
        {
            sb.Append(line).Append("\r\n");
        }
        return sb.ToString();
    }

    /// <summary>The chosen stream: which m-line of the offer, its rewritten m-line, its other lines, and the crypto line kept.</summary>
    private sealed record Stream(int Index, string MLine, List<string> Attributes, string? Crypto);

    /// <summary>The session-level lines, then one list per m-section (its m-line first).</summary>
    private sealed record Parsed(List<string> Session, List<List<string>> Sections)
    {
        public static Parsed From(string sdp)
        {
            var lines = Lines(sdp);
            var session = lines.TakeWhile(l => !l.StartsWith("m=", StringComparison.Ordinal)).ToList();
            var sections = new List<List<string>>();
            foreach (var line in lines.Skip(session.Count))
            {
                if (line.StartsWith("m=", StringComparison.Ordinal))
                {
                    sections.Add([]);
                }
                sections[^1].Add(line);
            }
            return new Parsed(session, sections);
        }
    }
}
