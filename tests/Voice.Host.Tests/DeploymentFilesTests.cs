using System.Text.Json;
using System.Text.RegularExpressions;

namespace Voice.Host.Tests;

/// <summary>The production files of the README: docker-compose.yml mounts files that exist and sets variables the host reads; the n8n example imports.</summary>
public partial class DeploymentFilesTests
{
    private static string Repository()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "VoiceBridge.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("not inside the repository");
    }

    [GeneratedRegex(@"^\s+- \./(?<file>[^:]+):(?<target>[^:]+)", RegexOptions.Multiline)]
    private static partial Regex Mount();

    [GeneratedRegex(@"^      (?<name>[A-Z_]+): ", RegexOptions.Multiline)]
    private static partial Regex Variable();

    [Test]
    public void Docker_compose_mounts_the_repository_config_files_and_sets_variables_the_host_reads()
    {
        var compose = File.ReadAllText(Path.Combine(Repository(), "docker-compose.yml"));
        var mounts = Mount().Matches(compose).Select(m => (File: m.Groups["file"].Value, Target: m.Groups["target"].Value)).ToList();
        Assert.That(mounts.Select(m => m.File), Is.SupersetOf(new[]
        {
            "drachtio-config/drachtio.conf.xml", "fs-config/autoload_configs/event_socket.conf.xml", "fs-config/autoload_configs/acl.conf.xml",
            "fs-config/sip_profiles/mrf.xml", "fs-config/dialplan/mrf.xml",
        }));
        foreach (var (file, _) in mounts)
        {
            Assert.That(File.Exists(Path.Combine(Repository(), file)), $"{file} is mounted but missing");
        }

        // Every variable given to VoiceBridge is one its configuration reads (a typo would be silently ignored).
        var names = Variable().Matches(compose[compose.IndexOf("  voicebridge:", StringComparison.Ordinal)..]).Select(m => m.Groups["name"].Value).ToList();
        Assert.That(names, Is.SupersetOf(new[] { "DRACHTIO_HOST", "DRACHTIO_SECRET", "FREESWITCH_HOST", "FREESWITCH_SECRET", "SIP_TRUNK_HOST", "API_KEYS" }));
        var read = Regex.Matches(
            string.Concat(Directory.GetFiles(Path.Combine(Repository(), "src", "Voice.Host"), "*.cs", SearchOption.AllDirectories).Select(File.ReadAllText)),
            "\"([A-Z_]{4,})\"").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.That(names.Where(n => !read.Contains(n)), Is.Empty, "variables the host does not read");
    }

    [Test]
    public void The_n8n_example_calls_the_API_with_a_key_and_verifies_the_webhook_signature()
    {
        using var workflow = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository(), "examples", "n8n-server-alert.json")));
        var nodes = workflow.RootElement.GetProperty("nodes").EnumerateArray().ToList();
        var call = nodes.Single(n => n.GetProperty("type").GetString() == "n8n-nodes-base.httpRequest").GetProperty("parameters");
        Assert.That(call.GetProperty("url").GetString(), Does.EndWith("/api/outbound-call"));
        Assert.That(call.GetProperty("headerParameters").GetRawText(), Does.Contain("X-API-Key").And.Contain("Idempotency-Key"));
        Assert.That(call.GetProperty("jsonBody").GetString(), Does.Contain("webhookUrl").And.Contain("message"));
        var verify = nodes.Single(n => n.GetProperty("type").GetString() == "n8n-nodes-base.code").GetProperty("parameters").GetProperty("jsCode").GetString();
        Assert.That(verify, Does.Contain("x-voicebridge-signature").And.Contain("createHmac('sha256'").And.Contain("timingSafeEqual"));
        foreach (var connection in workflow.RootElement.GetProperty("connections").EnumerateObject())
        {
            Assert.That(nodes.Any(n => n.GetProperty("name").GetString() == connection.Name), $"connection from unknown node {connection.Name}");
        }
    }
}
