using System.Net.Http.Json;
using System.Text.Json;

namespace Voice.Host.Tests;

/// <summary>The host's configuration files: changes to them still apply while it runs, without a watch on the folders around them.</summary>
public sealed class ConfigurationFileTests
{
    [Test]
    public async Task Calls_written_inside_the_content_root_wake_no_file_watcher_and_a_changed_log_level_still_applies()
    {
        // The default layout (`dotnet run`): the data directory, with the database and the rendered speech, inside the content root.
        using var root = new TemporaryDirectory();
        Directory.CreateDirectory(root.Path);
        var settingsFile = Path.Combine(root.Path, "appsettings.json");
        await File.WriteAllTextAsync(settingsFile, Settings(routing: "Warning"));
        await using var host = await HostProcess.StartAsync(Path.Combine(root.Path, "data"), new Dictionary<string, string?> { ["ASPNETCORE_CONTENTROOT"] = root.Path });

        for (var i = 0; i < 3; i++)
        {
            using var placed = await host.Client.PostAsJsonAsync("/api/outbound-call", new { to = "+15005550000", message = "The disk is full." });
            Assert.That(placed.IsSuccessStatusCode, Is.True, await placed.Content.ReadAsStringAsync());
            var callId = (await placed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString();
            await HostFactory.Eventually(async () => (await host.Client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}")).GetProperty("state").GetString() == "completed",
                "the simulated call completes");
        }

        Assert.That(Directory.EnumerateFiles(Path.Combine(root.Path, "data"), "voicebridge.db*").Count(), Is.GreaterThan(0), "the calls were written inside the content root");
        Assert.That(InotifyWatches(host.Id), Is.Zero,
            "an inotify watch on the content root covers the data directory: every SQLite write and rendered message wakes a thread of the host");

        Assert.That(host.Output, Does.Not.Contain("Executing endpoint"));
        await File.WriteAllTextAsync(settingsFile, Settings(routing: "Information"));
        // The files are polled every 4 s.
        await HostFactory.Eventually(async () =>
        {
            using var _ = await host.Client.GetAsync("/healthz");
            return host.Output.Contains("Executing endpoint", StringComparison.Ordinal);
        }, "the log level changed in appsettings.json applies without a restart", TimeSpan.FromSeconds(30));
    }

    private static string Settings(string routing) => JsonSerializer.Serialize(new
    {
        Logging = new { LogLevel = new Dictionary<string, string> { ["Default"] = "Information", ["Microsoft.AspNetCore"] = "Warning", ["Microsoft.AspNetCore.Routing"] = routing } },
    });

    /// <summary>The inotify watches the process holds, from the kernel's account of its file descriptors.</summary>
    private static int InotifyWatches(int pid) => Directory.EnumerateFiles($"/proc/{pid}/fdinfo")
        .Sum(fd =>
        {
            try
            {
                return File.ReadLines(fd).Count(line => line.StartsWith("inotify wd:", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                return 0; // closed while we read
            }
        });
}
