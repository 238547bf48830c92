using System.Diagnostics;

/// <summary>
/// Two builds of the host measured at the same time: this tool runs its calls (RealServers) while a second copy of
/// it runs the same calls with the build <c>--against</c> names, both against the same drachtio-server and
/// FreeSWITCH. On this kind of machine the same build's CPU per call moves by a third from one hour to the next;
/// two builds sharing the same minutes see the same machine, so their difference is the builds'.
/// </summary>
/// <remarks>
/// Each copy places calls at <c>--rate</c>, so the servers see twice that: halve the rate to keep their load. The
/// servers' CPU each copy reports covers both copies' calls, and the FreeSWITCH channel count each copy checks at its
/// end includes the other's; both end within a second or two of each other, and each waits up to 10 s for the count
/// to reach 0.
/// </remarks>
internal static class SideBySide
{
    public static async Task<int> RunAsync(string[] args, Args options)
    {
        var other = Path.GetFullPath(options.Against!);
        if (!File.Exists(other))
        {
            Console.Error.WriteLine($"--against: {other} does not exist (build it with dotnet build -c Release, or dotnet publish)");
            return 2;
        }
        var childArgs = new List<string> { typeof(SideBySide).Assembly.Location };
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--against")
            {
                i++;
                continue;
            }
            childArgs.Add(args[i]);
        }
        var start = new ProcessStartInfo("dotnet", childArgs) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["VOICEBRIDGE_HOST_DLL"] = other;
        LoadKit.KeepInlineCompletionsAsStarted(start);
        using var child = Process.Start(start)!;
        var output = child.StandardOutput.ReadToEndAsync();
        var errors = child.StandardError.ReadToEndAsync();
        Console.WriteLine($"this build ({Environment.GetEnvironmentVariable("VOICEBRIDGE_HOST_DLL") ?? "the repository's Release build"}), at the same time as {other}");
        Console.WriteLine("(each copy's \"servers' CPU per call\" divides the servers' CPU for both copies' calls by its own: halve it)");
        int mine;
        try
        {
            mine = await RealServers.RunAsync(options);
        }
        catch
        {
            // Not left placing calls (and holding FreeSWITCH channels) on its own.
            child.Kill(entireProcessTree: true);
            throw;
        }
        await child.WaitForExitAsync();
        Console.WriteLine();
        Console.WriteLine($"{other}, at the same time:");
        Console.Write(await output);
        Console.Error.Write(await errors);
        return mine != 0 ? mine : child.ExitCode;
    }
}
