using System.Buffers;
using System.Text;
using Voice.Control.Drachtio;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Drachtio;

public class DrachtioFrameTests
{
    private const int Max = DrachtioFrame.DefaultMaxMessageLength;

    public static IEnumerable<TestCaseData> Streams() =>
        Captures.AllDrachtioStreams().Select(s => new TestCaseData(s.Bytes).SetArgDisplayNames(s.Name));

    public static IEnumerable<TestCaseData> Traces() =>
        Directory.EnumerateFiles(Captures.DrachtioDir, "*.txt").Order(StringComparer.Ordinal)
            .Select(f => new TestCaseData(f).SetArgDisplayNames(Path.GetFileName(f)));

    public static IEnumerable<TestCaseData> FlowScenarios() =>
        Directory.EnumerateDirectories(Path.Combine(Captures.Root, "flows")).Order(StringComparer.Ordinal)
            .Where(d => File.Exists(Path.Combine(d, $"{Path.GetFileName(d)}.drachtio.app.bin")))
            .Select(d => new TestCaseData(Path.GetFileName(d)).SetArgDisplayNames(Path.GetFileName(d)));

    [TestCaseSource(nameof(Traces))]
    public void Every_trace_parses_into_the_frames_and_fields_it_shows(string tracePath)
    {
        var traced = Captures.TraceSection2(tracePath);
        var name = Path.GetFileNameWithoutExtension(tracePath);
        var appStreams = Directory.EnumerateFiles(Captures.DrachtioDir, $"{name}*.app.bin").Order(StringComparer.Ordinal).ToList();
        var srvStreams = Directory.EnumerateFiles(Captures.DrachtioDir, $"{name}*.srv.bin").Order(StringComparer.Ordinal).ToList();
        var app = appStreams.SelectMany(f => ReadAll(File.ReadAllBytes(f))).ToList();
        var srv = srvStreams.SelectMany(f => ReadAll(File.ReadAllBytes(f))).ToList();

        Assert.That(traced, Is.Not.Empty);
        Assert.That(app.Count + srv.Count, Is.EqualTo(traced.Count), "every frame of the streams is in the trace and vice versa");
        int a = 0, s = 0;
        foreach (var frame in traced)
        {
            var message = frame.From == Side.App ? app[a++] : srv[s++];
            Assert.That(Encoding.UTF8.GetByteCount(message.Text), Is.EqualTo(frame.LengthPrefix));
            Assert.That(DrachtioFrame.Encode(message.Text), Is.EqualTo(frame.Bytes), "re-encoding gives the captured bytes");
            var fields = Enumerable.Range(0, message.FieldCount).Select(message.GetField).ToList();
            Assert.That(fields, Is.EqualTo(frame.Fields), $"fields of {message}");
            if (frame.SipLength is { } sipLength)
            {
                Assert.That(Encoding.UTF8.GetByteCount(message.SipText.ToString()), Is.EqualTo(sipLength));
            }
            else
            {
                Assert.That(message.HasSip, Is.False);
            }
        }
    }

    [TestCaseSource(nameof(FlowScenarios))]
    public void Every_flow_stream_parses_into_the_frames_of_its_messages_file(string scenario)
    {
        var flow = Captures.Flow(scenario);
        var app = ReadAll(File.ReadAllBytes(Path.Combine(Captures.FlowDir(scenario), $"{scenario}.drachtio.app.bin")));
        var srv = ReadAll(File.ReadAllBytes(Path.Combine(Captures.FlowDir(scenario), $"{scenario}.drachtio.srv.bin")));

        Assert.That(app.Select(m => m.Text), Is.EqualTo(flow.Where(f => f.From == Side.App).Select(f => f.Message)));
        Assert.That(srv.Select(m => m.Text), Is.EqualTo(flow.Where(f => f.From == Side.Server).Select(f => f.Message)));
    }

    [TestCaseSource(nameof(Streams))]
    public void Every_prefix_of_a_frame_needs_more_and_consumes_nothing(byte[] stream)
    {
        foreach (var frame in Captures.SplitFrames(stream))
        {
            for (var length = 0; length < frame.Length; length++)
            {
                var buffer = new ReadOnlySequence<byte>(frame, 0, length);
                var before = buffer;
                Assert.That(DrachtioFrame.TryRead(ref buffer, Max, out _), Is.False, $"prefix of {length} bytes");
                Assert.That(buffer, Is.EqualTo(before), "nothing consumed");
            }
        }
    }

