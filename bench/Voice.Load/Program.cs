using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using static LoadKit;

// VoiceBridge load tool. With --drachtio, runs calls against real servers (RealServers.cs). Otherwise it starts the
// host (Release build) as its own process on the simulated backend, with every
// call sending all its webhooks to a receiver in this process, and measures:
//   1. calls/s and POST latency (p50/p99) at a fixed open-loop rate, and the host's CPU time per call over that
//      phase (from /proc, after every call has ended and every webhook has been delivered);
//   2. the host's resident memory per active call with N calls ringing at once.
// Usage: dotnet run -c Release --project bench/Voice.Load -- [--rate 200] [--seconds 20] [--concurrent 1000] [--log Warning]
//        [--webhooks all|final|none] (which states each call sends webhooks for; default all five)
//        [--stall-ms 0] (during the measured phase, hold the database's write lock this long every 2 s, as a disk
//        that stalls the host's writes would)
//        [--database sqlite|postgres] (postgres: a new database on the server VOICEBRIDGE_TEST_POSTGRES names, or --postgres)
//        [--hosts 1] (several hosts on that PostgreSQL, the POSTs spread round-robin, as a load balancer would)
//        [--against path/to/Voice.Host.dll] (real servers: that build runs the same calls at the same time, SideBySide.cs)
var options = Args.Parse(args);
if (options.Drachtio is not null)
{
    RunSocketCompletionsInline();
    return options.Against is null ? await RealServers.RunAsync(options) : await SideBySide.RunAsync(args, options);
}
if (options.Hosts > 1 && options.Database != "postgres")
{
    Console.Error.WriteLine("--hosts needs --database postgres: hosts share their calls through PostgreSQL");
    return 2;
}

