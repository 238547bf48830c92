using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Voice.Bench;

// "serve": the lean fake drachtio-server alone, in its own process, so that "cpu" measures the client only.
if (args.Length > 0 && args[0] == "serve")
{
    await using var lean = new LeanDrachtioServer();
    Console.WriteLine(lean.Port.ToString(CultureInfo.InvariantCulture));
    await Console.In.ReadLineAsync(); // runs until the parent closes stdin
    return;
}

// "serve-media [--ring-ms N --play-ms N --real-size]" and "endpoint [lifecycles]": the media endpoint lifecycle,
// measured the same way. The pace options make the stand-in ring, play and talk like real servers (the load tool's
// --drachtio lean uses them).
if (args.Length > 0 && args[0] == "serve-media")
{
    await EndpointLifecycle.ServeAsync(LeanPace.Parse(args));
    return;
}
if (args.Length > 0 && args[0] == "calls")
{
    await AnnounceCalls.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2_000, args.Length > 2 && args[2] == "script");
    return;
}
if (args.Length > 0 && args[0] == "endpoint")
{
    await EndpointLifecycle.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5_000);
    return;
}

// "cpu [calls]": the client's CPU time per call, from this process's CPU counters; the server is another process.
if (args.Length > 0 && args[0] == "cpu")
{
    var calls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
    using var serverProcess = Process.Start(new ProcessStartInfo("dotnet", [typeof(LeanDrachtioServer).Assembly.Location, "serve"])
    {
        RedirectStandardInput = true,
        RedirectStandardOutput = true,
    })!;
    var port = int.Parse((await serverProcess.StandardOutput.ReadLineAsync())!, CultureInfo.InvariantCulture);
    var client = new Voice.Control.Drachtio.DrachtioClient(new Voice.Control.Drachtio.DrachtioClientOptions { Host = "127.0.0.1", Port = port, Secret = "cymru" });
    await client.ConnectAsync();
    for (var i = 0; i < 10_000; i++)
    {
        await UacCallBenchmarks.CallAsync(client); // warm-up: JIT and tiering
    }
    // Five rounds, reported each and as the median: on a small machine shared with the server process, one round is noisy.
    var process = Process.GetCurrentProcess();
    var perCall = new List<double>();
    for (var round = 1; round <= 5; round++)
    {
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var workItemsBefore = ThreadPool.CompletedWorkItemCount;
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < calls; i++)
        {
            await UacCallBenchmarks.CallAsync(client);
        }
        wall.Stop();
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / calls;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var workItems = ThreadPool.CompletedWorkItemCount - workItemsBefore;
        perCall.Add(cpu);
        Console.WriteLine(
            $"round {round}, {calls} calls: {cpu:F1} µs client CPU per call, {wall.Elapsed.TotalMicroseconds / calls:F1} µs wall per call, " +
            $"{(double)allocated / calls:F0} bytes allocated and {(double)workItems / calls:F1} thread-pool work items per call");
    }
    perCall.Sort();
    Console.WriteLine($"median: {perCall[2]:F1} µs client CPU per call (target ≤ 200)");
    await client.DisposeAsync();
    serverProcess.StandardInput.Close();
    await serverProcess.WaitForExitAsync();
    return;
}

// In-process toolchain: no per-benchmark project rebuild (this SDK is newer than BenchmarkDotNet 0.14 knows).
var config = DefaultConfig.Instance.AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance));
var summaries = BenchmarkSwitcher.FromAssembly(typeof(FramingBenchmarks).Assembly).Run(args, config);
foreach (var report in summaries.SelectMany(s => s.Reports).Where(r => r.BenchmarkCase.Descriptor.Type == typeof(EslParsingBenchmarks)))
{
    if (report.ResultStatistics is { } stats)
    {
        var mbPerSecond = EslParsingBenchmarks.StreamBytes / stats.Mean * 1000; // bytes per ns × 1000 = MB/s
        Console.WriteLine(
            $"{report.BenchmarkCase.Descriptor.WorkloadMethod.Name}: {mbPerSecond:F0} MB/s over {EslParsingBenchmarks.MessageCount} messages " +
            $"({EslParsingBenchmarks.StreamBytes} bytes)");
    }
}
foreach (var report in summaries.SelectMany(s => s.Reports).Where(r => r.BenchmarkCase.Descriptor.Type == typeof(FramingBenchmarks)))
{
    if (report.ResultStatistics is { } stats)
    {
        var gbPerSecond = FramingBenchmarks.StreamBytes / stats.Mean; // bytes per ns = GB/s
        var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase) ?? 0;
        Console.WriteLine(
            $"{report.BenchmarkCase.Descriptor.WorkloadMethod.Name}: {gbPerSecond:F2} GB/s over {FramingBenchmarks.FrameCount} frames " +
            $"({FramingBenchmarks.StreamBytes} bytes), {(double)allocated / FramingBenchmarks.FrameCount:F0} bytes allocated per frame");
    }
}
