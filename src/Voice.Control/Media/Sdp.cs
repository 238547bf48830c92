using System.Text;

namespace Voice.Control.Media;

/// <summary>
/// The two SDP rewrites an endpoint needs (RFC 4566 line syntax, RFC 3264 offer/answer). FreeSWITCH answers an
/// endpoint INVITE without SDP by offering every media profile it has — with <c>rtp_secure_media</c> on, an
/// RTP/SAVP m-line with a=crypto lines and then the same stream as RTP/AVP (see the mrf-endpoint-play capture).
/// </summary>
public static class Sdp
{
    /// <summary>
    /// Our answer to FreeSWITCH's offer, sent in the ACK: the offer itself, receive-only, as drachtio-fsmrf
    /// answers it. FreeSWITCH then holds the stream until the endpoint is modified with the phone's SDP.
    /// </summary>
    public static string RecvOnlyAnswer(string offer)
    {
        ArgumentNullException.ThrowIfNull(offer);
        var lines = Lines(offer);
        var result = new List<string>(lines.Count + 1);
        var inSession = true;
        foreach (var line in lines)
        {
            if (line.StartsWith("m=", StringComparison.Ordinal))
            {
                inSession = false;
            }
            if (inSession && IsDirection(line))
            {
                continue;
            }
            result.Add(line);
            if (inSession && line.StartsWith("t=", StringComparison.Ordinal))
            {
                result.Add("a=recvonly");
            }
        }
        return Join(result);
    }

    /// <summary>
    /// The offer for the phone, made from FreeSWITCH's offer: one audio stream in the profile the phone must use
    /// (plain RTP/AVP, or RTP/SAVP with its crypto lines when <paramref name="srtp"/> is set) with only the
    /// <paramref name="codecs"/> and 8 kHz telephone-event. Offering a plain-RTP phone the SAVP stream first is
    /// how the Node original made phones play SRTP noise for the whole call.
    /// </summary>
    /// <exception cref="MediaException">The offer has no stream in that profile, or none of the codecs.</exception>
    public static string OfferForPhone(string offer, IReadOnlyList<string> codecs, bool srtp)
    {
        ArgumentNullException.ThrowIfNull(offer);
        ArgumentNullException.ThrowIfNull(codecs);
        var lines = Lines(offer);
        var wanted = srtp ? "RTP/SAVP" : "RTP/AVP";
        var session = lines.TakeWhile(l => !l.StartsWith("m=", StringComparison.Ordinal)).ToList();
        var sections = Sections(lines.Skip(session.Count).ToList());
        var audio = sections.FirstOrDefault(s => MediaField(s[0], 0) == "m=audio" && MediaField(s[0], 2) == wanted)
            ?? throw new MediaException(
                $"FreeSWITCH offered no {wanted} audio stream (its offer: {string.Join(", ", sections.Select(s => s[0]))}); " +
                (srtp ? "enable rtp_secure_media on the MRF profile or turn SRTP off." : "set rtp_secure_media=optional or false on the MRF profile."));

        var formats = audio[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(3).ToList();
        var names = formats.ToDictionary(f => f, f => EncodingOf(audio, f), StringComparer.Ordinal);
        var kept = formats.Where(f => IsWanted(names[f], codecs)).ToList();
        if (!kept.Any(f => !names[f].StartsWith("telephone-event/", StringComparison.OrdinalIgnoreCase)))
        {
            throw new MediaException(
                $"FreeSWITCH offered none of the configured codecs ({string.Join(", ", codecs)}); it offered {string.Join(", ", formats.Select(f => names[f]))}.");
        }

        var parts = audio[0].Split(' ', 4);
        var result = new List<string>(session) { $"{parts[0]} {parts[1]} {parts[2]} {string.Join(' ', kept)}" };
        foreach (var line in audio.Skip(1))
        {
            if (FormatOf(line) is { } format && !kept.Contains(format))
            {
                continue;
            }
            if (!srtp && line.StartsWith("a=crypto:", StringComparison.Ordinal))
            {
                continue;
            }
            result.Add(line);
        }
        return Join(result);
    }

    /// <summary>The transport profile of each m-line in order (<c>RTP/AVP</c>, <c>RTP/SAVP</c>…).</summary>
    public static IReadOnlyList<string> MediaProfiles(string sdp) =>
        Lines(sdp).Where(l => l.StartsWith("m=", StringComparison.Ordinal)).Select(l => MediaField(l, 2) ?? string.Empty).ToList();

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

    private static List<List<string>> Sections(List<string> media)
    {
        var sections = new List<List<string>>();
        foreach (var line in media)
        {
            if (line.StartsWith("m=", StringComparison.Ordinal))
            {
                sections.Add([]);
            }
            sections[^1].Add(line);
        }
        return sections;
    }

    private static List<string> Lines(string sdp) =>
        sdp.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();

    private static string Join(List<string> lines)
    {
        var sb = new StringBuilder(lines.Sum(l => l.Length + 2));
        foreach (var line in lines)
        {
            sb.Append(line).Append("\r\n");
        }
        return sb.ToString();
    }
}