    [TestCaseSource(nameof(Streams))]
    public void One_byte_segments_give_the_same_frames_as_one_buffer(byte[] stream)
    {
        var whole = ReadAll(stream).Select(m => m.Text).ToList();
        var segmented = ReadAll(Segments.Of(stream, 1)).Select(m => m.Text).ToList();
        var uneven = ReadAll(Segments.Of(stream, 7)).Select(m => m.Text).ToList();

        Assert.That(whole, Has.Count.EqualTo(Captures.SplitFrames(stream).Count));
        Assert.That(segmented, Is.EqualTo(whole));
        Assert.That(uneven, Is.EqualTo(whole));
    }

    [Test]
    public void Frames_split_across_reads_and_several_in_one_read_reassemble_as_captured()
    {
        // raw-client: the client wrote "4", "1#a3" and "e2586e-…|ping" as three segments, then two frames in one.
        var path = Path.Combine(Captures.DrachtioDir, "raw-client.txt");
        var segments = Captures.TraceSegments(path, Side.App, tcpStream: 1);
        Assert.That(segments.Select(s => s.Length), Does.Contain(1), "the capture really has a one-byte segment");

        var frames = new List<string>();
        var pending = Array.Empty<byte>();
        foreach (var segment in segments)
        {
            pending = [.. pending, .. segment];
            var buffer = new ReadOnlySequence<byte>(pending);
            while (DrachtioFrame.TryRead(ref buffer, Max, out var payload))
            {
                frames.Add(DrachtioMessage.Parse(payload).Text);
            }
            pending = buffer.ToArray();
        }

        Assert.That(pending, Is.Empty);
        Assert.That(frames.Select(f => f.Split('|')[1]), Is.EqualTo(new[] { "authenticate", "ping", "ping", "route", "route" }));
    }

    [TestCase("abc", "found byte 0x61")]
    [TestCase("12a#hello", "found byte 0x61 at offset 2")]
    [TestCase("#hello", "no length before '#'")]
    [TestCase("0#", "length is zero")]
    [TestCase("123456#", "more than 5 digits")]
    [TestCase("999999", "more than 5 digits")]
    [TestCase("\r\n5#hello", "found byte 0x0d")]
    public void Garbage_fails_with_a_protocol_error_that_names_the_frame(string garbage, string reason)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(garbage));
        var error = Assert.Throws<DrachtioProtocolException>(() => DrachtioFrame.TryRead(ref buffer, Max, out _))!;
        Assert.That(error.Message, Does.Contain(reason));
        Assert.That(error.Message, Does.Contain("the frame starts with"));
    }

    [Test]
    public void A_length_over_the_limit_fails_before_the_body_is_buffered()
    {
        // Only the prefix has arrived: the limit must be enforced without waiting for 50,000 bytes.
        var buffer = new ReadOnlySequence<byte>("50000#"u8.ToArray());
        var error = Assert.Throws<DrachtioProtocolException>(() => DrachtioFrame.TryRead(ref buffer, 4096, out _))!;
        Assert.That(error.Message, Does.Contain("50000 is over the limit of 4096"));
    }

    [Test]
    public void A_frame_at_the_limit_is_accepted_and_one_byte_more_is_not()
    {
        var atLimit = new ReadOnlySequence<byte>(DrachtioFrame.Encode("x|ping" + new string('a', 4090)));
        Assert.That(DrachtioFrame.TryRead(ref atLimit, 4096, out var payload), Is.True);
        Assert.That(payload.Length, Is.EqualTo(4096));

        var over = new ReadOnlySequence<byte>(DrachtioFrame.Encode("x|ping" + new string('a', 4091)));
        Assert.Throws<DrachtioProtocolException>(() => DrachtioFrame.TryRead(ref over, 4096, out _));
    }

    [Test]
    public void Lengths_count_utf8_bytes_not_characters()
    {
        var message = "id|sip||\r\nMESSAGE sip:a@b SIP/2.0\r\nSubject: Grüße ☎\r\n\r\n";
        var frame = DrachtioFrame.Encode(message);
        Assert.That(Encoding.ASCII.GetString(frame, 0, frame.AsSpan().IndexOf((byte)'#')), Is.EqualTo(Encoding.UTF8.GetByteCount(message).ToString()));

        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.That(DrachtioFrame.TryRead(ref buffer, Max, out var payload), Is.True);
        Assert.That(DrachtioMessage.Parse(payload).Text, Is.EqualTo(message));
    }

    private static List<DrachtioMessage> ReadAll(byte[] stream) => ReadAll(new ReadOnlySequence<byte>(stream));

    private static List<DrachtioMessage> ReadAll(ReadOnlySequence<byte> buffer)
    {
        var messages = new List<DrachtioMessage>();
        while (DrachtioFrame.TryRead(ref buffer, Max, out var payload))
        {
            messages.Add(DrachtioMessage.Parse(payload));
        }
        Assert.That(buffer.Length, Is.Zero, "no bytes left over");
        return messages;
    }
}
