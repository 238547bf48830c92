using System.Collections.Concurrent;
using System.Diagnostics;
using Voice.Control.Backends;
using Voice.Control.Calls;
using Voice.Control.Media;
using Voice.Control.Phone;
using Voice.Control.Tts;

namespace Voice.Bench;

/// <summary>
/// Announce calls through the orchestrator (<c>calls [count]</c>) against <see cref="LeanMediaServer"/> in its
/// own process: the client's CPU per call, made one after another; the time from the phone's 200 OK to the
/// play command (measured by the server); and 1,000 calls in flight at once, each ringing two seconds.
/// <c>calls [count] script</c> runs a three-verb script instead (say, gather with a spoken prompt, say; the phone
/// presses 1), and the server also measures the time from each command's completion to the next command.
/// </summary>
public static class AnnounceCalls
{
    private const string Message = "The backup on nas-01 failed twice tonight.";

    /// <summary>The script's verbs: the alert, the question (its prompt), and what is said after the key.</summary>
    private static readonly Voice.Control.Scripts.CallScript Script = new(
    [
        new Voice.Control.Scripts.SayVerb(Message),
        new Voice.Control.Scripts.GatherVerb { NumDigits = 1, Prompt = new Voice.Control.Scripts.SayVerb("Press 1 to acknowledge.") },
        new Voice.Control.Scripts.SayVerb("Acknowledged. Goodbye."),
    ]);

    public static async Task RunAsync(int calls, bool script = false)
    {
        await using var standIn = await StandIn.StartAsync(listenBacklog: 2048, endpointTimeout: TimeSpan.FromSeconds(20));
        var drachtio = standIn.Drachtio;
        var pool = new MediaServerPool([standIn.Server]);
        var options = new CallOptions
        {
            DialPlan = new DialPlan { Host = "127.0.0.1:5085", Rule = DialRule.E164 },
            CallsPerSecond = 1_000_000,
            MaxConcurrentCalls = 2_000,
            MaxQueuedCalls = 5_000,
        };
        await using var manager = new CallManager(options, new SipCallBackend(drachtio, pool, options), new FliteSynthesizer());
        var finals = new ConcurrentDictionary<string, TaskCompletionSource<CallStateChange>>();
        var inFlight = 0;
        var peak = 0;
        manager.StateChanged += (_, change) =>
        {
            if (change.From == CallState.Queued)
            {
                var now = Interlocked.Increment(ref inFlight);
                InterlockedMax(ref peak, now);
            }
            if (CallStateMachine.IsFinal(change.To))
            {
                if (change.From != CallState.Queued)
                {
                    Interlocked.Decrement(ref inFlight);
                }
                finals.GetOrAdd(change.CallId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(change);
            }
        };
        async Task<CallStateChange> CallAsync(IReadOnlyDictionary<string, string>? headers = null)
        {
            var placed = manager.Place(script
                ? new CallRequest { To = "+15551234567", Script = Script, Headers = headers }
                : new CallRequest { To = "+15551234567", Message = Message, Headers = headers });
            return await finals.GetOrAdd(placed.CallId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        for (var i = 0; i < 2_000; i++)
        {
            await CallAsync(); // warm-up: JIT and tiering
        }
        var process = Process.GetCurrentProcess();
        var perCall = new List<double>();
        for (var round = 1; round <= 5; round++)
        {
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var wall = Stopwatch.StartNew();
            for (var i = 0; i < calls; i++)
            {
                var end = await CallAsync();
                if (end.Reason != CallReasons.AnnounceComplete || (script && end.Results.Digits != "1"))
                {
                    throw new InvalidOperationException($"call ended {end.To} {end.Reason} with digits '{end.Results.Digits}': {end.Detail}");
                }
            }
            wall.Stop();
            process.Refresh();
            var cpu = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / calls;
            perCall.Add(cpu);
            Console.WriteLine(
                $"round {round}, {calls} {(script ? "script" : "announce")} calls: {cpu:F0} µs client CPU each, {wall.Elapsed.TotalMicroseconds / calls:F0} µs wall each, " +
                $"{(double)(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / calls:F0} bytes allocated each");
        }
        perCall.Sort();
        Console.WriteLine(script
            ? $"median: {perCall[2]:F0} µs client CPU per script call (endpoint, INVITE, answer, modify, say, gather, say, BYE, destroy; target ≤ 3000)"
            : $"median: {perCall[2]:F0} µs client CPU per announce call (endpoint, INVITE, answer, modify, speak, BYE, destroy; target ≤ 3000)");

        // The rounds' latencies apart from the burst's: 1,000 calls at once queue behind each other on the cores.
        await standIn.ReportAsync($"the {5 * calls} calls of the rounds, and the warm-up");

        // 1,000 calls at once, each ringing two seconds, so that all are in flight together.
        const int together = 1_000;
        var ring = new Dictionary<string, string> { ["X-Bench-Ring-Ms"] = "2000" };
        var burst = Stopwatch.StartNew();
        var ends = await Task.WhenAll(Enumerable.Range(0, together).Select(_ => CallAsync(ring)));
        burst.Stop();
        var failed = ends.Where(e => e.Reason != CallReasons.AnnounceComplete).GroupBy(e => $"{e.To} {e.Reason} {e.Detail}").ToList();
        Console.WriteLine(
            $"{together} calls at once: peak {peak} in flight, {ends.Length - failed.Sum(f => f.Count())} completed, {failed.Sum(f => f.Count())} failed, " +
            $"all ended after {burst.Elapsed.TotalSeconds:F1} s (each rang 2 s)");
        foreach (var group in failed)
        {
            Console.WriteLine($"  {group.Count()} × {group.Key}");
        }
        await standIn.ReportAsync($"the {together} calls at once, queued behind each other", targets: false);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }
}
