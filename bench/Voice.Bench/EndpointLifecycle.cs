using System.Diagnostics;
using System.Globalization;
using Voice.Control.Media;

namespace Voice.Bench;

/// <summary>
/// The endpoint lifecycle benchmark (<c>endpoint [lifecycles]</c>): create, modify with a phone's SDP, play to
/// completion, destroy, against <see cref="LeanMediaServer"/> running in its own process so that this
/// process's CPU counters measure the client alone. Also reports how long after ModifyAsync returned the play
/// command reached the fake FreeSWITCH (both sides read the same monotonic clock).
/// </summary>
public static class EndpointLifecycle
{
    private const string PhoneSdp =
        "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6186 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

    public static async Task ServeAsync(LeanPace? pace = null)
    {
        await using var lean = new LeanMediaServer(pace);
        Console.WriteLine($"{lean.DrachtioPort} {lean.EventSocketPort}");
        // Each line from the parent prints what was measured since the last one, under that line's name (a tab and
        // "no target" after it: without the targets), then "."; the rest is printed once the parent closes stdin.
        while (await Console.In.ReadLineAsync() is { } line)
        {
            var parts = line.Split('\t');
            Report(lean, parts[0], target: parts.Length == 1);
            Console.WriteLine(StandIn.EndOfReport);
        }
        Report(lean, null, target: true);
    }

    private static void Report(LeanMediaServer lean, string? name, bool target)
    {
        var (answerToPlay, next) = lean.Take();
        var of = name is null ? string.Empty : $" ({name})";
        var goal = target ? " (target ≤ 5000)" : string.Empty;
        if (answerToPlay.Count > 0)
        {
            Console.WriteLine($"play command at FreeSWITCH after the phone's 200 OK was sent{of}: median {Percentile(answerToPlay, 0.5):F0} µs, " +
            $"p99 {Percentile(answerToPlay, 0.99):F0} µs, max {answerToPlay[^1]:F0} µs over {answerToPlay.Count} calls{goal}");
        }
        if (next.Count > 0)
        {
            Console.WriteLine($"next command at FreeSWITCH after the previous one's CHANNEL_EXECUTE_COMPLETE was sent{of}: median {Percentile(next, 0.5):F0} µs, " +
            $"p99 {Percentile(next, 0.99):F0} µs, max {next[^1]:F0} µs over {next.Count} commands{goal}");
        }
    }

    public static async Task RunAsync(int lifecycles)
    {
        await using var standIn = await StandIn.StartAsync();
        var server = standIn.Server;

        for (var i = 0; i < 3_000; i++)
        {
            await OneAsync(server); // warm-up: JIT and tiering
        }
        var process = Process.GetCurrentProcess();
        var cpuPerLifecycle = new List<double>();
        var playLatency = new List<double>();
        for (var round = 1; round <= 5; round++)
        {
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var wall = Stopwatch.StartNew();
            for (var i = 0; i < lifecycles; i++)
            {
                playLatency.Add(await OneAsync(server));
            }
            wall.Stop();
            process.Refresh();
            var cpu = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / lifecycles;
            cpuPerLifecycle.Add(cpu);
            Console.WriteLine(
                $"round {round}, {lifecycles} endpoint lifecycles: {cpu:F0} µs client CPU each, {wall.Elapsed.TotalMicroseconds / lifecycles:F0} µs wall each, " +
                $"{(double)(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / lifecycles:F0} bytes allocated each");
        }
        cpuPerLifecycle.Sort();
        playLatency.Sort();
        Console.WriteLine($"median: {cpuPerLifecycle[2]:F0} µs client CPU per lifecycle (create, modify, play to completion, destroy; target ≤ 1000)");
        Console.WriteLine(
            $"play command at FreeSWITCH after ModifyAsync returned: median {Percentile(playLatency, 0.5):F0} µs, p99 {Percentile(playLatency, 0.99):F0} µs, " +
            $"max {playLatency[^1]:F0} µs over {playLatency.Count} (target ≤ 1000)");
    }

    /// <summary>One lifecycle; returns microseconds from ModifyAsync's return to the play command's arrival at FreeSWITCH.</summary>
    private static async Task<double> OneAsync(MediaServer server)
    {
        var endpoint = await server.CreateEndpointAsync();
        await endpoint.ModifyAsync(PhoneSdp);
        var modified = Stopwatch.GetTimestamp();
        // PlayAsync is this execute plus a check of Application-Response; the event carries the fake's arrival time.
        var completion = await endpoint.ExecuteAsync("playback", "tone_stream://%(100,0,440)");
        var received = long.Parse(completion[LeanMediaServer.WireTimestampHeader]!, CultureInfo.InvariantCulture);
        await endpoint.DestroyAsync();
        return Stopwatch.GetElapsedTime(modified, received).TotalMicroseconds;
    }

    internal static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
}
