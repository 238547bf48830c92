using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Voice.Control.Sip;

namespace Voice.Control.Tests.Support;

/// <summary>Which side of the control connection sent a frame.</summary>
public enum Side
{
    App,
    Server,
}

/// <summary>One frame of a captured control connection, exactly as on the wire (length prefix included).</summary>
public sealed record CapturedFrame(Side From, byte[] Bytes)
{
    public string Text => Encoding.UTF8.GetString(Bytes);

    /// <summary>The message without its length prefix.</summary>
    public string Message => Text[(Text.IndexOf('#') + 1)..];

    public string[] HeaderFields
    {
        get
        {
            var message = Message;
            var crlf = message.IndexOf("\r\n", StringComparison.Ordinal);
            return (crlf < 0 ? message : message[..crlf]).Split('|');
        }
    }

    /// <summary>The SIP message after the header line.</summary>
    public SipMessage Sip => SipMessage.Parse(Message.AsSpan(Message.IndexOf("\r\n", StringComparison.Ordinal) + 2));
}

/// <summary>
/// Reads the captures copied from the protocol corpus (tests/Voice.Control.Tests/Captures): the raw byte
/// streams (*.bin), and the order in which the frames crossed the connection (from *.messages.txt for the
/// flows, from SECTION 2 of the drachtio/*.txt traces).
/// </summary>
public static partial class Captures
{
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "Captures");

    public static string DrachtioDir => Path.Combine(Root, "drachtio");

    public static string FlowDir(string scenario) => Path.Combine(Root, "flows", scenario);

    /// <summary>Every drachtio byte stream: (name, bytes) for *.app.bin and *.srv.bin, drachtio/ and flows/.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> AllDrachtioStreams()
    {
        foreach (var file in Directory.EnumerateFiles(DrachtioDir, "*.bin").Order(StringComparer.Ordinal))
        {
            yield return (Path.GetFileName(file), File.ReadAllBytes(file));
        }
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, "flows"), "*.drachtio.*.bin", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            yield return (Path.GetFileName(file), File.ReadAllBytes(file));
        }
    }

    /// <summary>Splits a captured stream into frames with a deliberately naive reader, independent of the code under test.</summary>
    public static List<byte[]> SplitFrames(byte[] stream)
    {
        var frames = new List<byte[]>();
        var i = 0;
        while (i < stream.Length)
        {
            var hash = Array.IndexOf(stream, (byte)'#', i);
            var length = int.Parse(Encoding.ASCII.GetString(stream, i, hash - i), CultureInfo.InvariantCulture);
            var end = hash + 1 + length;
            frames.Add(stream[i..end]);
            i = end;
        }
        return frames;
    }

    /// <summary>The frames of a flow's drachtio connection in the order they crossed it.</summary>
    /// <remarks><paramref name="connection"/>: <c>drachtio</c>, or <c>drachtio#2</c> for the second connection (<c>.drachtio.conn2.*.bin</c>).</remarks>
    public static IReadOnlyList<CapturedFrame> Flow(string scenario, string connection = "drachtio")
    {
        var dir = FlowDir(scenario);
        var parts = connection.Split('#');
        var stem = parts.Length == 1 ? $"{scenario}.drachtio" : $"{scenario}.drachtio.conn{parts[1]}";
        var app = new Queue<byte[]>(SplitFrames(File.ReadAllBytes(Path.Combine(dir, $"{stem}.app.bin"))));
        var srv = new Queue<byte[]>(SplitFrames(File.ReadAllBytes(Path.Combine(dir, $"{stem}.srv.bin"))));
        var ordered = new List<CapturedFrame>();
        foreach (var (from, bytes) in MessagesFileBlocks(Path.Combine(dir, $"{scenario}.messages.txt")).Where(b => b.Connection == connection).Select(b => (b.From, b.Bytes)))
        {
            foreach (var frame in SplitFrames(bytes))
            {
                var expected = from == Side.App ? app.Dequeue() : srv.Dequeue();
                if (!expected.AsSpan().SequenceEqual(frame))
                {
                    throw new InvalidDataException($"{scenario}: messages.txt and the .bin streams disagree at a {from} frame");
                }
                ordered.Add(new CapturedFrame(from, frame));
            }
        }
        return ordered;
    }

    /// <summary>The frames of a drachtio/*.txt trace in the order they crossed the connection (those captures have no messages.txt).</summary>
    public static IReadOnlyList<CapturedFrame> Trace(string name) =>
        TraceSection2(Path.Combine(DrachtioDir, name + ".txt")).Select(f => new CapturedFrame(f.From, f.Bytes)).ToList();

    /// <summary>The drachtio blocks of a flow's messages.txt: direction and exact bytes.</summary>
    public static IEnumerable<(Side From, byte[] Bytes)> MessagesFile(string path) =>
        MessagesFileBlocks(path).Where(b => b.Connection == "drachtio").Select(b => (b.From, b.Bytes));

    /// <summary>
    /// Every block of a flow's messages.txt: the connection tag (<c>drachtio</c>, <c>esl-in</c>, <c>esl-out</c>,
    /// <c>esl-in#2</c>…), the direction (App = our side) and the exact bytes.
    /// </summary>
    public static IEnumerable<(string Connection, Side From, byte[] Bytes)> MessagesFileBlocks(string path)
    {
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            var head = MessagesBlockHeader().Match(lines[i]);
            if (!head.Success)
            {
                continue;
            }
            var body = new List<string>();
            for (i++; lines[i] != "===== end"; i++)
            {
                body.Add(lines[i]);
            }
            var from = head.Groups["dir"].Value.StartsWith("app", StringComparison.Ordinal) ? Side.App : Side.Server;
            yield return (head.Groups["kind"].Value.Trim(), from, Unescape(string.Concat(body)));
        }
    }

    /// <summary>
    /// The Event Socket messages of one connection of a flow, in the order they crossed it, checked against the
    /// connection's .bin streams (<c>esl-in</c> → <c>&lt;scenario&gt;.esl-in.app.bin</c>/<c>.fs.bin</c>,
    /// <c>esl-in#2</c> → <c>.esl-in.conn2.*</c>).
    /// </summary>
    public static IReadOnlyList<(Side From, byte[] Bytes)> EslFlow(string scenario, string connection)
    {
        var dir = FlowDir(scenario);
        var parts = connection.Split('#');
        var stem = parts.Length == 1 ? $"{scenario}.{parts[0]}" : $"{scenario}.{parts[0]}.conn{parts[1]}";
        var messages = MessagesFileBlocks(Path.Combine(dir, $"{scenario}.messages.txt")).Where(b => b.Connection == connection).ToList();
        foreach (var (side, file) in new[] { (Side.App, $"{stem}.app.bin"), (Side.Server, $"{stem}.fs.bin") })
        {
            var joined = messages.Where(m => m.From == side).SelectMany(m => m.Bytes).ToArray();
            if (!joined.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir, file))))
            {
                throw new InvalidDataException($"{scenario}: messages.txt and {file} disagree");
            }
        }
        return messages.Select(m => (m.From, m.Bytes)).ToList();
    }

    public static string FreeSwitchDir => Path.Combine(Root, "freeswitch");

    /// <summary>Every Event Socket byte stream: (name, bytes) for freeswitch/*.bin and flows/*/*.esl-*.bin.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> AllEslStreams() =>
        Directory.EnumerateFiles(FreeSwitchDir, "*.bin")
            .Concat(Directory.EnumerateFiles(Path.Combine(Root, "flows"), "*.esl-*.bin", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal)
            .Select(f => (Path.GetFileName(f), File.ReadAllBytes(f)));

    /// <summary>A frame listed in SECTION 2 of a drachtio/*.txt trace: its bytes and the fields the trace shows.</summary>
    public sealed record TracedFrame(Side From, int LengthPrefix, byte[] Bytes, IReadOnlyList<string> Fields, int? SipLength);

    public static IReadOnlyList<TracedFrame> TraceSection2(string path)
    {
        var lines = File.ReadAllLines(path);
        var start = Array.FindIndex(lines, l => l.StartsWith("# SECTION 2", StringComparison.Ordinal));
        var frames = new List<TracedFrame>();
        for (var i = start; i < lines.Length; i++)
        {
            var head = TraceFrameHeader().Match(lines[i]);
            if (!head.Success)
            {
                continue;
            }
            var text = new List<string>();
            for (i++; !lines[i].StartsWith("  -- header line fields", StringComparison.Ordinal); i++)
            {
                text.Add(lines[i]);
            }
            var fields = new List<string>();
            for (i++; i < lines.Length && FieldLine().Match(lines[i]) is { Success: true } field; i++)
            {
                fields.Add(Unescape(field.Groups["value"].Value).Let(Encoding.UTF8.GetString));
            }
            int? sipLength = null;
            if (i < lines.Length && SipLine().Match(lines[i]) is { Success: true } sip)
            {
                sipLength = int.Parse(sip.Groups["n"].Value, CultureInfo.InvariantCulture);
            }
            frames.Add(new TracedFrame(
                head.Groups["dir"].Value == "APP->SRV" ? Side.App : Side.Server,
                int.Parse(head.Groups["len"].Value, CultureInfo.InvariantCulture),
                Unescape(string.Concat(text)),
                fields,
                sipLength));
        }
        return frames;
    }

    /// <summary>The TCP segments of SECTION 1 of a drachtio/*.txt trace, for one direction and TCP stream, in order.</summary>
    public static IReadOnlyList<byte[]> TraceSegments(string path, Side from, int tcpStream)
    {
        var lines = File.ReadAllLines(path);
        var segments = new List<byte[]>();
        for (var i = 0; i < lines.Length; i++)
        {
            var head = SegmentHeader().Match(lines[i]);
            if (!head.Success)
            {
                continue;
            }
            var text = new List<string>();
            for (i++; !lines[i].StartsWith("----- end frame", StringComparison.Ordinal); i++)
            {
                text.Add(lines[i]);
            }
            var side = head.Groups["dir"].Value == "APP->SRV" ? Side.App : Side.Server;
            if (side == from && int.Parse(head.Groups["stream"].Value, CultureInfo.InvariantCulture) == tcpStream)
            {
                segments.Add(Unescape(string.Concat(text)));
            }
        }
        return segments;
    }

    /// <summary>
    /// Undoes the traces' escaping: <c>\r</c>, <c>\n</c>, <c>\\</c> and <c>\xNN</c>. Real line breaks in the
    /// files are layout only (every data line break is written as <c>\n</c>), so callers join lines with nothing.
    /// </summary>
    public static byte[] Unescape(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\\' && i + 1 < text.Length)
            {
                var next = text[i + 1];
                if (next == 'r') { bytes.Add((byte)'\r'); i++; continue; }
                if (next == 'n') { bytes.Add((byte)'\n'); i++; continue; }
                if (next == '\\') { bytes.Add((byte)'\\'); i++; continue; }
                if (next == 'x' && i + 3 < text.Length)
                {
                    bytes.Add(byte.Parse(text.AsSpan(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 3;
                    continue;
                }
            }
            bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return [.. bytes];
    }

    private static TOut Let<TIn, TOut>(this TIn value, Func<TIn, TOut> f) => f(value);

    [GeneratedRegex(@"^===== \+[\d.]+s frame \d+ \[(?<kind>[^\]]+)\]\s+(?<dir>\S+ -> \S+)")]
    private static partial Regex MessagesBlockHeader();

    [GeneratedRegex(@"^===== (?<dir>APP->SRV|SRV->APP) msg #\d+ .* length-prefix=(?<len>\d+) actual-bytes=\d+ OK =====$")]
    private static partial Regex TraceFrameHeader();

    [GeneratedRegex(@"^     \[\d+\] '(?<value>.*)'$")]
    private static partial Regex FieldLine();

    [GeneratedRegex(@"^  -- followed by CRLF \+ (?<n>\d+) bytes of raw SIP message$")]
    private static partial Regex SipLine();

    [GeneratedRegex(@"^----- frame \d+ .* tcp\.stream=(?<stream>\d+)\s+(?<dir>APP->SRV|SRV->APP) .* -----$")]
    private static partial Regex SegmentHeader();
}
