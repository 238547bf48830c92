using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Voice.Control.FreeSwitch;
using Voice.TestPhone;
using static LoadKit;

/// <summary>
/// Calls as a user places them, against a real drachtio-server and FreeSWITCH: the host (Release) as its own
/// process, the test phone as the trunk (rings a second, answers, hears the whole message), a webhook receiver for
/// every state change, and a client polling each call once a second until it ends. After a warm-up it measures,
/// over the calls of the measured phase: the host's CPU per call (from /proc, user and kernel), POST latency, the
/// time from the phone's 200 OK to the first packet carrying speech, and that nothing is left in FreeSWITCH.
/// </summary>
internal static class RealServers
{
    /// <summary>A real alert: about six seconds of speech, rendered once and cached.</summary>
    private const string Message = "This is VoiceBridge. The disk on server web one is ninety five percent full. Please have a look.";

    /// <summary>How long the message plays on real servers (flite's rendering of <see cref="Message"/>): the stand-in plays as long.</summary>
    private static readonly TimeSpan MessageLength = TimeSpan.FromMilliseconds(5600);

    public static async Task<int> RunAsync(Args options)
    {
        using var lean = options.Drachtio == "lean" ? StartStandIn() : null;
        var (drachtioHost, drachtioPort) = lean is null ? HostPort(options.Drachtio!) : ("127.0.0.1", lean.Value.DrachtioPort);
        var (fsHost, fsPort) = lean is null ? HostPort(options.FreeSwitch) : ("127.0.0.1", lean.Value.EventSocketPort);
        await using var phone = TestPhone.Start(IPAddress.Loopback);
        phone.Behaviour = PhoneBehaviour.Answering with { RingFor = TimeSpan.FromSeconds(1), SendsRtp = options.PhoneRtp };
        await using var receiver = await Receiver.StartAsync();
        await using var esl = lean is null ? new EslClient(new EslClientOptions { Host = fsHost, Port = fsPort }) : null;
        if (esl is not null)
        {
            await esl.ConnectAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        await using var host = await HostProcess.StartAsync(new Dictionary<string, string>(options.HostEnvironment)
        {
            ["DRACHTIO_HOST"] = drachtioHost,
            ["DRACHTIO_PORT"] = drachtioPort.ToString(CultureInfo.InvariantCulture),
            ["DRACHTIO_SECRET"] = "cymru",
            ["FREESWITCH_HOST"] = fsHost,
            ["FREESWITCH_PORT"] = fsPort.ToString(CultureInfo.InvariantCulture),
            ["FreeSwitch__Profile"] = options.Profile,
            ["FreeSwitch__SipUri"] = options.MrfUri ?? $"sip:drachtio@{fsHost}:5090",
            ["FreeSwitch__OutboundPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["SIP_TRUNK_HOST"] = phone.EndPoint.ToString(),
            ["SIP_DIAL_RULE"] = "E164",
            ["WEBHOOK_ALLOWED_NETWORKS"] = "loopback", // the webhook receiver runs on this machine
            ["MAX_CONCURRENT_CALLS"] = "1000",
            ["CALLS_PER_SECOND"] = (options.Rate * 2).ToString(CultureInfo.InvariantCulture),
            ["Logging__LogLevel__Default"] = options.LogLevel,
        }, readyPath: "/readyz");
        var media = lean is null ? FindProcess("freeswitch") : null;
        var signalling = lean is null ? FindProcess("drachtio") : null;
        try
        {
            Console.WriteLine((lean is null
                ? $"real servers: drachtio-server {options.Drachtio} (pid {signalling}), FreeSWITCH {options.FreeSwitch} profile {options.Profile} (pid {media}); "
                : $"the lean stand-in for both servers (pid {lean.Value.Process.Id}) at real pace and size: the phone rings 1 s, the message plays {MessageLength.TotalSeconds:0.#} s; ") +
                $"host pid {host.Id}, log level {options.LogLevel}, webhooks {options.Webhooks}, each call polled once a second; {Environment.ProcessorCount} cores, " +
                $"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}, a system call costs {Machine.SystemCallMicroseconds():F2} µs");
            await RunAsync(host, phone, receiver, options, options.Warmup, "warm-up");

            var threadsBefore = Threads(host.Id);
            var before = (Host: ProcessCpu(host.Id), Media: media is { } m ? ProcessCpu(m) : default, Signalling: signalling is { } s ? ProcessCpu(s) : default,
                Tool: ProcessCpu(Environment.ProcessId));
            var cores = Machine.Cores();
            var result = await RunAsync(host, phone, receiver, options, options.Calls, "measured");
            var busy = Machine.Cores().BusySince(cores);
            var hostCpu = result.HostCpuAtEnd - before.Host;
            var threads = ThreadsBetween(threadsBefore, result.ThreadsAtEnd);
            var switches = threads.Sum(t => t.Switches);
            var calls = result.Calls;
            Console.WriteLine($"calls:                 {calls} at {options.Rate}/s: {string.Join(", ", result.Outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Value} {o.Key}"))}");
            foreach (var failure in result.Failures.Take(5))
            {
                Console.WriteLine($"  failed: {failure}");
            }
            Console.WriteLine($"host CPU per call:     {hostCpu.Total.TotalMilliseconds / calls:F2} ms ({hostCpu.User.TotalMilliseconds / calls:F2} user, {hostCpu.Kernel.TotalMilliseconds / calls:F2} kernel; target ≤ 5 ms), {(double)switches / calls:F0} context switches per call");
            // Where the host's CPU went, by thread, and how often each slept: a regression shows in the thread that has it.
            Console.WriteLine("host threads per call: " + string.Join(", ", threads.Take(5)
                .Select(t => $"{t.Name} {t.RunNs / 1e6 / calls:F2} ms ({(double)t.Sleeps / calls:F1} wake-ups)")));
            Console.WriteLine($"host memory:           {PeakResidentMegabytes(host.Id):F0} MB resident at its peak (about one call-length of calls live at once)");
            if (media is { } mediaPid && signalling is { } signallingPid)
            {
                var mediaCpu = (ProcessCpu(mediaPid) - before.Media).Total;
                Console.WriteLine($"servers' CPU per call: FreeSWITCH {mediaCpu.TotalMilliseconds / calls:F2} ms, " +
                    $"drachtio-server {(ProcessCpu(signallingPid) - before.Signalling).Total.TotalMilliseconds / calls:F2} ms");
                // This machine's speed moves from hour to hour, and FreeSWITCH's CPU per call with it: builds compare better by this.
                Console.WriteLine($"host CPU ÷ FreeSWITCH: {hostCpu.Total / mediaCpu:F3} (compare builds by this, in alternating runs)");
            }
            // On a machine with no core to spare, the latencies are the queues for its cores, not the host's doing.
            Console.WriteLine($"machine:               {busy * 100:F0} % of its {Environment.ProcessorCount} cores busy over the measured calls" +
                (busy > 0.85 ? " (saturated: latencies and CPU per call measure the machine, not the host)" : ""));
            // The phones, the webhook receiver and the polling clients share the machine with what they measure: what they
            // cost is CPU the host and the servers did not have.
            Console.WriteLine($"this tool's CPU/call:  {(result.ToolCpuAtEnd - before.Tool).Total.TotalMilliseconds / calls:F2} ms (phones, webhook receiver, clients)");
            Console.WriteLine($"POST latency:          p50 {Percentile(result.Posts, 50):F2} ms, p99 {Percentile(result.Posts, 99):F2} ms, max {result.Posts[^1]:F2} ms (target p99 ≤ 20 ms)");
            Console.WriteLine(lean is not null ? "200 OK → speech:       not measured (the stand-in sends no RTP)" : $"200 OK → speech:       p50 {Percentile(result.Speech, 50):F1} ms, p99 {Percentile(result.Speech, 99):F1} ms, max {(result.Speech.Count > 0 ? result.Speech[^1] : double.NaN):F1} ms " +
                $"over {result.Speech.Count} calls; {result.HeardSpeech} of {result.Answered} answered calls heard plain G.711 speech (target p50 ≤ 80, p99 ≤ 150 ms)");
            Console.WriteLine($"webhooks received:     {result.Webhooks} ({(double)result.Webhooks / calls:F1} per call); GET polls: {result.Polls}");
            var channels = esl is null ? 0 : await ChannelsLeftAsync(esl);
            if (Environment.GetEnvironmentVariable("VOICEBRIDGE_LOAD_HOST_LOG") is { Length: > 0 } keep)
            {
                await File.WriteAllTextAsync(keep, host.Log); // the host's own account of the run, kept for reading
            }
            Console.WriteLine(esl is null ? "FreeSWITCH channels:   (stand-in)" : $"FreeSWITCH channels:   {channels} left after the run");
            return result.Outcomes.Keys.All(k => k == "completed/announce_complete") && channels == 0 && (lean is not null || result.HeardSpeech == result.Answered) ? 0 : 2;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(host.Log);
            return 1;
        }
    }

