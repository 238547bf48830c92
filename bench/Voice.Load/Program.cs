using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

// VoiceBridge load tool. Starts the host (Release build) as its own process on the simulated backend, with every
// call sending all its webhooks to a receiver in this process, and measures:
//   1. calls/s and POST latency (p50/p99) at a fixed open-loop rate, and the host's CPU time per call over that
//      phase (from /proc, after every call has ended and every webhook has been delivered);
//   2. the host's resident memory per active call with N calls ringing at once.
// Usage: dotnet run -c Release --project bench/Voice.Load -- [--rate 200] [--seconds 20] [--concurrent 1000] [--log Warning]
//        [--webhooks all|final|none] (which states each call sends webhooks for; default all five)
//        [--stall-ms 0] (during the measured phase, hold the database's write lock this long every 2 s, as a disk
//        that stalls the host's writes would)
var options = Args.Parse(args);
var repo = FindRepository();
var configuration = typeof(Args).Assembly.Location.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
var hostDll = Path.Combine(repo, "src", "Voice.Host", "bin", configuration, "net10.0", "Voice.Host.dll");
if (!File.Exists(hostDll))
{
    Console.Error.WriteLine($"{hostDll} is missing: build with dotnet build -c {configuration} VoiceBridge.sln");
    return 1;
}

await using var receiver = await Receiver.StartAsync();
var port = FreePort();
var data = Path.Combine(Path.GetTempPath(), "vb-load-" + Guid.NewGuid().ToString("N"));
const string Key = "load-test-key-0123456789abcdef";
var start = new ProcessStartInfo("dotnet", [hostDll])
{
    WorkingDirectory = Path.GetDirectoryName(hostDll)!,
    RedirectStandardOutput = true,
    RedirectStandardError = true,
    Environment =
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["Urls"] = $"http://127.0.0.1:{port}",
        ["DATA_DIR"] = data,
        ["API_KEYS"] = "load=" + Key,
        ["RATE_LIMIT_PER_SECOND"] = "100000",
        ["MAX_CONCURRENT_CALLS"] = "10000",
        ["CALLS_PER_SECOND"] = "10000",
        ["Calls__MaxQueuedCalls"] = "20000",
        ["Simulation__RingTimeMs"] = "300",
        ["Simulation__SignallingDelayMs"] = "20",
        ["Simulation__PlaybackSpeed"] = "4",
        ["Logging__LogLevel__Default"] = options.LogLevel,
        ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
    },
};
using var host = Process.Start(start)!;
var hostLog = new StringBuilder();
host.OutputDataReceived += (_, e) => { lock (hostLog) { hostLog.AppendLine(e.Data); } };
host.ErrorDataReceived += (_, e) => { lock (hostLog) { hostLog.AppendLine(e.Data); } };
host.BeginOutputReadLine();
host.BeginErrorReadLine();
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
{
    BaseAddress = new Uri($"http://127.0.0.1:{port}"),
    Timeout = TimeSpan.FromSeconds(30),
};
http.DefaultRequestHeaders.Add("X-API-Key", Key);
try
{
    await WaitUntilAsync(async () => (await TryGetAsync(http, "/healthz")) == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "the host to start");
    Console.WriteLine($"host pid {host.Id} on port {port}, {Environment.ProcessorCount} cores, log level {options.LogLevel}; webhooks: {options.Webhooks}; " +
        $"load average before: {File.ReadAllText("/proc/loadavg").Split(' ')[0]} (other work on the machine inflates CPU per call)");

    // Memory first, on the young host after a short warm-up: N calls ringing at once (a number that never
    // answers, with the longest ring timeout), against the resident memory of the idle host just before.
    await RunAtRateAsync(http, receiver, options.Rate, 1, options.Webhooks, "memory warm-up");
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

    // Then the rate: a warm-up (JIT, tiering, connection pools, SQLite pages), and the measured phase.
    await RunAtRateAsync(http, receiver, options.Rate, Math.Min(options.Seconds, 10), options.Webhooks, "warm-up");

    using var stalls = new CancellationTokenSource();
    var stalling = options.StallMs > 0 ? Stalls.RunAsync(Path.Combine(data, "voicebridge.db"), options.StallMs, stalls.Token) : Task.FromResult(0);
    var cpuBefore = ProcessCpu(host.Id);
    var result = await RunAtRateAsync(http, receiver, options.Rate, options.Seconds, options.Webhooks, "measured");
    var cpu = ProcessCpu(host.Id) - cpuBefore;
    await stalls.CancelAsync();
    if (options.StallMs > 0)
    {
        Console.WriteLine($"write stalls:          {await stalling} × {options.StallMs} ms (the database's write lock held by this tool)");
    }
    Console.WriteLine($"calls placed:          {result.Calls} in {result.Elapsed.TotalSeconds:F1} s = {result.Calls / result.Elapsed.TotalSeconds:F1} calls/s (target rate {options.Rate}/s)");
    Console.WriteLine($"POST latency:          p50 {result.P50:F2} ms, p99 {result.P99:F2} ms, max {result.Max:F2} ms (target p99 ≤ 20 ms at 200 calls/s)");
    Console.WriteLine($"webhooks received:     {result.Webhooks} ({(double)result.Webhooks / result.Calls:F1} per call)");
    Console.WriteLine($"host CPU per call:     {cpu.Total.TotalMilliseconds / result.Calls:F3} ms ({cpu.User.TotalMilliseconds / result.Calls:F3} user, " +
        $"{cpu.Kernel.TotalMilliseconds / result.Calls:F3} kernel), with persistence and webhooks (target ≤ 3 ms)");

    return 0;
}
catch (Exception ex)
{
    Console.Error.WriteLine(ex.Message);
    lock (hostLog)
    {
        Console.Error.WriteLine(hostLog.ToString());
    }
    return 1;
}
finally
{
    host.Kill(entireProcessTree: true);
    await host.WaitForExitAsync();
    Directory.Delete(data, recursive: true);
}