await using var receiver = await Receiver.StartAsync();
await using var scratch = options.Database == "postgres" ? await ScratchDatabase.CreateAsync(options.Postgres) : null;
var hosts = new List<HostProcess>();
for (var i = 0; i < options.Hosts; i++)
{
    var settings = new Dictionary<string, string>
    {
        ["WEBHOOK_ALLOWED_NETWORKS"] = "loopback", // the webhook receiver runs on this machine
        ["MAX_CONCURRENT_CALLS"] = "10000",
        ["CALLS_PER_SECOND"] = "10000",
        ["Calls__MaxQueuedCalls"] = "20000",
        ["Simulation__RingTimeMs"] = "300",
        ["Simulation__SignallingDelayMs"] = "20",
        ["Simulation__PlaybackSpeed"] = "4",
        ["Logging__LogLevel__Default"] = options.LogLevel,
        ["WEBHOOK_SECRET"] = "load-test-webhook-secret-0123456789",
    };
    if (scratch is not null)
    {
        settings["DATABASE_URL"] = scratch.Url;
        settings["HOST_ID"] = $"load-{i + 1}";
    }
    hosts.Add(await HostProcess.StartAsync(settings));
}
var host = hosts[0];
var https = hosts.Select(h => h.Http).ToArray();
var http = host.Http;
var data = host.DataDirectory;
try
{
    Console.WriteLine($"{hosts.Count} host(s), pid {string.Join(", ", hosts.Select(h => h.Id))}, on {(scratch is null ? "SQLite" : "PostgreSQL")}; {Environment.ProcessorCount} cores, " +
        $"log level {options.LogLevel}; webhooks: {options.Webhooks}; load average before: {File.ReadAllText("/proc/loadavg").Split(' ')[0]} (other work on the machine inflates CPU per call)");

    // Memory first, on the young host after a short warm-up: N calls ringing at once (a number that never
    // answers, with the longest ring timeout), against the resident memory of the idle host just before. (One host only.)
    await RunAtRateAsync(https, receiver, options.Rate, 1, options.Webhooks, "memory warm-up");
    if (hosts.Count == 1)
    {
        await Task.Delay(2000);
        var rssBefore = ResidentBytes(host.Id);
        var ids = new ConcurrentBag<string>();
        var interval = TimeSpan.FromSeconds(1.0 / Math.Max(options.Rate, 1));
        var placing = new List<Task>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < options.Concurrent; i++)
        {
            await DelayUntilAsync(clock, interval * i);
            placing.Add(PlaceAsync(http, "+15005550002", receiver.Url, options.Webhooks, 120, ids));
        }
        await Task.WhenAll(placing);
        await WaitUntilAsync(async () => await ActiveAsync(http) >= options.Concurrent, TimeSpan.FromSeconds(60),
            $"every call to ring ({ids.Count} of {options.Concurrent} placed, {await ActiveAsync(http)} active)");
        await Task.Delay(2000);
        var active = await ActiveAsync(http);
        var rssDuring = ResidentBytes(host.Id);
        Console.WriteLine($"memory per active call: {(rssDuring - rssBefore) / 1024.0 / active:F1} KB of host RSS with {active} calls ringing " +
            $"(RSS {rssBefore / 1048576.0:F1} MB idle, {rssDuring / 1048576.0:F1} MB with the calls; target ≤ 64 KB)");
        await Task.WhenAll(ids.Select(id => http.PostAsync($"/api/call/{id}/hangup", null)));
        await WaitUntilAsync(async () => await ActiveAsync(http) == 0, TimeSpan.FromSeconds(60), "every call to end");
        // Their webhooks (queued, dialing, ringing, failed) drain before the rate is measured.
        await WaitUntilAsync(async () => receiver.Count >= (PerCall(options.Webhooks, answered: true) * options.Rate) + (PerCall(options.Webhooks, answered: false) * options.Concurrent),
            TimeSpan.FromSeconds(60), "the webhooks of the ringing calls");
    }

    // Then the rate: a warm-up (JIT, tiering, connection pools, SQLite pages), and the measured phase.
    await RunAtRateAsync(https, receiver, options.Rate, Math.Min(options.Seconds, 10), options.Webhooks, "warm-up");

    using var stalls = new CancellationTokenSource();
    var stalling = options.StallMs > 0 ? Stalls.RunAsync(Path.Combine(data, "voicebridge.db"), options.StallMs, stalls.Token) : Task.FromResult(0);
    Cpu AllHosts() => hosts.Select(h => ProcessCpu(h.Id)).Aggregate((a, b) => new Cpu(a.User + b.User, a.Kernel + b.Kernel));
    var cpuBefore = AllHosts();
    var serverBefore = scratch?.ServerCpu() ?? TimeSpan.Zero;
    var result = await RunAtRateAsync(https, receiver, options.Rate, options.Seconds, options.Webhooks, "measured");
    var cpu = AllHosts() - cpuBefore;
    await stalls.CancelAsync();
    if (options.StallMs > 0)
    {
        Console.WriteLine($"write stalls:          {await stalling} × {options.StallMs} ms (the database's write lock held by this tool)");
    }
    Console.WriteLine($"calls placed:          {result.Calls} in {result.Elapsed.TotalSeconds:F1} s = {result.Calls / result.Elapsed.TotalSeconds:F1} calls/s (target rate {options.Rate}/s)");
    Console.WriteLine($"calls completed:       {result.Calls} in {result.Finished.TotalSeconds:F1} s = {result.Calls / result.Finished.TotalSeconds:F1} calls/s " +
        "(from the first POST to the last call ended with all its webhooks delivered)");
    Console.WriteLine($"POST latency:          p50 {result.P50:F2} ms, p99 {result.P99:F2} ms, max {result.Max:F2} ms (target p99 ≤ 20 ms at 200 calls/s)");
    Console.WriteLine($"webhooks received:     {result.Webhooks} ({(double)result.Webhooks / result.Calls:F1} per call)");
    Console.WriteLine($"host CPU per call:     {cpu.Total.TotalMilliseconds / result.Calls:F3} ms ({cpu.User.TotalMilliseconds / result.Calls:F3} user, " +
        $"{cpu.Kernel.TotalMilliseconds / result.Calls:F3} kernel), with persistence and webhooks, all hosts together (target ≤ 3 ms)");
    if (scratch is not null)
    {
        Console.WriteLine($"PostgreSQL CPU per call: {(scratch.ServerCpu() - serverBefore).TotalMilliseconds / result.Calls:F3} ms (every postgres process of the machine)");
    }

    return 0;
}
catch (Exception ex)
{
    Console.Error.WriteLine(ex.Message);
    foreach (var failed in hosts)
    {
        Console.Error.WriteLine(failed.Log);
    }
    return 1;
}
finally
{
    foreach (var started in hosts)
    {
        await started.DisposeAsync();
    }
}