    private static async Task<RealResult> RunAsync(HostProcess host, TestPhone phone, Receiver receiver, Args options, int count, string phase)
    {
        while (phone.Calls.TryRead(out _))
        {
        }
        var webhooksBefore = receiver.Count;
        var posts = new double[count];
        var ids = new string[count];
        var outcomes = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var failures = new ConcurrentQueue<string>();
        var polls = 0;
        var interval = TimeSpan.FromSeconds(1.0 / options.Rate);
        var tasks = new Task[count];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var wait = interval * i - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait);
            }
            var index = i;
            tasks[i] = Task.Run(async () =>
            {
                var started = Stopwatch.GetTimestamp();
                var callId = await PostAsync(host.Http, receiver.Url, options.Webhooks);
                posts[index] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                ids[index] = callId;
                // The client a user writes: ask once a second until the call has ended.
                while (options.Poll)
                {
                    await Task.Delay(1000);
                    Interlocked.Increment(ref polls);
                    var call = await host.Http.GetFromJsonAsync<JsonElement>($"/api/call/{callId}");
                    if (call.GetProperty("state").GetString() is "completed" or "failed" && call.GetProperty("reason").GetString() is not null)
                    {
                        Tally(call, outcomes, failures);
                        return;
                    }
                }
            });
        }
        await Task.WhenAll(tasks);
        await WaitUntilAsync(async () => await ActiveAsync(host.Http) == 0, TimeSpan.FromSeconds(120), $"the {phase} calls to end");
        var answered = outcomes.Where(o => o.Key.StartsWith("completed", StringComparison.Ordinal)).Sum(o => o.Value);
        // Every call has ended; its last webhooks are on their way. Done when none has come for two seconds.
        var seen = -1;
        await WaitUntilAsync(async () =>
        {
            var now = receiver.Count;
            if (now == seen)
            {
                return true;
            }
            seen = now;
            await Task.Delay(2000);
            return false;
        }, TimeSpan.FromSeconds(120), $"the {phase} webhooks");
        var cpu = ProcessCpu(host.Id);
        var toolCpu = ProcessCpu(Environment.ProcessId);
        var threadsAtEnd = Threads(host.Id);
        if (!options.Poll)
        {
            // Read after the CPU figure: without polling, each call's outcome is asked for once, at the end.
            foreach (var callId in ids)
            {
                Tally(await host.Http.GetFromJsonAsync<JsonElement>($"/api/call/{callId}"), outcomes, failures);
            }
            answered = outcomes.Where(o => o.Key.StartsWith("completed", StringComparison.Ordinal)).Sum(o => o.Value);
        }
        var rung = new List<PhoneCall>();
        while (phone.Calls.TryRead(out var call))
        {
            rung.Add(call);
        }
        var speech = rung.Select(c => c.AnswerToSpeech?.TotalMilliseconds).OfType<double>().Order().ToList();
        Array.Sort(posts);
        Console.WriteLine($"{phase}: {count} calls in {clock.Elapsed.TotalSeconds:F1} s");
        return new RealResult(count, posts, speech, outcomes, [.. failures], answered, rung.Count(c => c.Media.Report().HeardSpeech), receiver.Count - webhooksBefore, polls, cpu, toolCpu, threadsAtEnd);
    }

    /// <summary>Counts an ended call by state and reason; a failed one is kept with its detail, to say what happened.</summary>
    private static void Tally(JsonElement call, ConcurrentDictionary<string, int> outcomes, ConcurrentQueue<string> failures)
    {
        var (state, reason) = (call.GetProperty("state").GetString(), call.GetProperty("reason").GetString());
        outcomes.AddOrUpdate($"{state}/{reason}", 1, (_, n) => n + 1);
        if (state == "failed")
        {
            failures.Enqueue($"{call.GetProperty("callId").GetString()} {reason}: {(call.TryGetProperty("detail", out var detail) ? detail.ToString() : "")}");
        }
    }

    private static async Task<string> PostAsync(HttpClient http, string webhookUrl, string webhooks)
    {
        var hooks = webhooks switch
        {
            "none" => string.Empty,
            "final" => ",\"webhookUrl\":\"" + webhookUrl + "\",\"webhookEvents\":[\"completed\",\"failed\"]",
            _ => ",\"webhookUrl\":\"" + webhookUrl + "\"",
        };
        var body = $$"""{"to":"+15551230100","message":"{{Message}}","timeoutSeconds":20{{hooks}},"tag":{"source":"load"} }""";
        using var response = await http.PostAsync("/api/outbound-call", new StringContent(body, Encoding.UTF8, "application/json"));
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
    }

    private static async Task<int> ChannelsLeftAsync(EslClient esl)
    {
        var deadline = Stopwatch.StartNew();
        int count;
        while ((count = int.Parse((await esl.ApiAsync("show channels count")).Trim().Split(' ')[0], CultureInfo.InvariantCulture)) > 0 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(200);
        }
        return count;
    }

    /// <summary>The lean stand-in of bench/Voice.Bench as its own process, ringing and playing at real pace, with real-size channel data and events.</summary>
    private static LeanStandIn? StartStandIn()
    {
        var configuration = typeof(RealServers).Assembly.Location.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var dll = Path.Combine(FindRepository(), "bench", "Voice.Bench", "bin", configuration, "net10.0", "Voice.Bench.dll");
        var start = new ProcessStartInfo("dotnet", [dll, "serve-media", "--ring-ms", "1000", "--play-ms",
            ((int)MessageLength.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), "--real-size"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        KeepInlineCompletionsAsStarted(start);
        var process = Process.Start(start)!;
        var ports = process.StandardOutput.ReadLine()!.Split(' ').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        return new LeanStandIn(process, ports[0], ports[1]);
    }

    /// <summary>The stand-in process and its ports; disposing it closes its input, which stops it.</summary>
    private readonly record struct LeanStandIn(Process Process, int DrachtioPort, int EventSocketPort) : IDisposable
    {
        public void Dispose()
        {
            Process.StandardInput.Close();
            Process.WaitForExit(5000);
            Process.Dispose();
        }
    }

    /// <summary>The pid of a process by its command name, for the servers' own CPU (when they run on this machine).</summary>
    private static int? FindProcess(string name)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && File.Exists(Path.Combine(directory, "comm"))
                && File.ReadAllText(Path.Combine(directory, "comm")).Trim() == name)
            {
                return pid;
            }
        }
        return null;
    }

    private static (string Host, int Port) HostPort(string value)
    {
        var colon = value.LastIndexOf(':');
        return (value[..colon], int.Parse(value[(colon + 1)..], CultureInfo.InvariantCulture));
    }
}

internal sealed record RealResult(
    int Calls, double[] Posts, List<double> Speech, IReadOnlyDictionary<string, int> Outcomes, IReadOnlyList<string> Failures, int Answered, int HeardSpeech, int Webhooks, int Polls, Cpu HostCpuAtEnd, Cpu ToolCpuAtEnd,
    Dictionary<int, ThreadTime> ThreadsAtEnd);