static async Task<Result> RunAtRateAsync(HttpClient http, Receiver receiver, int rate, int seconds, string webhooks, string phase)
{
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
            await PlaceAsync(http, "+15005550000", receiver.Url, webhooks, 30, null);
            latencies[index] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        });
    }
    await Task.WhenAll(tasks);
    var placed = clock.Elapsed;
    // Done when every call has ended and every webhook (5 per answered call) has arrived.
    await WaitUntilAsync(async () => await ActiveAsync(http) == 0 && receiver.Count - webhooksBefore >= calls * PerCall(webhooks, answered: true), TimeSpan.FromSeconds(120), $"the {phase} calls and webhooks to finish");
    Array.Sort(latencies);
    return new Result(calls, placed, latencies[calls / 2], latencies[(int)(calls * 0.99)], latencies[^1], receiver.Count - webhooksBefore);
}

// POSTs one call; any refusal ends the run: at these rates every call must be accepted.
static async Task PlaceAsync(HttpClient http, string to, string? webhookUrl, string webhooks, int timeoutSeconds, ConcurrentBag<string>? ids)
{
    var hooks = webhooks switch
    {
        "none" => string.Empty,
        "final" => ",\"webhookUrl\":\"" + webhookUrl + "\",\"webhookEvents\":[\"completed\",\"failed\"]",
        _ => ",\"webhookUrl\":\"" + webhookUrl + "\"",
    };
    var body = $$"""{"to":"{{to}}","message":"Disk at 95 percent on nas-01.","timeoutSeconds":{{timeoutSeconds}}{{hooks}},"tag":{"source":"load"} }""";
    using var response = await http.PostAsync("/api/outbound-call", new StringContent(body, Encoding.UTF8, "application/json"));
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
static int PerCall(string webhooks, bool answered) => webhooks switch { "none" => 0, "final" => 1, _ => answered ? 5 : 4 };

static async Task<int> ActiveAsync(HttpClient http) => (await http.GetFromJsonAsync<JsonElement>("/api/calls")).GetProperty("count").GetInt32();

static async Task<HttpStatusCode?> TryGetAsync(HttpClient http, string path)
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

static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan limit, string what)
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

static async Task DelayUntilAsync(Stopwatch clock, TimeSpan at)
{
    var wait = at - clock.Elapsed;
    if (wait > TimeSpan.FromMilliseconds(1))
    {
        await Task.Delay(wait);
    }
}

// User and kernel CPU time of a process, from /proc/<pid>/stat (utime and stime, in clock ticks of 1/100 s).
static Cpu ProcessCpu(int pid)
{
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return new Cpu(
        TimeSpan.FromMilliseconds(long.Parse(fields[11], CultureInfo.InvariantCulture) * 10),
        TimeSpan.FromMilliseconds(long.Parse(fields[12], CultureInfo.InvariantCulture) * 10));
}

static long ResidentBytes(int pid)
{
    var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}

static int FreePort()
{
    var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    var port = ((IPEndPoint)listener.LocalEndpoint).Port;
    listener.Stop();
    return port;
}

static string FindRepository()
{
    var directory = new DirectoryInfo(AppContext.BaseDirectory);
    while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "VoiceBridge.sln")))
    {
        directory = directory.Parent;
    }
    return directory?.FullName ?? throw new InvalidOperationException("run the load tool from inside the VoiceBridge repository");
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

internal sealed record Result(int Calls, TimeSpan Elapsed, double P50, double P99, double Max, int Webhooks);

internal sealed record Args(int Rate, int Seconds, int Concurrent, string LogLevel, string Webhooks, int StallMs)
{
    public static Args Parse(string[] args)
    {
        string Get(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        return new Args(
            int.Parse(Get("--rate", "200"), CultureInfo.InvariantCulture),
            int.Parse(Get("--seconds", "20"), CultureInfo.InvariantCulture),
            int.Parse(Get("--concurrent", "1000"), CultureInfo.InvariantCulture),
            Get("--log", "Warning"),
            Get("--webhooks", "all"),
            int.Parse(Get("--stall-ms", "0"), CultureInfo.InvariantCulture));
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
