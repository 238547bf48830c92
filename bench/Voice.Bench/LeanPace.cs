using System.Globalization;
using System.Text;

namespace Voice.Bench;

/// <summary>
/// How real the lean stand-in is: how long its phone rings and its playback lasts, and whether its channel data and
/// events are the size FreeSWITCH's are (every channel variable, about 10 KB each) or a few lines. Real pace and
/// size reproduce what a call costs VoiceBridge against real servers; the defaults measure the code path alone.
/// </summary>
public sealed record LeanPace(TimeSpan Ring, TimeSpan Playback, bool RealSize)
{
    // Before the variables made from it: static fields are initialized in order.
    private static readonly string[] Words = ["sip", "rtp", "channel", "caller", "media", "codec", "dtmf", "session", "write", "read", "local", "remote"];

    public static LeanPace Instant { get; } = new(TimeSpan.Zero, TimeSpan.Zero, RealSize: false);

    /// <summary><c>--ring-ms N --play-ms N --real-size</c>.</summary>
    public static LeanPace Parse(string[] args)
    {
        int Get(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : 0;
        return new LeanPace(TimeSpan.FromMilliseconds(Get("--ring-ms")), TimeSpan.FromMilliseconds(Get("--play-ms")), args.Contains("--real-size"));
    }

    /// <summary>
    /// The channel variables FreeSWITCH puts in every channel event and in the connect reply: 240 of them, with
    /// names and lengths like the mrf captures' (about 10 KB).
    /// </summary>
    public static IReadOnlyList<(string Name, string Value)> ChannelVariables { get; } = [.. Enumerable.Range(0, 240).Select(i => (
        $"variable_{Words[i % Words.Length]}_{i.ToString(CultureInfo.InvariantCulture)}",
        new string((char)('a' + (i % 26)), 18 + (i % 24)) + (i % 7 == 0 ? "%3A%2F%2F127.0.0.1%3A5090" : string.Empty)))];

    /// <summary>An event in FreeSWITCH's JSON, with the channel's variables when <see cref="RealSize"/>.</summary>
    public string Json(IEnumerable<(string Name, string Value)> headers)
    {
        var sb = new StringBuilder(RealSize ? 11_000 : 256).Append('{');
        var first = true;
        foreach (var (name, value) in RealSize ? headers.Concat(ChannelVariables.Select(v => (v.Name, Uri.UnescapeDataString(v.Value)))) : headers)
        {
            sb.Append(first ? "" : ",").Append('"').Append(name).Append("\":\"").Append(value).Append('"');
            first = false;
        }
        return sb.Append('}').ToString();
    }
}