// The calls go round the hosts in turn; the active calls are counted on the first (in a cluster, every host's).
static async Task<Result> RunAtRateAsync(IReadOnlyList<HttpClient> hosts, Receiver receiver, int rate, int seconds, string webhooks, string phase)
{
    var http = hosts[0];
    var calls = rate * seconds;
    var latencies = new double[calls];
    var webhooksBefore = receiver.Count;
    var interval = TimeSpan.FromSeconds(1.0 / rate);
    var tasks = new Task[calls];
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < calls; i++)
    {
        await DelayUntilAsync(clock, interval * i);
        var index = i;
        tasks[i] = Task.Run(async () =>
        {
            var started = Stopwatch.GetTimestamp();
            await PlaceAsync(hosts[index % hosts.Count], "+15005550000", receiver.Url, webhooks, 30, null);
            latencies[index] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        });
    }
    await Task.WhenAll(tasks);
    var placed = clock.Elapsed;
    // Done when every call has ended and every webhook (5 per answered call) has arrived.
    await WaitUntilAsync(async () => await ActiveAsync(http) == 0 && receiver.Count - webhooksBefore >= calls * PerCall(webhooks, answered: true), TimeSpan.FromSeconds(120), $"the {phase} calls and webhooks to finish");
    var finished = clock.Elapsed;
    Array.Sort(latencies);
    return new Result(calls, placed, latencies[calls / 2], latencies[(int)(calls * 0.99)], latencies[^1], receiver.Count - webhooksBefore) { Finished = finished };
}

/// <summary>Disk stalls, imitated: every 2 s the host's database write lock is held for a while by another connection.</summary>
internal static class Stalls
{
    public static async Task<int> RunAsync(string database, int milliseconds, CancellationToken stop)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Default Timeout=30");
        await connection.OpenAsync(CancellationToken.None);
        await using var command = connection.CreateCommand();
        var count = 0;
        try
        {
            while (true)
            {
                await Task.Delay(2000, stop);
                command.CommandText = "BEGIN IMMEDIATE";
                await command.ExecuteNonQueryAsync(CancellationToken.None);
                await Task.Delay(milliseconds, CancellationToken.None);
                command.CommandText = "ROLLBACK";
                await command.ExecuteNonQueryAsync(CancellationToken.None);
                count++;
            }
        }
        catch (OperationCanceledException)
        {
            return count;
        }
    }
}

internal readonly record struct Cpu(TimeSpan User, TimeSpan Kernel)
{
    public TimeSpan Total => User + Kernel;

    public static Cpu operator -(Cpu a, Cpu b) => new(a.User - b.User, a.Kernel - b.Kernel);
}

internal sealed record Result(int Calls, TimeSpan Elapsed, double P50, double P99, double Max, int Webhooks)
{
    /// <summary>From the first POST until every call had ended and every webhook had arrived.</summary>
    public TimeSpan Finished { get; init; }
}

internal sealed record Args(int Rate, int Seconds, int Concurrent, string LogLevel, string Webhooks, int StallMs)
{
    /// <summary>drachtio-server's control address: runs against real servers (RealServers.cs) instead of the simulated backend.</summary>
    public string? Drachtio { get; init; }

    public string FreeSwitch { get; init; } = "127.0.0.1:8021";

