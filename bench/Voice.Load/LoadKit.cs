using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

/// <summary>What both runs of the load tool share: placing calls, waiting, and reading a process's CPU and memory.</summary>
internal static class LoadKit
{
    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The socket setting this tool was started with (null: none), which the hosts it starts get in turn.</summary>
    private static string? _startedWithInlineCompletions;

    /// <summary>
    /// Runs this tool's socket completions on the sockets' own threads instead of the thread pool's, unless it was started
    /// with a setting of its own. Against real servers the phones receive every call's RTP, 50 packets a second each: a
    /// hand-over to a pool worker per packet cost the tool as much CPU again (lab, 10 calls/s: 14–18 ms per call with
    /// the hand-overs, 9–11 without), CPU that the host and FreeSWITCH, on the same cores, then did not have. Before any
    /// socket is made: the runtime reads it once, with its first socket. Nothing the tool runs there blocks.
    /// </summary>
    public static void RunSocketCompletionsInline()
    {
        _startedWithInlineCompletions = Environment.GetEnvironmentVariable(InlineCompletions);
        if (_startedWithInlineCompletions is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
        }
    }

    /// <summary>The host's process gets the tool's socket setting as it was started with, not as the tool then set it.</summary>
    public static void KeepInlineCompletionsAsStarted(ProcessStartInfo start)
    {
        if (_startedWithInlineCompletions is { } value)
        {
            start.Environment[InlineCompletions] = value;
        }
        else
        {
            start.Environment.Remove(InlineCompletions);
        }
    }

    /// <summary>POSTs one call; any refusal ends the run: at these rates every call must be accepted.</summary>
    public static async Task PlaceAsync(HttpClient http, string to, string? webhookUrl, string webhooks, int timeoutSeconds, ConcurrentBag<string>? ids)
    {
        var hooks = webhooks switch
        {
            "none" => string.Empty,
            "final" => ",\"webhookUrl\":\"" + webhookUrl + "\",\"webhookEvents\":[\"completed\",\"failed\"]",
            _ => ",\"webhookUrl\":\"" + webhookUrl + "\"",
        };
        var body = $$"""{"to":"{{to}}","message":"Disk at 95 percent on nas-01.","timeoutSeconds":{{timeoutSeconds}}{{hooks}},"tag":{"source":"load"} }""";
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync("/api/outbound-call", new StringContent(body, Encoding.UTF8, "application/json"));
        }
        catch (TaskCanceledException ex)
        {
            throw new TimeoutException($"POST /api/outbound-call to {http.BaseAddress} had no answer within {http.Timeout.TotalSeconds:0} s", ex);
        }
        using var _ = response;
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        if (ids is not null)
        {
            ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!);
        }
    }

    // Webhooks per call: queued, dialing, ringing, (playing if answered,) and the final state; or only the final one.
    public static int PerCall(string webhooks, bool answered) => webhooks switch { "none" => 0, "final" => 1, _ => answered ? 5 : 4 };

    public static async Task<int> ActiveAsync(HttpClient http)
    {
        try
        {
            return (await http.GetFromJsonAsync<JsonElement>("/api/calls")).GetProperty("count").GetInt32();
        }
        catch (TaskCanceledException ex)
        {
            throw new TimeoutException($"GET /api/calls on {http.BaseAddress} had no answer within {http.Timeout.TotalSeconds:0} s", ex);
        }
    }

    public static async Task<HttpStatusCode?> TryGetAsync(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(path);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan limit, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > limit)
            {
                throw new TimeoutException($"gave up waiting for {what}");
            }
            await Task.Delay(100);
        }
    }

    public static async Task DelayUntilAsync(Stopwatch clock, TimeSpan at)
    {
        var wait = at - clock.Elapsed;
        if (wait > TimeSpan.FromMilliseconds(1))
        {
            await Task.Delay(wait);
        }
    }

    /// <summary>The most memory the process has had resident so far (VmHWM in /proc/&lt;pid&gt;/status), in MB.</summary>
    public static double PeakResidentMegabytes(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(line => line.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Select(line => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0).Single();

    // User and kernel CPU time of a process, from /proc/<pid>/stat (utime and stime, in clock ticks of 1/100 s).
    public static Cpu ProcessCpu(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return new Cpu(
            TimeSpan.FromMilliseconds(long.Parse(fields[11], CultureInfo.InvariantCulture) * 10),
            TimeSpan.FromMilliseconds(long.Parse(fields[12], CultureInfo.InvariantCulture) * 10));
    }

    /// <summary>
    /// Each thread of a process so far, by thread id: its name, its CPU time in nanoseconds as the scheduler counts it
    /// (/proc/&lt;pid&gt;/task/*/schedstat, not sampled at the clock tick as /proc/&lt;pid&gt;/stat is), how often it went
    /// to sleep (voluntary context switches: each is a wake-up later, which on a virtual machine costs more than most of
    /// the work it wakes for) and its context switches of both kinds. Compare two of these with <see cref="ThreadsBetween"/>:
    /// a plain sum would drop the whole count of a thread that ends between the two (the thread pool retires idle workers).
    /// </summary>
    public static Dictionary<int, ThreadTime> Threads(int pid)
    {
        var threads = new Dictionary<int, ThreadTime>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                var runNs = long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0], CultureInfo.InvariantCulture);
                long sleeps = 0, switches = 0;
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    var voluntary = line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal);
                    if (voluntary || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        var count = long.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
                        switches += count;
                        sleeps += voluntary ? count : 0;
                    }
                }
                threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = new ThreadTime(name, runNs, sleeps, switches);
            }
            catch (Exception ex) when (ex is IOException or FormatException)
            {
                // The thread ended while we read.
            }
        }
        return threads;
    }

    /// <summary>
    /// What each kind of thread (by name: the pool's workers are one) did between two snapshots, the most CPU first; a
    /// thread started since counts whole, one that ended in between is missed (its last count is gone with it), so the
    /// counts are lower bounds.
    /// </summary>
    public static IReadOnlyList<ThreadTime> ThreadsBetween(Dictionary<int, ThreadTime> before, Dictionary<int, ThreadTime> after) =>
        [.. after.Select(thread => before.TryGetValue(thread.Key, out var was) && was.Name == thread.Value.Name
                ? thread.Value with { RunNs = thread.Value.RunNs - was.RunNs, Sleeps = thread.Value.Sleeps - was.Sleeps, Switches = thread.Value.Switches - was.Switches }
                : thread.Value)
            .GroupBy(thread => thread.Name)
            .Select(group => new ThreadTime(group.Key, group.Sum(t => t.RunNs), group.Sum(t => t.Sleeps), group.Sum(t => t.Switches)))
            .OrderByDescending(thread => thread.RunNs)];

    public static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static string FindRepository()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "VoiceBridge.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("run the load tool from inside the VoiceBridge repository");
    }

    /// <summary>The p-th percentile (0–100) of sorted values.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * p / 100))];
}

/// <summary>A thread's (or a kind of threads') CPU in nanoseconds, its sleeps and its context switches, from <see cref="LoadKit.Threads"/>.</summary>
internal readonly record struct ThreadTime(string Name, long RunNs, long Sleeps, long Switches);
