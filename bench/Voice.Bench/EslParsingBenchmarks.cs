using System.Buffers;
using BenchmarkDotNet.Attributes;
using Voice.Control.FreeSwitch;

namespace Voice.Bench;

/// <summary>
/// Event Socket parsing on everything FreeSWITCH sent in the captures (inbound and outbound, plain and JSON
/// events), repeated to ~4 MiB. One operation is the whole stream; Program prints MB/s from the results.
/// </summary>
[MemoryDiagnoser]
public class EslParsingBenchmarks
{
    private byte[] _stream = [];

    public static long StreamBytes { get; private set; }

    public static int MessageCount { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        var captures = Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Captures"), "*.fs.bin", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(File.ReadAllBytes)
            .ToList();
        var one = captures.SelectMany(b => b).ToArray();
        var copies = Math.Max(1, (4 << 20) / one.Length);
        _stream = Enumerable.Repeat(one, copies).SelectMany(b => b).ToArray();
        StreamBytes = _stream.Length;
        MessageCount = Frame();
    }

    /// <summary>Framing alone: header block, Content-Length, body — what the read loop does for every message.</summary>
    [Benchmark]
    public int Frame()
    {
        var buffer = new ReadOnlySequence<byte>(_stream);
        var n = 0;
        while (EslFrame.TryRead(ref buffer, EslLimits.Default, out _))
        {
            n++;
        }
        return n;
    }

    /// <summary>Framing plus decoding every event into its headers (URL-decoded plain, or JSON).</summary>
    [Benchmark]
    public int FrameAndDecodeEvents() => SumOverEvents(e => e.Headers.Count);

    /// <summary>
    /// Framing plus what a call's read loop does with each event: parse it and look at the headers it routes by
    /// (name, application id, hangup cause). Every channel event carries ~250 headers the loop never reads.
    /// </summary>
    [Benchmark]
    public int FrameAndRouteEvents() => SumOverEvents(e => e.Name.Length + (e["Application-UUID"]?.Length ?? 0) + (e["Hangup-Cause"]?.Length ?? 0));

    private int SumOverEvents(Func<EslEvent, int> measure)
    {
        var buffer = new ReadOnlySequence<byte>(_stream);
        var sum = 0;
        while (EslFrame.TryRead(ref buffer, EslLimits.Default, out var message))
        {
            if (message.ContentType is EslContentTypes.EventPlain or EslContentTypes.EventJson)
            {
                sum += measure(EslEvent.Parse(message));
            }
        }
        return sum;
    }
}
