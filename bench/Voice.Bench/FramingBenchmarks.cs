using System.Buffers;
using BenchmarkDotNet.Attributes;
using Voice.Control.Drachtio;

namespace Voice.Bench;

/// <summary>
/// Framing throughput on the captured drachtio streams (both directions, every capture), repeated to ~1 MiB.
/// One operation is the whole stream; Program prints GB/s and allocations per frame from the results.
/// </summary>
[MemoryDiagnoser]
public class FramingBenchmarks
{
    private byte[] _stream = [];
    private int _frames;

    public static long StreamBytes { get; private set; }

    public static int FrameCount { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        var captures = Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Captures"), "*.bin", SearchOption.AllDirectories)
            .Where(f => !Path.GetFileName(f).Contains("esl", StringComparison.Ordinal))
            .Select(File.ReadAllBytes)
            .ToList();
        var one = captures.SelectMany(b => b).ToArray();
        var copies = Math.Max(1, (1 << 20) / one.Length);
        _stream = Enumerable.Repeat(one, copies).SelectMany(b => b).ToArray();
        _frames = CountFrames();
        StreamBytes = _stream.Length;
        FrameCount = _frames;
    }

    private int CountFrames()
    {
        var buffer = new ReadOnlySequence<byte>(_stream);
        var n = 0;
        while (DrachtioFrame.TryRead(ref buffer, DrachtioFrame.DefaultMaxMessageLength, out _))
        {
            n++;
        }
        return n;
    }

    /// <summary>Framing alone: find each frame in the stream (what the read loop does before decoding).</summary>
    [Benchmark]
    public int Frame() => CountFrames();

    /// <summary>Framing and decoding into <see cref="DrachtioMessage"/>: the message text plus one object.</summary>
    [Benchmark]
    public int FrameAndDecode()
    {
        var buffer = new ReadOnlySequence<byte>(_stream);
        var fields = 0;
        while (DrachtioFrame.TryRead(ref buffer, DrachtioFrame.DefaultMaxMessageLength, out var payload))
        {
            fields += DrachtioMessage.Parse(payload).FieldCount;
        }
        return fields;
    }
}