    /// <summary>The MRF profile's name and SIP URI.</summary>
    public string Profile { get; init; } = "mrf";

    public string? MrfUri { get; init; }

    /// <summary>Real servers: calls measured, after <see cref="Warmup"/> calls that are not.</summary>
    public int Calls { get; init; } = 300;

    public int Warmup { get; init; } = 100;

    /// <summary>Extra environment for the host process (<c>--host-env NAME=VALUE</c>, repeatable): runtime settings to compare.</summary>
    public IReadOnlyDictionary<string, string> HostEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Each call is polled once a second until it ends (<c>--no-poll</c>: not at all), as a user's client would.</summary>
    public bool Poll { get; init; } = true;

    /// <summary>The phone sends RTP back (as SIPp's -rtp_echo does); off by default to leave the cores to the servers.</summary>
    public bool PhoneRtp { get; init; }

    /// <summary><c>sqlite</c> (each host's own file) or <c>postgres</c> (one new database the hosts share).</summary>
    public string Database { get; init; } = "sqlite";

    /// <summary>The PostgreSQL server to make the database on (a user that may create databases); VOICEBRIDGE_TEST_POSTGRES by default.</summary>
    public string? Postgres { get; init; }

    /// <summary>Hosts sharing the database; the POSTs go round them.</summary>
    public int Hosts { get; init; } = 1;

    /// <summary>Real servers: another build of the host that runs the same calls at the same time (<c>--against</c>).</summary>
    public string? Against { get; init; }

    public static Args Parse(string[] args)
    {
        string? Find(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        string Get(string name, string fallback) => Find(name) ?? fallback;
        var real = Find("--drachtio") is not null;
        return new Args(
            int.Parse(Get("--rate", real ? "10" : "200"), CultureInfo.InvariantCulture),
            int.Parse(Get("--seconds", "20"), CultureInfo.InvariantCulture),
            int.Parse(Get("--concurrent", "1000"), CultureInfo.InvariantCulture),
            Get("--log", real ? "Information" : "Warning"),
            Get("--webhooks", "all"),
            int.Parse(Get("--stall-ms", "0"), CultureInfo.InvariantCulture))
        {
            Drachtio = Find("--drachtio"),
            FreeSwitch = Get("--freeswitch", "127.0.0.1:8021"),
            Profile = Get("--profile", "mrf"),
            MrfUri = Find("--mrf-uri"),
            Calls = int.Parse(Get("--calls", "300"), CultureInfo.InvariantCulture),
            Warmup = int.Parse(Get("--warmup", "100"), CultureInfo.InvariantCulture),
            PhoneRtp = args.Contains("--phone-rtp"),
            Database = Get("--database", "sqlite") is var database && database is "sqlite" or "postgres" ? database : throw new ArgumentException("--database is sqlite or postgres"),
            Postgres = Find("--postgres") ?? Environment.GetEnvironmentVariable("VOICEBRIDGE_TEST_POSTGRES"),
            Hosts = int.Parse(Get("--hosts", "1"), CultureInfo.InvariantCulture) is var count and >= 1 ? count : throw new ArgumentException("--hosts is at least 1"),
            Poll = !args.Contains("--no-poll"),
            Against = Find("--against"),
            HostEnvironment = args.Select((a, i) => (a, i)).Where(x => x.a == "--host-env" && x.i + 1 < args.Length)
                .Select(x => args[x.i + 1].Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : string.Empty),
        };
    }
}

/// <summary>The webhook receiver: counts what it is sent and answers 200 at once.</summary>
internal sealed class Receiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _count;

    private Receiver(WebApplication app) => _app = app;

    public int Count => Volatile.Read(ref _count);

    public string Url { get; private set; } = string.Empty;

    public static async Task<Receiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new Receiver(app);
        app.MapPost("/hook", async (HttpContext context) =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null);
            Interlocked.Increment(ref receiver._count);
            return Results.Ok();
        });
        await app.StartAsync();
        receiver.Url = app.Urls.First() + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
